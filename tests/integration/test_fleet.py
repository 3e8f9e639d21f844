# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet: site.yml over ssh, as a non-root user with become, on every hypervisor of the
session's fleet (``testenv up DIR --hypervisors 3``); each host is checked from the inside
(its own /etc/ceph, its own libvirtd) and a VM on each host opens its RBD volume."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from .cephstate import (
    delete_client_key,
    delete_pool,
    domain_with_rbd_disks,
    rbd_watchers,
    small_domain_xml,
    usable_domain_type,
)
from .conftest import fleet_exec
from .harness import COLLECTION_ROOT, Result, run_playbook
from .hypervisor_helpers import auth_get

PLAYBOOKS = COLLECTION_ROOT / "playbooks"


def fleet_hosts(fleet: dict[str, str]) -> list[str]:
    return [f"hv{k}" for k in range(1, int(fleet["TESTENV_HYPERVISORS"]) + 1)]


def fleet_address(fleet: dict[str, str], host: str) -> str:
    inventory = yaml.safe_load(Path(fleet["TESTENV_INVENTORY"]).read_text())
    return inventory["all"]["children"]["hypervisors"]["hosts"][host]["ansible_host"]


def ssh_as_operator(fleet: dict[str, str], host: str, command: str) -> subprocess.CompletedProcess:
    """ssh to a host the way Ansible does: the fleet's user, its key, its known_hosts."""
    return subprocess.run(
        ["ssh", "-i", fleet["TESTENV_FLEET_KEY"], "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
         "-o", f"UserKnownHostsFile={fleet['TESTENV_FLEET_KNOWN_HOSTS']}", "-o", "StrictHostKeyChecking=yes",
         f"{fleet['TESTENV_FLEET_USER']}@{fleet_address(fleet, host)}", command],
        capture_output=True, text=True, check=False, timeout=60)


def changed_tasks(result: Result) -> set[tuple[str, str]]:
    """(host, task name) of every task that reported a change, from the JSON callback."""
    payload = json.loads(result.stdout[result.stdout.find("{"):])
    changed = set()
    for play in payload["plays"]:
        for task in play["tasks"]:
            for host, res in task["hosts"].items():
                if res.get("changed"):
                    changed.add((host, task["task"]["name"]))
    return changed


def failures(result: Result) -> list[str]:
    payload = json.loads(result.stdout[result.stdout.find("{"):])
    return [f"{host} {task['task']['name']}: {res.get('msg')} "
            f"{[item.get('msg') for item in res.get('results', []) if item.get('failed')]}"
            for play in payload["plays"] for task in play["tasks"]
            for host, res in task["hosts"].items() if res.get("failed") or res.get("unreachable")]


def host_uuid(fleet, host: str) -> str:
    capabilities = fleet_exec(fleet, host, "virsh", "capabilities").stdout
    return re.search(r"<host>\s*<uuid>([^<]+)</uuid>", capabilities).group(1)


def test_each_host_has_its_own_name_processes_libvirtd_and_is_reached_over_ssh_with_sudo(fleet):
    hosts = fleet_hosts(fleet)
    assert len(hosts) >= 2
    for host in hosts:
        assert fleet_exec(fleet, host, "hostname").stdout.strip() == host
        processes = fleet_exec(fleet, host, "ps", "-e", "-o", "pid=,comm=").stdout.split("\n")
        commands = {line.split()[1] for line in processes if line.strip()}
        # Its own PID namespace: only its own daemons (and the ps itself), PID 1 its first process.
        assert commands <= {"bash", "virtlogd", "libvirtd", "sshd", "sleep", "ps", "qemu-system-x86"}, commands
        assert any(line.split() == ["1", "bash"] for line in processes)
        whoami = ssh_as_operator(fleet, host, "id -un; sudo -n id -u; hostname")
        assert whoami.returncode == 0, whoami.stderr
        assert whoami.stdout.split() == [fleet["TESTENV_FLEET_USER"], "0", host]
    assert len({host_uuid(fleet, host) for host in hosts}) == len(hosts)
    # The hosts reach each other's libvirtd over ssh, and a VM moves live from one to another.
    remote = fleet_exec(fleet, hosts[0], "virsh", "-c", f"qemu+ssh://{hosts[1]}/system", "hostname")
    assert remote.stdout.strip() == hosts[1]
    domain = f"t-fleet-migrate-{uuid.uuid4().hex[:6]}"
    fleet_exec(fleet, hosts[0], "virsh", "create", "/dev/stdin", stdin=small_domain_xml(domain, "qemu"))
    try:
        moved = fleet_exec(fleet, hosts[0], "virsh", "migrate", "--live", "--persistent", "--undefinesource",
                           domain, f"qemu+ssh://{hosts[1]}/system", check=False)
        assert moved.returncode == 0, moved.stderr
        assert fleet_exec(fleet, hosts[1], "virsh", "domstate", domain).stdout.strip() == "running"
        assert fleet_exec(fleet, hosts[0], "virsh", "domstate", domain, check=False).returncode != 0
    finally:
        for host in hosts[:2]:
            fleet_exec(fleet, host, "virsh", "destroy", domain, check=False)
            fleet_exec(fleet, host, "virsh", "undefine", domain, check=False)


