# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/inventory/example converges as shipped: a copy with only its addresses (and the
connection to them) pointed at the test cluster and the fleet runs site.yml; a second run
changes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from .cephstate import (
    delete_client_key,
    mon,
    delete_pool,
    device_class_of,
    image_parent,
    image_snapshots,
    remove_crush_rule,
    set_device_class,
)
from .conftest import fleet_exec
from .monitoring_helpers import PROMETHEUS_OPTIONS, config_rm, free_loopback_port, mgr_module_enabled
from .harness import COLLECTION_ROOT, run_playbook
from .test_fleet import changed_tasks, failures

EXAMPLE = COLLECTION_ROOT / "playbooks" / "inventory" / "example"
# The example's SSD and HDD tiers get two OSDs each (its pools are replicated 3 ways, at
# least 2 copies to be active), each OSD in a CRUSH host of its own (the example's rules
# spread copies over hosts, as on a real cluster).
SSD_OSDS = [2, 3]
OSDS = [0, 1, 2, 3]


def move_osd(ceph, osd: int, location: dict[str, str]) -> None:
    weight = next(node["crush_weight"] for node in mon(ceph, "osd tree")["nodes"] if node["id"] == osd)
    mon(ceph, "osd crush create-or-move", id=osd, weight=weight,
        args=[f"{key}={value}" for key, value in location.items()])


def example_for_the_fleet(directory: Path, fleet: dict[str, str]) -> Path:
    """The example inventory with the test cluster's and the fleet's addresses."""
    inventory = directory / "example"
    shutil.copytree(EXAMPLE, inventory)
    hosts = yaml.safe_load((inventory / "hosts.yml").read_text())
    fleet_inventory = yaml.safe_load(Path(fleet["TESTENV_INVENTORY"]).read_text())
    fleet_hypervisors = fleet_inventory["all"]["children"]["hypervisors"]
    groups = hosts["all"]["children"]
    groups["ceph_admin"]["hosts"]["ceph-admin-1"] = {"ansible_connection": "local"}
    for index, name in enumerate(sorted(groups["hypervisors"]["hosts"]), start=1):
        groups["hypervisors"]["hosts"][name] = {"ansible_host": fleet_hypervisors["hosts"][f"hv{index}"]["ansible_host"]}
    groups["hypervisors"]["vars"] = fleet_hypervisors["vars"]  # the fleet's user and key
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    settings = yaml.safe_load((inventory / "group_vars" / "all.yml").read_text())
    settings.update(ceph_fsid=fleet["CEPH_FSID"], ceph_mon_hosts=[fleet["TESTENV_MON_ADDR"]],
                    ceph_conf=fleet["CEPH_CONF"], ceph_keyring=fleet["CEPH_KEYRING"],
                    ceph_prometheus_server_addr="127.0.0.1", ceph_prometheus_server_port=free_loopback_port())
    (inventory / "group_vars" / "all.yml").write_text(yaml.safe_dump(settings))
    return inventory


@pytest.fixture
def example(fleet, ceph, tmp_path):
    """The example's preconditions (an SSD tier, domain vm-123 on hv-1) and, afterwards, the
    removal of everything it made."""
    settings = yaml.safe_load((EXAMPLE / "group_vars" / "all.yml").read_text())
    if len(mon(ceph, "osd ls")) < len(OSDS):
        pytest.fail("the example needs 4 OSDs: tests/testenv/testenv up DIR --osds 4 --hypervisors 3")
    classes = {osd: device_class_of(ceph, osd) for osd in SSD_OSDS}
    prometheus_was_enabled = mgr_module_enabled(ceph, "prometheus")
    locations = {osd: mon(ceph, "osd find", id=osd)["crush_location"] for osd in OSDS}
    try:
        set_device_class(ceph, SSD_OSDS, "ssd")
        for osd in OSDS:
            move_osd(ceph, osd, {"root": "default", "host": f"example-host-{osd}"})
        fleet_exec(fleet, "hv1", "virsh", "define", "/dev/stdin", stdin=(
            "<domain type='qemu'><name>vm-123</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
            "<os><type arch='x86_64' machine='pc'>hvm</type></os></domain>"))
        yield settings, example_for_the_fleet(tmp_path, fleet)
    finally:
        restore_example(fleet, ceph, settings, classes, locations)
        restore_prometheus(ceph, prometheus_was_enabled)


def restore_prometheus(ceph, was_enabled: bool) -> None:
    """The mgr's exporter as it was: the example enables it (its pools have rbd_stats: true)."""
    if not was_enabled:
        mon(ceph, "mgr module disable", module="prometheus")
    for option in (*PROMETHEUS_OPTIONS, "rbd_stats_pools"):
        config_rm(ceph, "mgr", f"mgr/prometheus/{option}")


def restore_example(fleet, ceph, settings, classes, locations) -> None:
    fleet_exec(fleet, "hv1", "virsh", "undefine", "vm-123", check=False)
    for host in ("hv1", "hv2", "hv3"):
        fleet_exec(fleet, host, "virsh", "secret-undefine", settings["ceph_libvirt_secret_uuid"], check=False)
        fleet_exec(fleet, host, "rm", "-f", "/etc/ceph/ceph.conf",
                   f"/etc/ceph/ceph.client.{settings['ceph_client_name']}.keyring", check=False)
    delete_client_key(ceph, f"client.{settings['ceph_client_name']}")
    for pool in settings["ceph_pools"]:
        delete_pool(ceph, pool["name"])
    for rule in settings["ceph_crush_rules"]:
        remove_crush_rule(ceph, rule["name"])
    for osd, device_class in classes.items():
        set_device_class(ceph, [osd], device_class)
    for osd, location in locations.items():
        move_osd(ceph, osd, location)
        if any(node["name"] == f"example-host-{osd}" for node in mon(ceph, "osd tree")["nodes"]):
            mon(ceph, "osd crush rm", name=f"example-host-{osd}")


def test_example_inventory_converges_as_shipped_on_the_fleet(fleet, ceph, example):
    settings, inventory = example
    site = COLLECTION_ROOT / "playbooks" / "site.yml"
    first = run_playbook(site, inventory=inventory)
    assert first["_rc"] == 0, failures(first) or first.stdout[-3000:]
    second = run_playbook(site, inventory=inventory)
    assert second["_rc"] == 0, failures(second)
    assert changed_tasks(second) == set()

    # The golden image's version v1 and its clone (the volume the example clones).
    assert image_snapshots(ceph, "limiquantix-images", "ubuntu-24.04")["v1"]["protected"] is True
    assert image_parent(ceph, "limiquantix-volumes", "vol-91bd04") == "limiquantix-images/ubuntu-24.04@v1"
    # Every hypervisor has the keyring and the secret; vm-123 on hv-1 has both disks.
    for host in ("hv1", "hv2", "hv3"):
        keyring = f"/etc/ceph/ceph.client.{settings['ceph_client_name']}.keyring"
        assert fleet_exec(fleet, host, "stat", "-c", "%a %U", keyring).stdout.split() == ["600", "root"]
        assert settings["ceph_libvirt_secret_uuid"] in fleet_exec(fleet, host, "virsh", "secret-list").stdout
    disks = fleet_exec(fleet, "hv1", "virsh", "domblklist", "vm-123").stdout
    assert "limiquantix-volumes/vol-1f0c2a" in disks and "limiquantix-volumes/vol-7a9e31" in disks
