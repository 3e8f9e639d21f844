# SPDX-License-Identifier: GPL-3.0-or-later
"""Live migration on the fleet (docs/migration.md): migrate.yml, evacuate.yml, the up-front
refusals and migration_check.yml against what a migration really does.

One module-scoped setup serves every case: a pool, a cephx user, its secret on every host,
and a few VMs with RBD disks started on hv1. Real migrations are few (each 2-4 s); the
refusals are asserted to fire before anything moves (seconds), never by waiting for librbd's
5-minute connect timeout.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from .cephstate import (
    create_rbd_pool,
    create_test_image,
    delete_client_key,
    delete_pool,
    define_ceph_secret,
    domain_with_rbd_disks,
    mon,
    read_image,
    undefine_secret,
    rbd_ioctx,
    rbd_watchers,
    usable_domain_type,
    write_image,
)
from .conftest import TESTENV, _read_env_file, fleet_exec
from .harness import COLLECTION_ROOT, Result, run_module, run_playbook
from .hypervisor_helpers import libvirt_conn
from .test_fleet import changed_tasks, failures, fleet_address

PLAYBOOKS = COLLECTION_ROOT / "playbooks"
HOSTS = ("hv1", "hv2", "hv3")
PATTERN = b"written-before-the-move:" * 100


# --- the fleet's state -----------------------------------------------------------------------

def runs_on(fleet, name: str) -> list[str]:
    """The hosts where the domain runs."""
    return [host for host in HOSTS
            if fleet_exec(fleet, host, "virsh", "domstate", name, check=False).stdout.strip() == "running"]


def defined_on(fleet, name: str) -> list[str]:
    return [host for host in HOSTS
            if fleet_exec(fleet, host, "virsh", "dominfo", name, check=False).returncode == 0]


def persistent_on(fleet, host: str, name: str) -> bool:
    info = fleet_exec(fleet, host, "virsh", "dominfo", name).stdout
    return any(line.split() == ["Persistent:", "yes"] for line in info.splitlines())


def set_secret(fleet, host: str, secret: str, user: str, key: str | None) -> None:
    """Define the private ceph secret on a host (the key through stdin, never argv); None: undefine."""
    fleet_exec(fleet, host, "virsh", "secret-undefine", secret, check=False)
    if key is None:
        return
    xml = (f"<secret ephemeral='no' private='yes'><uuid>{secret}</uuid>"
           f"<usage type='ceph'><name>client.{user} secret</name></usage></secret>")
    fleet_exec(fleet, host, "virsh", "secret-define", "/dev/stdin", stdin=xml)
    fleet_exec(fleet, host, "virsh", "secret-set-value", secret, "--file", "/dev/stdin", stdin=key)


def random_cephx_key() -> str:
    """A well-formed cephx key that no client has (type 1, a creation time, 16 random bytes)."""
    import base64  # pylint: disable=import-outside-toplevel
    import os  # pylint: disable=import-outside-toplevel
    import struct  # pylint: disable=import-outside-toplevel

    return base64.b64encode(struct.pack("<HIIH", 1, int(time.time()), 0, 16) + os.urandom(16)).decode()


def ceph_conf_text(fleet, fsid: str | None = None, mon: str | None = None) -> str:
    return (f"[global]\nfsid = {fsid or fleet['CEPH_FSID']}\n"
            f"mon host = {mon or fleet['CEPH_MON_HOST']}\n")


def write_ceph_conf(fleet, host: str, text: str) -> None:
    fleet_exec(fleet, host, "sh", "-c", "mkdir -p /etc/ceph && cat > /etc/ceph/ceph.conf", stdin=text)


def start_vm(fleet, host: str, name: str, xml: str) -> None:
    fleet_exec(fleet, host, "virsh", "define", "/dev/stdin", stdin=xml)
    started = fleet_exec(fleet, host, "virsh", "start", name, check=False)
    assert started.returncode == 0, started.stderr


def without_monitors(xml: str) -> str:
    """The domain's RBD disks without <host>: QEMU takes the monitors from the host's ceph.conf."""
    root = ET.fromstring(xml)
    for source in root.iter("source"):
        for host in source.findall("host"):
            source.remove(host)
    return ET.tostring(root, encoding="unicode")


def with_file_disk(xml: str, path: str) -> str:
    root = ET.fromstring(xml)
    disk = ET.SubElement(root.find("devices"), "disk", {"type": "file", "device": "disk"})
    ET.SubElement(disk, "driver", {"name": "qemu", "type": "raw"})
    ET.SubElement(disk, "source", {"file": path})
    ET.SubElement(disk, "target", {"dev": "vdz", "bus": "virtio"})
    return ET.tostring(root, encoding="unicode")


def lock_owner_and_watchers(ceph, pool: str, image: str) -> tuple[list[str], list[int]]:
    """(exclusive lock owners' client names, watcher client ids) of an image."""
    import rbd  # pylint: disable=import-outside-toplevel

    with rbd_ioctx(ceph, pool) as ioctx, rbd.Image(ioctx, image, read_only=True) as handle:
        lockers = handle.list_lockers() or {"lockers": []}
        owners = [client for client, _cookie, _addr in lockers["lockers"]]
        watchers = [watcher["id"] for watcher in handle.watchers_list()]
    return owners, watchers


def qemu_write(fleet, host: str, name: str, disk: str, offset: int) -> None:
    """Make the VM's QEMU write to its disk (the guest has no OS): through QEMU's qemu-io."""
    command = f'qemu-io -d /machine/peripheral/virtio-{disk}/virtio-backend "write -P 0x5a {offset} 4k"'
    done = fleet_exec(fleet, host, "virsh", "qemu-monitor-command", name, "--hmp", command, check=False)
    assert done.returncode == 0 and "error" not in done.stdout.lower(), (done.stdout, done.stderr)


# --- running the playbooks ------------------------------------------------------------------

def play(fleet, playbook: str, check: bool = False, **extra: Any) -> Result:
    variables = {"migration_access_timeout": 5, **extra}
    started = time.monotonic()
    result = run_playbook(PLAYBOOKS / playbook, inventory=fleet["TESTENV_INVENTORY"], extra_vars=variables,
                          check=check, diff=False, timeout=600)
    result.data["_seconds"] = time.monotonic() - started
    return result


def outcomes(result: Result) -> list[dict[str, Any]]:
    """migrate_outcomes as the playbook noted them (the last set_fact of each)."""
    payload = json.loads(result.stdout[result.stdout.find("{"):])
    found: list[dict[str, Any]] = []
    for play_ in payload["plays"]:
        for task in play_["tasks"]:
            for res in task["hosts"].values():
                facts = res.get("ansible_facts", {})
                if "migrate_outcomes" in facts:
                    found = facts["migrate_outcomes"]
    return found


def refused(fleet, result: Result, vm: str, source: str, *texts: str) -> str:
    """The playbook failed, in seconds, naming the texts; the VM still runs on the source."""
    assert result["_rc"] != 0, result.stdout[-2000:]
    message = " ".join(failures(result))
    for text in texts:
        assert text in message, (text, message)
    assert result["_seconds"] < 60, result["_seconds"]
    assert runs_on(fleet, vm) == [source]
    return message


# --- the setup shared by every case ------------------------------------------------------------

@pytest.fixture(scope="module")
def mig(fleet, ceph):
    tag = uuid.uuid4().hex[:6]
    names: dict[str, Any] = {
        "tag": tag, "pool": f"mig-{tag}", "user": f"mig{tag}", "secret": str(uuid.uuid4()),
        "vm": f"t-mig-{tag}", "vm2": f"t-mig2-{tag}", "nolock": f"t-miglock-{tag}", "local": f"t-miglocal-{tag}",
        "confvm": f"t-migconf-{tag}",
    }
    create_rbd_pool(ceph, names["pool"])
    # The caps the collection gives a hypervisor client (what migration_check.yml expects).
    mon(ceph, "auth get-or-create", entity=f"client.{names['user']}",
        caps=["mon", "profile rbd", "osd", f"profile rbd pool={names['pool']}", "mgr", f"profile rbd pool={names['pool']}"])
    key = mon(ceph, "auth get-key", entity=f"client.{names['user']}")["key"]
    names["key"] = key
    for host in HOSTS:
        set_secret(fleet, host, names["secret"], names["user"], key)
        write_ceph_conf(fleet, host, ceph_conf_text(fleet))
    for image in ("vol-a", "vol-b", "vol-conf"):
        create_test_image(ceph, names["pool"], image, 16 * 1024 * 1024)
    create_test_image(ceph, names["pool"], "vol-nolock", 16 * 1024 * 1024, features=1)
    write_image(ceph, names["pool"], "vol-a", PATTERN)
    domain_type = usable_domain_type()

    def xml(name: str, image: str) -> str:
        return domain_with_rbd_disks(name, [(names["pool"], image)], fleet["TESTENV_MON_ADDR"], names["user"],
                                     names["secret"], domain_type)

    names["xml"] = xml
    names["local_file"] = path = f"/var/lib/libvirt/images/{tag}.raw"
    fleet_exec(fleet, "hv1", "sh", "-c", f"truncate -s 1M {path} && chown libvirt-qemu {path}")
    start_vm(fleet, "hv1", names["vm"], xml(names["vm"], "vol-a"))
    yield names
    for host in HOSTS:
        for name in (names["vm"], names["vm2"], names["nolock"], names["local"], names["confvm"]):
            fleet_exec(fleet, host, "virsh", "destroy", name, check=False)
            fleet_exec(fleet, host, "virsh", "undefine", name, check=False)
        fleet_exec(fleet, host, "virsh", "secret-undefine", names["secret"], check=False)
        fleet_exec(fleet, host, "rm", "-f", "/etc/ceph/ceph.conf", f"/etc/ceph/ceph.client.{names['user']}.keyring",
                   f"/var/lib/libvirt/images/{tag}.raw", check=False)
    delete_client_key(ceph, f"client.{names['user']}")
    delete_pool(ceph, names["pool"])


# --- the cases ----------------------------------------------------------------------------------

def test_migrate_moves_a_vm_live_and_back_with_its_data_one_watcher_and_the_lock(fleet, ceph, mig):
    vm, pool = mig["vm"], mig["pool"]
    assert runs_on(fleet, vm) == ["hv1"]

    check = play(fleet, "migrate.yml", check=True, vm=vm, target="hv2")
    assert check["_rc"] == 0, failures(check) or check.stdout[-2000:]
    assert ("hv1", f"Plan the move on the source (check mode, refusals) of {vm}") in changed_tasks(check)
    assert runs_on(fleet, vm) == ["hv1"]  # check mode moved nothing

    moved = play(fleet, "migrate.yml", vm=vm, target="hv2")
    assert moved["_rc"] == 0, failures(moved) or moved.stdout[-3000:]
    [outcome] = outcomes(moved)
    assert outcome["moved"] and outcome["changed"] and outcome["source"] == "hv1" and outcome["target"] == "hv2"
    assert 0 < outcome["duration"] < 60
    assert runs_on(fleet, vm) == ["hv2"] and defined_on(fleet, vm) == ["hv2"]
    assert persistent_on(fleet, "hv2", vm)
    assert len(rbd_watchers(ceph, pool, "vol-a")) == 1
    # The target's QEMU writes (through qemu-io: the guest has no OS) and so takes the lock.
    qemu_write(fleet, "hv2", vm, "disk1", 1024 * 1024)
    owners, watchers = lock_owner_and_watchers(ceph, pool, "vol-a")
    assert len(watchers) == 1 and owners == [f"client.{watchers[0]}"], (owners, watchers)
    assert read_image(ceph, pool, "vol-a", len(PATTERN)) == PATTERN
    assert read_image(ceph, pool, "vol-a", 4096, 1024 * 1024) == b"\x5a" * 4096

    for check_mode in (True, False):  # already there: ok, nothing changes
        again = play(fleet, "migrate.yml", check=check_mode, vm=vm, target="hv2")
        assert again["_rc"] == 0 and changed_tasks(again) == set(), failures(again)
        assert outcomes(again) == []
    assert runs_on(fleet, vm) == ["hv2"]

    back = play(fleet, "migrate.yml", vm=vm, target="hv1")
    assert back["_rc"] == 0, failures(back)
    assert runs_on(fleet, vm) == ["hv1"] and defined_on(fleet, vm) == ["hv1"]
    assert len(rbd_watchers(ceph, pool, "vol-a")) == 1
    assert read_image(ceph, pool, "vol-a", len(PATTERN)) == PATTERN
    assert read_image(ceph, pool, "vol-a", 4096, 1024 * 1024) == b"\x5a" * 4096


def test_bad_targets_and_vms_are_refused_up_front_naming_host_vm_and_disk(fleet, ceph, mig):
    vm, pool, secret = mig["vm"], mig["pool"], mig["secret"]
    assert runs_on(fleet, vm) == ["hv1"]
    try:
        # The secret is missing on the target.
        set_secret(fleet, "hv3", secret, mig["user"], None)
        refused(fleet, play(fleet, "migrate.yml", vm=vm, target="hv3"), vm, "hv1",
                f"VM '{vm}'", "hv3", f"vdb ({pool}/vol-a)", secret)
        # Another value, set behind the collection's back (the fingerprint cannot see it).
        set_secret(fleet, "hv3", secret, mig["user"], mig["key"])
        fleet_exec(fleet, "hv3", "virsh", "secret-set-value", secret, "--file", "/dev/stdin",
                   stdin=random_cephx_key())
        refused(fleet, play(fleet, "migrate.yml", vm=vm, target="hv3"), vm, "hv1",
                f"hv3: VM '{vm}' disk vdb ({pool}/vol-a)", f"client.{mig['user']}",
                f"check that libvirt secret {secret} holds the current key")
        set_secret(fleet, "hv3", secret, mig["user"], mig["key"])
        # The target's ceph.conf reaches no cluster, for a VM whose disks take their monitors from it.
        start_vm(fleet, "hv1", mig["confvm"], without_monitors(mig["xml"](mig["confvm"], "vol-conf")))
        write_ceph_conf(fleet, "hv3", ceph_conf_text(fleet, mon="127.0.0.1:9"))
        refused(fleet, play(fleet, "migrate.yml", vm=mig["confvm"], target="hv3"), mig["confvm"], "hv1",
                f"hv3: VM '{mig['confvm']}' disk vdb ({pool}/vol-conf)", "cannot reach the Ceph monitors (127.0.0.1:9)")
    finally:
        set_secret(fleet, "hv3", secret, mig["user"], mig["key"])
        write_ceph_conf(fleet, "hv3", ceph_conf_text(fleet))
        fleet_exec(fleet, "hv1", "virsh", "destroy", mig["confvm"], check=False)
        fleet_exec(fleet, "hv1", "virsh", "undefine", mig["confvm"], check=False)
    assert len(rbd_watchers(ceph, pool, "vol-a")) == 1


def test_images_without_exclusive_lock_and_local_disks_are_refused(fleet, ceph, mig):
    pool = mig["pool"]
    start_vm(fleet, "hv1", mig["nolock"], mig["xml"](mig["nolock"], "vol-nolock"))
    message = refused(fleet, play(fleet, "migrate.yml", vm=mig["nolock"], target="hv2"), mig["nolock"], "hv1",
                      f"hv2: VM '{mig['nolock']}' disk vdb ({pool}/vol-nolock)", "exclusive-lock")
    assert "rbd feature enable" in message
    path = mig["local_file"]
    start_vm(fleet, "hv1", mig["local"], with_file_disk(mig["xml"](mig["local"], "vol-b"), path))
    refused(fleet, play(fleet, "migrate.yml", vm=mig["local"], target="hv2"), mig["local"], "hv1",
            f"VM '{mig['local']}' from hv1", f"disk vdz is file {path}", "not on shared storage")
    for name in (mig["nolock"], mig["local"]):
        fleet_exec(fleet, "hv1", "virsh", "destroy", name)
        fleet_exec(fleet, "hv1", "virsh", "undefine", name)


def test_evacuate_moves_every_vm_off_a_host_reports_what_cannot_move_and_a_second_run_does_nothing(fleet, ceph, mig):
    vm, vm2, local = mig["vm"], mig["vm2"], mig["local"]
    assert runs_on(fleet, vm) == ["hv1"]
    start_vm(fleet, "hv1", vm2, mig["xml"](vm2, "vol-b"))
    path = mig["local_file"]
    start_vm(fleet, "hv1", local, with_file_disk(mig["xml"](local, "vol-conf"), path))

    check = play(fleet, "evacuate.yml", check=True, host="hv1", evacuate_parallel=2)
    assert check["_rc"] != 0  # the VM with a local disk cannot move
    predicted = {o["vm"]: (o["target"], o["moved"]) for o in outcomes(check)}
    assert predicted == {vm: ("hv2", True), vm2: ("hv3", True), local: ("hv2", False)}
    assert sorted(runs_on(fleet, name)[0] for name in (vm, vm2, local)) == ["hv1"] * 3

    # Sorted by name, round robin: vm -> hv2, vm2 -> hv3 (both at once), local -> hv2 (refused).
    evacuated = play(fleet, "evacuate.yml", host="hv1", evacuate_parallel=2)
    assert evacuated["_rc"] != 0
    moved = {o["vm"]: o for o in outcomes(evacuated)}
    assert moved[vm]["moved"] and moved[vm2]["moved"] and not moved[local]["moved"], moved
    assert "not on shared storage" in moved[local]["reason"] and f"{path}" in moved[local]["reason"]
    assert runs_on(fleet, vm) == ["hv2"] and runs_on(fleet, vm2) == ["hv3"] and runs_on(fleet, local) == ["hv1"]
    assert defined_on(fleet, vm) == ["hv2"] and defined_on(fleet, vm2) == ["hv3"]
    report = " ".join(str(task.get("msg")) for task in evacuated.tasks if task.get("_task") == "Report what moved where")
    assert f"{vm}: moved from hv1 to hv2" in report and f"{local}: NOT MOVED (stays on hv1)" in report, report
    for image in ("vol-a", "vol-b"):
        assert len(rbd_watchers(ceph, mig["pool"], image)) == 1
    assert read_image(ceph, mig["pool"], "vol-a", len(PATTERN)) == PATTERN

    fleet_exec(fleet, "hv1", "virsh", "destroy", local)
    fleet_exec(fleet, "hv1", "virsh", "undefine", local)
    for check_mode in (True, False):
        again = play(fleet, "evacuate.yml", check=check_mode, host="hv1", evacuate_parallel=2)
        assert again["_rc"] == 0 and changed_tasks(again) == set(), failures(again)
        assert outcomes(again) == []
    fleet_exec(fleet, "hv3", "virsh", "destroy", vm2)


# --- migration_check.yml against reality ---------------------------------------------------------

def check_vars(mig, source: str, target: str, domain: str | None = None) -> dict[str, Any]:
    return {"migration_domain": domain or mig["vm"], "migration_source": source, "migration_targets": target,
            "ceph_client_name": mig["user"], "ceph_client_pools": [mig["pool"]],
            "ceph_libvirt_secret_uuid": mig["secret"], "migration_access_timeout": 5}


def migration_check(fleet, mig, source: str, target: str, domain: str | None = None) -> tuple[int, dict, str]:
    result = play(fleet, "migration_check.yml", **check_vars(mig, source, target, domain))
    assembled = [t for t in result.tasks if t["_task"] == "Assemble the report"]
    assert assembled, failures(result) or result.stdout[-2000:]
    report = assembled[0]["ansible_facts"]["migration_report"]
    rows = {(row["check"], row["host"]): row for row in report}
    return result["_rc"], rows, " ".join(failures(result))


def broken(rows: dict) -> dict:
    return {key: row for key, row in rows.items() if not row["ok"]}


def apply_hypervisors_remedy(fleet, mig, host: str) -> None:
    """The remedy the check prints for a secret: playbooks/hypervisors.yml --limit HOST."""
    applied = play(fleet, "hypervisors.yml", ceph_client_name=mig["user"], ceph_client_pools=[mig["pool"]],
                   ceph_libvirt_secret_uuid=mig["secret"], hypervisor_install_packages=False,
                   hypervisors_target=host)
    assert applied["_rc"] == 0, failures(applied) or applied.stdout[-2000:]


def test_migration_check_agrees_with_what_a_migration_does_and_its_remedies_work(fleet, ceph, mig):
    vm, pool, secret, user = mig["vm"], mig["pool"], mig["secret"], mig["user"]
    [source] = runs_on(fleet, vm)
    target = "hv3" if source != "hv3" else "hv1"
    access = ("QEMU opens the domain's disks", target)
    rc, rows, _message = migration_check(fleet, mig, source, target)
    assert rc == 0 and broken(rows) == {}, rows
    assert rows[access]["detail"].startswith("opens vdb in cluster " + fleet["CEPH_FSID"])

    def break_and_remedy(breakage, *texts: str, migrate: bool = True) -> None:
        breakage()
        rc, rows, message = migration_check(fleet, mig, source, target)
        assert rc != 0 and set(broken(rows)) == {access}, rows
        for text in texts:
            assert text in rows[access]["detail"], (text, rows[access]["detail"])
        remedy = rows[access]["remedy"]
        assert f"playbooks/hypervisors.yml --limit {target}" in remedy and remedy in message
        if migrate:  # What the migration then does: refused before anything moves.
            refused(fleet, play(fleet, "migrate.yml", vm=vm, target=target), vm, source, f"VM '{vm}'", target, secret)
        apply_hypervisors_remedy(fleet, mig, target)
        rc, rows, _message = migration_check(fleet, mig, source, target)
        assert rc == 0 and broken(rows) == {}, rows

    # A value set behind the collection's back: the fingerprint in the description still matches.
    break_and_remedy(lambda: fleet_exec(fleet, target, "virsh", "secret-set-value", secret, "--file", "/dev/stdin",
                                        stdin=random_cephx_key()),
                     f"holds the current key of client.{user}")
    # The secret is missing, or defined under another UUID.
    # (migrate.yml's refusal of a missing secret: test_bad_targets_and_vms_are_refused_up_front...)
    break_and_remedy(lambda: set_secret(fleet, target, secret, user, None), f"libvirt secret {secret} is not defined",
                     migrate=False)
    other = str(uuid.uuid4())

    def other_uuid() -> None:
        set_secret(fleet, target, secret, user, None)
        fleet_exec(fleet, target, "virsh", "secret-define", "/dev/stdin",
                   stdin=f"<secret ephemeral='no' private='yes'><uuid>{other}</uuid>"
                         f"<usage type='ceph'><name>client.{user} other</name></usage></secret>")
    break_and_remedy(other_uuid, f"libvirt secret {secret} is not defined")
    fleet_exec(fleet, target, "virsh", "secret-undefine", other)

    # An image without exclusive-lock: the check says so, the move is refused; the remedy it
    # prints (rbd feature enable) works on the running VM, then the VM moves.
    nolock = mig["nolock"]
    start_vm(fleet, source, nolock, mig["xml"](nolock, "vol-nolock"))
    rc, rows, message = migration_check(fleet, mig, source, target, domain=nolock)
    lock_row = (f"exclusive-lock on vdb ({pool}/vol-nolock)", "cluster")
    # The cluster's row, and each host's (its QEMU would open an image without the lock).
    assert rc != 0 and set(broken(rows)) == {lock_row, access, (access[0], source)}, rows
    assert f"rbd feature enable {pool}/vol-nolock exclusive-lock" == rows[lock_row]["remedy"]
    refused(fleet, play(fleet, "migrate.yml", vm=nolock, target=target), nolock, source, "exclusive-lock")
    import rbd  # pylint: disable=import-outside-toplevel

    with rbd_ioctx(ceph, pool) as ioctx, rbd.Image(ioctx, "vol-nolock") as image:
        image.update_features(rbd.RBD_FEATURE_EXCLUSIVE_LOCK, True)
    rc, rows, _message = migration_check(fleet, mig, source, target, domain=nolock)
    assert rc == 0 and broken(rows) == {}, rows
    moved = play(fleet, "migrate.yml", vm=nolock, target=target)
    assert moved["_rc"] == 0 and runs_on(fleet, nolock) == [target], failures(moved)

    # Not breakages, and the check does not call them so: no keyring on the target (QEMU takes
    # the key from the secret) and another fsid written in its ceph.conf (librados does not
    # compare it): the check passes and the VM moves.
    fleet_exec(fleet, target, "rm", "-f", f"/etc/ceph/ceph.client.{user}.keyring")
    write_ceph_conf(fleet, target, ceph_conf_text(fleet, fsid=str(uuid.uuid4())))
    rc, rows, _message = migration_check(fleet, mig, source, target)
    assert rc == 0 and broken(rows) == {}, rows
    moved = play(fleet, "migrate.yml", vm=vm, target=target)
    assert moved["_rc"] == 0 and runs_on(fleet, vm) == [target], failures(moved)
    assert len(rbd_watchers(ceph, pool, "vol-a")) == 1
    assert read_image(ceph, pool, "vol-a", len(PATTERN)) == PATTERN


# --- the modules alone, from the controller -------------------------------------------------------

@pytest.fixture
def fleet_ssh(fleet, tmp_path):
    """PATH with an ``ssh`` that reaches the fleet's hosts as root with the fleet's key and known
    hosts, the way libvirt's qemu+ssh transport runs it (nothing written to ~/.ssh)."""
    import os  # pylint: disable=import-outside-toplevel

    wrapper = tmp_path / "ssh"
    wrapper.write_text(f"#!/bin/sh\nexec /usr/bin/ssh -i {fleet['TESTENV_FLEET_KEY']} -o IdentitiesOnly=yes "
                       f"-o UserKnownHostsFile={fleet['TESTENV_FLEET_KNOWN_HOSTS']} -o StrictHostKeyChecking=yes "
                       '-o BatchMode=yes "$@"\n')
    wrapper.chmod(0o755)
    return {"PATH": f"{tmp_path}:{os.environ.get('PATH', '/usr/bin:/bin')}"}


def test_the_modules_alone_plan_refuse_and_check_access(fleet, ceph, mig, fleet_ssh):
    vm = mig["vm"]
    [source] = runs_on(fleet, vm)
    target = "hv1" if source != "hv1" else "hv2"

    def uri(host: str) -> str:
        return f"qemu+ssh://root@{fleet_address(fleet, host)}/system"

    planned = run_module("libvirt_domain_migrate", {"domain": vm, "uri": uri(source), "target_uri": uri(target)},
                         check=True, env=fleet_ssh)
    assert not planned.failed and planned.changed, planned.msg
    assert (planned["source"], planned["target"], planned["duration"]) == (source, target, 0.0)
    assert [(d["target"], d["pool"], d["image"]) for d in planned["disks"]] == [("vdb", mig["pool"], "vol-a")]
    assert runs_on(fleet, vm) == [source]
    same = run_module("libvirt_domain_migrate", {"domain": vm, "uri": uri(source), "target_uri": uri(source)},
                      env=fleet_ssh)
    assert same.failed and "choose another target" in same.msg
    nowhere = run_module("libvirt_domain_migrate", {"domain": "t-no-such-vm", "uri": uri(source),
                                                    "target_uri": uri(target)}, env=fleet_ssh)
    assert nowhere.failed and f"'t-no-such-vm' runs neither on {source} nor on {target}" in nowhere.msg

    # The access check on the controller's own libvirtd, with the secret defined there.
    conn = libvirt_conn()
    define_ceph_secret(conn, mig["secret"], f"client.{mig['user']} secret", mig["key"])
    try:
        opened = run_module("libvirt_rbd_access_check", {"domain": vm, "disks": planned["disks"],
                                                         "fsid": fleet["CEPH_FSID"], "timeout": 5})
        assert not opened.failed and opened["problems"] == [] and opened["fsid"] == fleet["CEPH_FSID"], opened.msg
        assert "exclusive-lock" in opened["disks"][0]["features"]
        assert mig["key"] not in json.dumps(opened.data)
        missing = run_module("libvirt_rbd_access_check", {"domain": vm, "timeout": 5,
                                                          "disks": [dict(planned["disks"][0], image="t-missing")]})
        assert missing.failed and f"disk vdb ({mig['pool']}/t-missing): the image does not exist" in missing.msg
    finally:
        undefine_secret(conn, mig["secret"])
        conn.close()


# --- a target on another cluster -------------------------------------------------------------------

@pytest.fixture
def other_cluster(tmp_path_factory):
    """A second, independent Ceph cluster (one monitor, one OSD) on loopback: its variables."""
    directory = tmp_path_factory.mktemp("other-cluster")
    subprocess.run([str(TESTENV), "up", str(directory), "--osds", "1"], check=True, capture_output=True, timeout=300)
    try:
        yield _read_env_file(directory / "env")
    finally:
        subprocess.run([str(TESTENV), "down", str(directory)], check=False, capture_output=True, timeout=300)


def import_user(cluster_env: dict[str, str], user: str, key: str) -> None:
    """Give the cluster the cephx user with this key (as when keys are copied between clusters);
    the keyring goes on stdin, never on a command line."""
    keyring = f'[client.{user}]\n\tkey = {key}\n\tcaps mon = "profile rbd"\n\tcaps osd = "profile rbd"\n'
    subprocess.run(["ceph", "--conf", cluster_env["CEPH_CONF"], "--keyring", cluster_env["CEPH_KEYRING"],
                    "auth", "import", "-i", "-"], input=keyring, text=True, check=True, capture_output=True,
                   timeout=60)


def test_a_target_on_another_cluster_is_refused_as_a_forced_migration_fails(fleet, ceph, mig, other_cluster,
                                                                            fleet_ssh):
    """The target's ceph.conf names a truly different cluster (its own fsid and monitors), for a VM
    whose disks take their monitors from ceph.conf, and that cluster knows the VM's cephx user with
    the same key (keys copied between clusters): the target connects, to the wrong cluster.
    migrate.yml refuses the move naming both fsids. A migration forced past the pre-flight (the
    module alone) fails as the verdict says: the VM keeps running on its source, defined nowhere
    else, its image open by it alone. (A cluster that does not know the user refuses the key:
    the wrong-key case of test_bad_targets_and_vms_are_refused_up_front...)"""
    vm, pool, user = mig["confvm"], mig["pool"], mig["user"]
    other_fsid = other_cluster["CEPH_FSID"]
    assert other_fsid != fleet["CEPH_FSID"]
    start_vm(fleet, "hv1", vm, without_monitors(mig["xml"](vm, "vol-conf")))
    try:
        write_ceph_conf(fleet, "hv3", ceph_conf_text(fleet, fsid=other_fsid, mon=other_cluster["CEPH_MON_HOST"]))
        import_user(other_cluster, user, mig["key"])
        refused(fleet, play(fleet, "migrate.yml", vm=vm, target="hv3"), vm, "hv1",
                f"hv3: VM '{vm}': client.{user} reaches the cluster {other_fsid}, not {fleet['CEPH_FSID']}",
                "point hv3's ceph.conf")
        target_uri = f"qemu+ssh://root@{fleet_address(fleet, 'hv3')}/system"
        forced = run_module("libvirt_domain_migrate", {"domain": vm, "target_uri": target_uri,
                                                       "uri": f"qemu+ssh://root@{fleet_address(fleet, 'hv1')}/system"},
                            env=fleet_ssh)
        assert forced.failed and not forced.changed, forced.data
        assert runs_on(fleet, vm) == ["hv1"] and defined_on(fleet, vm) == ["hv1"], forced.msg
        assert len(rbd_watchers(ceph, pool, "vol-conf")) == 1
        print(f"forced migration to another cluster: {forced.msg}")
    finally:
        write_ceph_conf(fleet, "hv3", ceph_conf_text(fleet))
        for host in HOSTS:
            fleet_exec(fleet, host, "virsh", "destroy", vm, check=False)
            fleet_exec(fleet, host, "virsh", "undefine", vm, check=False)