@pytest.fixture
def site_setup(fleet, ceph, tmp_path):
    """Names for one site.yml run on the fleet, a stopped domain on each host to attach a
    volume to, and the clean-up of everything the run makes (hosts included)."""
    tag = uuid.uuid4().hex[:6]
    hosts = fleet_hosts(fleet)
    names = {
        "tag": tag, "hosts": hosts, "user": f"fleet{tag}", "secret": str(uuid.uuid4()),
        "volumes_pool": f"fleet-vols-{tag}", "images_pool": f"fleet-images-{tag}",
        "domains": {host: f"t-fleet-{tag}-{host}" for host in hosts},
    }
    domain_type = usable_domain_type()
    for host, domain in names["domains"].items():
        xml = domain_with_rbd_disks(domain, [], fleet["TESTENV_MON_ADDR"], names["user"], names["secret"],
                                    domain_type)
        fleet_exec(fleet, host, "virsh", "define", "/dev/stdin", stdin=xml)
    yield names
    for host, domain in names["domains"].items():
        fleet_exec(fleet, host, "virsh", "destroy", domain, check=False)
        fleet_exec(fleet, host, "virsh", "undefine", domain, check=False)
        fleet_exec(fleet, host, "virsh", "secret-undefine", names["secret"], check=False)
        fleet_exec(fleet, host, "rm", "-f", "/etc/ceph/ceph.conf",
                   f"/etc/ceph/ceph.client.{names['user']}.keyring", check=False)
    delete_client_key(ceph, f"client.{names['user']}")
    delete_pool(ceph, names["volumes_pool"])
    delete_pool(ceph, names["images_pool"])


def site_vars(names: dict[str, Any]) -> dict[str, Any]:
    hosts = names["hosts"]
    return {
        "ceph_client_name": names["user"],
        "ceph_client_pools": [names["volumes_pool"], names["images_pool"]],
        "ceph_libvirt_secret_uuid": names["secret"],
        "ceph_pools": [{"name": names["volumes_pool"], "pg_num": 8}, {"name": names["images_pool"], "pg_num": 8}],
        "golden_pool": names["images_pool"], "golden_base_image": "base", "golden_base_size": "64M",
        "volumes_pool": names["volumes_pool"],
        # vol-hv1 ... plain volumes, the last one a clone of the golden image (another pool).
        "volumes": [{"name": f"vol-{host}", "size": "64M"} for host in hosts[:-1]]
        + [{"name": f"vol-{hosts[-1]}", "size": "128M",
            "clone_from": f"{names['images_pool']}/base@protected-for-cloning"}],
        "vm_disks": [{"domain": names["domains"][host], "hypervisor": host, "target": "vdb",
                      "image": f"vol-{host}"} for host in hosts],
    }


# In check mode before the first run the images' pools do not exist yet: these tasks stand
# for the ones the real run then changes.
PREDICTED = {
    "Predict the provisioning (check mode, no base image yet)": [
        "Ensure the base image exists (imported from golden_source when given)",
        "Snapshot the base image as the version and protect it for cloning"],
    "Predict the volumes (check mode, the pool does not exist yet)": ["Converge the volumes in one batch"],
    "Predict the disks (check mode, the secret is defined earlier in this run)": ["Attach or detach each disk"],
}


