# SPDX-License-Identifier: GPL-3.0-or-later
"""Key rotation and attachment records across a fleet of three hypervisors (ssh, non-root
user with become), VMs running on two of them.

- attach.yml records each attachment on the volume: a delete from the Ceph admin host
  (which sees no domain) is refused, naming the hypervisor and the domain;
- rotate_key.yml takes its settings from the inventory; it refuses before the cluster
  changes when a hypervisor's libvirt secret cannot take the key (usage name held by
  another secret); it rotates, every host ends with the new key, the old key no longer
  authenticates, the running VMs keep writing to their disks, and a VM started afterwards
  opens its disk with the new key;
- a hypervisor that becomes unreachable after the checks: the run fails clearly, the
  rotation is rolled back (every host opens volumes with the old key), and a re-run completes.
"""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from pathlib import Path

import pytest

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_secrets import value_fingerprint

from .cephstate import create_rbd_pool, delete_pool, domain_with_rbd_disks, usable_domain_type
from .conftest import fleet_exec
from .harness import COLLECTION_ROOT, run_module, run_playbook
from .hypervisor_helpers import auth_get, auth_rm, can_connect

PLAYBOOKS = COLLECTION_ROOT / "playbooks"
MiB = 1 << 20


def on_host(fleet, host: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    return fleet_exec(fleet, host, *cmd, check=check)


def cluster_key(cluster, entity: str) -> str:
    return auth_get(cluster, entity)["key"]


def host_keyring_key(fleet, host: str, user: str) -> str:
    text = on_host(fleet, host, "cat", f"/etc/ceph/ceph.client.{user}.keyring").stdout
    return text.split("key = ", 1)[1].split()[0]


def host_secret_matches(fleet, host: str, secret_uuid: str, key: str) -> bool:
    xml = on_host(fleet, host, "virsh", "secret-dumpxml", secret_uuid).stdout
    return value_fingerprint(secret_uuid, base64.b64decode(key)) in xml


def host_opens_pool(fleet, host: str, user: str, pool: str) -> bool:
    """The host's own ceph.conf and keyring let client.<user> list the pool."""
    return on_host(fleet, host, "timeout", "30", "rbd", "--id", user, "-p", pool, "ls", check=False).returncode == 0


def guest_write(fleet, host: str, domain: str, pattern: int, offset: int) -> None:
    """QEMU writes 64 KiB and flushes through the running domain's open RBD session (qemu-io on
    the device of vdb; qemu-io prints to QEMU's own stdout, so the monitor answers nothing on
    success). The caller reads the data back from the cluster."""
    device = "/machine/peripheral/virtio-disk1/virtio-backend"
    for command in (f"write -P {pattern} {offset} 65536", "flush"):
        out = on_host(fleet, host, "virsh", "qemu-monitor-command", domain, "--hmp",
                      f'qemu-io -d {device} "{command}"').stdout
        assert out.strip() == "", out


def image_bytes(cluster, pool: str, image: str, offset: int, length: int) -> bytes:
    import rbd  # pylint: disable=import-outside-toplevel

    with cluster.open_ioctx(pool) as ioctx, rbd.Image(ioctx, image, read_only=True) as img:
        return img.read(offset, length)


def image_exists(cluster, pool: str, image: str) -> bool:
    import rbd  # pylint: disable=import-outside-toplevel

    with cluster.open_ioctx(pool) as ioctx:
        return image in rbd.RBD().list(ioctx)


def watchers(cluster, pool: str, image: str) -> list[str]:
    import rbd  # pylint: disable=import-outside-toplevel

    with cluster.open_ioctx(pool) as ioctx, rbd.Image(ioctx, image, read_only=True) as img:
        return [w["addr"] for w in img.watchers_list()]


def start_vm(fleet, host: str, name: str, pool: str, image: str, user: str, secret_uuid: str) -> None:
    xml = Path(fleet["TESTENV_DIR"]) / f"{name}.xml"
    xml.write_text(domain_with_rbd_disks(name, [(pool, image)], fleet["TESTENV_MON_ADDR"], user, secret_uuid,
                                         usable_domain_type()))
    xml.chmod(0o644)
    on_host(fleet, host, "virsh", "define", str(xml))
    on_host(fleet, host, "virsh", "start", name)


@pytest.fixture(scope="module")
def platform(fleet, ceph, tmp_path_factory):
    """hypervisors.yml on the fleet for a client of this test; an inventory holding its settings."""
    import rbd  # pylint: disable=import-outside-toplevel

    tag = uuid.uuid4().hex[:6]
    user, pool, secret_uuid = f"rot{tag}", f"rot-{tag}", str(uuid.uuid4())
    create_rbd_pool(ceph, pool)
    with ceph.open_ioctx(pool) as ioctx:
        for image in ("vol-1", "vol-2", "vol-3"):
            rbd.RBD().create(ioctx, image, 16 * MiB, old_format=False, features=1)
    # the inventory: the fleet's hosts, and the platform's settings in group_vars
    inventory = tmp_path_factory.mktemp("inventory")
    (inventory / "hosts.yml").write_text(Path(fleet["TESTENV_INVENTORY"]).read_text())
    (inventory / "group_vars").mkdir()
    (inventory / "group_vars" / "all.yml").write_text(json.dumps({
        "ceph_client_name": user, "ceph_client_pools": [pool], "ceph_libvirt_secret_uuid": secret_uuid,
        "hypervisor_install_packages": False, "volumes_pool": pool,
        # the rotation's own settings, from the inventory (not -e)
        "rotate_key_user": user, "rotate_key_pools": [pool], "rotate_key_secret_uuid": secret_uuid,
    }))
    env = {"CEPH_CONF": fleet["CEPH_CONF"], "CEPH_KEYRING": fleet["CEPH_KEYRING"]}
    setup = run_playbook(PLAYBOOKS / "hypervisors.yml", inventory=inventory, env=env)
    assert setup["_rc"] == 0, setup.stdout[-3000:]
    yield {"user": user, "pool": pool, "uuid": secret_uuid, "inventory": inventory, "env": env,
           "entity": f"client.{user}"}
    for host in ("hv1", "hv2", "hv3"):
        for name in (f"vm1-{tag}", f"vm2-{tag}", f"vm3-{tag}"):
            on_host(fleet, host, "virsh", "destroy", name, check=False)
            on_host(fleet, host, "virsh", "undefine", name, check=False)
        on_host(fleet, host, "virsh", "secret-undefine", secret_uuid, check=False)
        on_host(fleet, host, "rm", "-f", f"/etc/ceph/ceph.client.{user}.keyring", check=False)
    auth_rm(ceph, f"client.{user}")
    delete_pool(ceph, pool)


def rotate(platform, **kwargs):
    return run_playbook(PLAYBOOKS / "rotate_key.yml", inventory=kwargs.pop("inventory", platform["inventory"]),
                        env=platform["env"], **kwargs)


def failure_text(result) -> str:
    return " ".join(str(t.get("msg", "")) for t in result.tasks if t.get("failed"))


def test_rotation_across_the_fleet(fleet, ceph, platform):
    user, pool, secret_uuid, entity = platform["user"], platform["pool"], platform["uuid"], platform["entity"]
    tag = pool.split("-", 1)[1]
    hosts = ("hv1", "hv2", "hv3")
    decoy = auth_get(ceph, "client.libvirt")  # the default user, which this run must not touch

    # --- VMs on hv1 and hv2; a stopped domain on hv1 gets vol-3 through attach.yml, recorded
    # on the volume: the Ceph admin host (no libvirt check) is refused, naming hv1 and the domain
    for k in (1, 2):
        start_vm(fleet, f"hv{k}", f"vm{k}-{tag}", pool, f"vol-{k}", user, secret_uuid)
    stopped = Path(fleet["TESTENV_DIR"]) / f"vmx-{tag}.xml"
    stopped.write_text(domain_with_rbd_disks(f"vmx-{tag}", [], fleet["TESTENV_MON_ADDR"], user, secret_uuid))
    stopped.chmod(0o644)
    on_host(fleet, "hv1", "virsh", "define", str(stopped))
    disk = {"domain": f"vmx-{tag}", "hypervisor": "hv1", "target": "vdc", "image": "vol-3"}
    attach_vars = {"vm_disks": [disk], "target_hypervisors": "hv1"}
    attached = run_playbook(PLAYBOOKS / "attach.yml", inventory=platform["inventory"], env=platform["env"],
                            extra_vars=attach_vars)
    assert attached["_rc"] == 0, attached.stdout[-3000:]
    refused = run_module("rbd_image", {"pool": pool, "name": "vol-3", "state": "absent", "check_libvirt": False},
                         env=platform["env"])
    assert refused.failed and f"attached to domain vmx-{tag} on host hv1" in refused.msg, refused.msg
    assert image_exists(ceph, pool, "vol-3")
    attach_vars["vm_disks"] = [dict(disk, state="absent")]
    detached = run_playbook(PLAYBOOKS / "attach.yml", inventory=platform["inventory"], env=platform["env"],
                            extra_vars=attach_vars)
    assert detached["_rc"] == 0, detached.stdout[-3000:]
    on_host(fleet, "hv1", "virsh", "undefine", f"vmx-{tag}")
    assert run_module("rbd_image", {"pool": pool, "name": "vol-3", "state": "absent", "check_libvirt": False},
                      env=platform["env"], check=True).changed

    for k in (1, 2):
        guest_write(fleet, f"hv{k}", f"vm{k}-{tag}", 0x11, 0)
        assert image_bytes(ceph, pool, f"vol-{k}", 0, 65536) == b"\x11" * 65536
    old_key = cluster_key(ceph, entity)

    # --- issue 18: a usage name held by another secret on hv2 -> refused before the ceph changes
    on_host(fleet, "hv2", "virsh", "secret-undefine", secret_uuid)
    intruder = Path(fleet["TESTENV_DIR"]) / f"intruder-{tag}.xml"
    intruder_uuid = str(uuid.uuid4())
    intruder.write_text(f"<secret ephemeral='no' private='yes'><uuid>{intruder_uuid}</uuid>"
                        f"<usage type='ceph'><name>client.{user} secret</name></usage></secret>")
    intruder.chmod(0o644)
    on_host(fleet, "hv2", "virsh", "secret-define", str(intruder))
    blocked = rotate(platform)
    assert blocked["_rc"] != 0
    assert "hv2" in blocked.stdout and f"client.{user} secret" in failure_text(blocked), failure_text(blocked)
    assert cluster_key(ceph, entity) == old_key
    assert all(host_keyring_key(fleet, h, user) == old_key for h in hosts)
    on_host(fleet, "hv2", "virsh", "secret-undefine", intruder_uuid)
    fixed = run_playbook(PLAYBOOKS / "hypervisors.yml", inventory=platform["inventory"], env=platform["env"],
                         extra_vars={"hypervisors_target": "hv2"})
    assert fixed["_rc"] == 0, fixed.stdout[-3000:]
    assert host_secret_matches(fleet, "hv2", secret_uuid, old_key)

    # --- check mode: the checks run, nothing changes anywhere
    checked = rotate(platform, check=True)
    assert checked["_rc"] == 0, checked.stdout[-3000:]
    assert cluster_key(ceph, entity) == old_key
    assert all(host_keyring_key(fleet, h, user) == old_key for h in hosts)

    # --- the rotation, settings from the inventory (client.libvirt, the default, is left alone)
    rotated = rotate(platform)
    assert rotated["_rc"] == 0, rotated.stdout[-4000:]
    new_key = cluster_key(ceph, entity)
    assert new_key != old_key and auth_get(ceph, "client.libvirt") == decoy
    assert old_key not in rotated.stdout and new_key not in rotated.stdout
    assert not can_connect(fleet["CEPH_CONF"], user, old_key) and can_connect(fleet["CEPH_CONF"], user, new_key)
    for host in hosts:
        assert host_keyring_key(fleet, host, user) == new_key, host
        assert host_secret_matches(fleet, host, secret_uuid, new_key), host
        assert host_opens_pool(fleet, host, user, pool), host
    # the running VMs keep their disks: QEMU still writes through its session, data lands
    for k in (1, 2):
        guest_write(fleet, f"hv{k}", f"vm{k}-{tag}", 0x22, MiB)
        assert image_bytes(ceph, pool, f"vol-{k}", MiB, 65536) == b"\x22" * 65536
        assert image_bytes(ceph, pool, f"vol-{k}", 0, 65536) == b"\x11" * 65536
        assert len(watchers(ceph, pool, f"vol-{k}")) == 1
    # a VM started afterwards opens its disk with the new key (through the secret)
    start_vm(fleet, "hv3", f"vm3-{tag}", pool, "vol-3", user, secret_uuid)
    guest_write(fleet, "hv3", f"vm3-{tag}", 0x33, 0)
    assert image_bytes(ceph, pool, "vol-3", 0, 65536) == b"\x33" * 65536

    # --- hv3 unreachable after the checks: the run fails clearly and rolls back
    unreachable = platform["inventory"].parent / "inventory-hv3-drops"
    unreachable.mkdir()
    (unreachable / "group_vars").symlink_to(platform["inventory"] / "group_vars")
    hosts_yml = (platform["inventory"] / "hosts.yml").read_text()
    hv3_address = hosts_yml.split("hv3:\n          ansible_host: ", 1)[1].split()[0]
    # hv3 answers until the ceph has a new key, then its address leads nowhere
    hosts_yml = hosts_yml.replace(
        f"hv3:\n          ansible_host: {hv3_address}",
        f"hv3:\n          ansible_host: \"{{{{ '127.0.0.254' if hostvars[groups['ceph_admin'][0]]"
        f".__rotate_key_new is defined else '{hv3_address}' }}}}\"")
    (unreachable / "hosts.yml").write_text(hosts_yml)
    before = new_key
    failed = rotate(platform, inventory=unreachable)
    assert failed["_rc"] != 0
    message = failure_text(failed)
    assert "ROLLED BACK: hv3 did not take the new key" in message, failed.stdout[-4000:]
    assert "run the same command again" in message
    assert cluster_key(ceph, entity) == before
    for host in hosts:  # no host is left unable to open volumes
        assert host_keyring_key(fleet, host, user) == before, host
        assert host_secret_matches(fleet, host, secret_uuid, before), host
        assert host_opens_pool(fleet, host, user, pool), host
    for k in (1, 2, 3):
        guest_write(fleet, f"hv{k}", f"vm{k}-{tag}", 0x44, 2 * MiB)
        assert image_bytes(ceph, pool, f"vol-{k}", 2 * MiB, 65536) == b"\x44" * 65536

    # --- hv3 is back: the same command completes
    again = rotate(platform)
    assert again["_rc"] == 0, again.stdout[-4000:]
    final = cluster_key(ceph, entity)
    assert final not in (before, old_key) and not can_connect(fleet["CEPH_CONF"], user, before)
    for host in hosts:
        assert host_keyring_key(fleet, host, user) == final and host_secret_matches(fleet, host, secret_uuid, final)