def predicted_changes(check: Result) -> set[tuple[str, str]]:
    changes = set()
    for host, task in changed_tasks(check):
        changes |= {(host, name) for name in PREDICTED.get(task, [task])}
    return changes


def test_site_over_ssh_with_become_converges_and_a_vm_on_every_host_opens_its_volume(fleet, ceph, site_setup):
    names, hosts = site_setup, site_setup["hosts"]
    variables = site_vars(names)
    inventory = fleet["TESTENV_INVENTORY"]

    keyring = f"/etc/ceph/ceph.client.{names['user']}.keyring"
    before = {host: fleet_exec(fleet, host, "ls", "-l", "--time-style=full-iso", "/etc/ceph").stdout
              for host in hosts}
    check = run_playbook(PLAYBOOKS / "site.yml", inventory=inventory, extra_vars=variables, check=True)
    assert check["_rc"] == 0, failures(check) or check.stdout[-3000:]
    # Check mode made nothing: no client, no file, no secret, no pool.
    assert auth_get(ceph, f"client.{names['user']}") is None
    assert names["volumes_pool"] not in ceph.list_pools() and names["images_pool"] not in ceph.list_pools()
    for host in hosts:
        assert fleet_exec(fleet, host, "ls", "-l", "--time-style=full-iso", "/etc/ceph").stdout == before[host]
        assert names["secret"] not in fleet_exec(fleet, host, "virsh", "secret-list").stdout

    applied = run_playbook(PLAYBOOKS / "site.yml", inventory=inventory, extra_vars=variables)
    assert applied["_rc"] == 0, failures(applied) or applied.stdout[-3000:]
    assert changed_tasks(applied) == predicted_changes(check)
    for host in hosts:  # each host got its keyring and its disk
        tasks = " | ".join(task for changed_host, task in changed_tasks(applied) if changed_host == host)
        assert "Write the keyring of the client" in tasks and "Attach or detach each disk" in tasks, tasks

    for check_mode in (True, False):
        again = run_playbook(PLAYBOOKS / "site.yml", inventory=inventory, extra_vars=variables, check=check_mode)
        assert again["_rc"] == 0, failures(again)
        assert changed_tasks(again) == set(), (check_mode, changed_tasks(again))

    key = auth_get(ceph, f"client.{names['user']}")["key"]
    confs = set()
    for host in hosts:
        assert fleet_exec(fleet, host, "stat", "-c", "%a %U %G", keyring).stdout.split() == ["600", "root", "root"]
        assert f"key = {key}" in fleet_exec(fleet, host, "cat", keyring).stdout
        # The operator cannot read the key without sudo.
        assert ssh_as_operator(fleet, host, f"cat {keyring}").returncode != 0
        confs.add(fleet_exec(fleet, host, "cat", "/etc/ceph/ceph.conf").stdout)
        secrets = fleet_exec(fleet, host, "virsh", "secret-list").stdout
        assert names["secret"] in secrets and f"client.{names['user']} secret" in secrets
    assert len(confs) == 1 and "rbd cache size = 134217728" in confs.pop()

    # Each host's VM opens its volume with that host's secret: one watcher per volume, QEMU's.
    for host in hosts:
        image = f"vol-{host}"
        assert rbd_watchers(ceph, names["volumes_pool"], image) == []
        started = fleet_exec(fleet, host, "virsh", "start", names["domains"][host], check=False)
        assert started.returncode == 0, started.stderr
        assert len(rbd_watchers(ceph, names["volumes_pool"], image)) == 1
        # QEMU runs inside that host (its PID namespace), not on the machine's libvirtd.
        assert fleet_exec(fleet, host, "ps", "-C", "qemu-system-x86", "-o", "pid=").stdout.strip()
    for host in hosts:
        fleet_exec(fleet, host, "virsh", "destroy", names["domains"][host])
        assert rbd_watchers(ceph, names["volumes_pool"], f"vol-{host}") == []
