# SPDX-License-Identifier: GPL-3.0-or-later
"""libvirt_rbd_disk against the real libvirtd, Ceph cluster and QEMU.

One small domain (no OS) goes through the life of its volumes: attach to the stopped
domain, start (QEMU opens the image), hot-plug and hot-unplug a scsi volume, grow a volume
and refresh its size live, change I/O limits live, swap a live disk, detach; plus each bad
input leaving the domain's XML unchanged.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
import xml.etree.ElementTree as ET

import pytest

from .cephstate import (
    attachment_records,
    create_client_key,
    create_image,
    create_pool,
    define_ceph_secret,
    delete_client_key,
    delete_pool,
    rbd_watchers,
    remove_domain,
    resize_image,
    small_domain_xml,
    undefine_secret,
    usable_domain_type,
)
from .harness import run_module

MiB = 1024 ** 2


def disk_in(domain_xml: str, target: str):
    for disk in ET.fromstring(domain_xml).findall("./devices/disk"):
        if disk.find("target").get("dev") == target:
            return disk
    return None


@pytest.fixture(scope="module")
def lab(testenv, ceph):
    """Pool, images, a cephx client, its libvirt secret and a stopped domain; all removed after."""
    import libvirt  # pylint: disable=import-outside-toplevel

    suffix = uuid.uuid4().hex[:8]
    name = f"t-disk-{suffix}"
    conn = libvirt.open(testenv["LIBVIRT_DEFAULT_URI"])
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    entity = f"client.{name}"
    secret_uuid = str(uuid.uuid4())
    create_pool(ceph, name)
    try:
        for image in ("vol-a", "vol-b", "vol-c"):
            create_image(ceph, name, image, 64 * MiB)
        key = create_client_key(ceph, entity, name)
        define_ceph_secret(conn, secret_uuid, f"{name} secret", key)
        domain_type = usable_domain_type()
        dom = conn.defineXML(small_domain_xml(name, domain_type))
        v1 = re.search(r"v1:([0-9.]+:[0-9]+)", testenv["CEPH_MON_HOST"]).group(1)
        yield {
            "conn": conn, "dom": dom, "name": name, "pool": name, "entity": entity, "key": key,
            "secret_uuid": secret_uuid, "usage": f"{name} secret", "mon": v1, "type": domain_type,
            "host": conn.getHostname(),
        }
    finally:
        remove_domain(conn, name)
        undefine_secret(conn, secret_uuid)
        try:
            delete_client_key(ceph, entity)
        finally:
            delete_pool(ceph, name)
            conn.close()


def disk_args(lab, **overrides):
    args = {
        "domain": lab["name"], "target": "vdb", "pool": lab["pool"], "image": "vol-a",
        "mon_hosts": [lab["mon"]], "auth_user": lab["entity"].split(".", 1)[1],
        "secret_uuid": lab["secret_uuid"], "serial": "vol-a",
        # the attachment record is written as the disks' own client (profile rbd suffices)
        "user": lab["entity"].split(".", 1)[1], "key": lab["key"],
    }
    args.update(overrides)
    return {key: value for key, value in args.items() if value is not None}


def xml_of(lab, scope):
    import libvirt  # pylint: disable=import-outside-toplevel

    return lab["dom"].XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE if scope == "config" else 0)


BAD_INPUTS = [
    ({"io": "native"}, "io 'native' cannot be used with cache 'writeback'"),
    ({"secret_uuid": "5d3c2b1a-0000-4000-8000-000000000000"},
     "there is no libvirt secret with UUID 5d3c2b1a-0000-4000-8000-000000000000"),
    ({"secret_uuid": None, "secret_usage": "no such usage"},
     "there is no libvirt secret of type ceph with usage 'no such usage'"),
    ({"domain": "t-disk-missing"}, "domain 't-disk-missing' does not exist"),
    ({"domain": "t-disk-<x>&'"}, "domain \"t-disk-<x>&'\" does not exist"),
    ({"target": "vdb'/><disk"}, "is not a disk target name"),
    ({"target": "hdb"}, "is not a disk target name"),
    ({"target": "vdc", "bus": "scsi"}, "does not match bus 'scsi'"),
    ({"serial": "a<b&c"}, "is not accepted by QEMU"),
    ({"namespace": "tenant-a"}, "libvirt cannot attach an image in an RBD namespace"),
    ({"live": True}, "live: true needs a running domain"),
    ({"iotune": {"total_iops_sec": 10, "read_iops_sec": 5}}, "cannot be combined"),
    ({"mon_hosts": ["abc:def:1"]}, "mon_hosts entry 'abc:def:1' is not a monitor address"),
    ({"mon_hosts": ["[v2:127.0.0.1:3301]"]}, "mon_hosts entry 'v2:127.0.0.1:3301' is a msgr2 (v2) address"),
    ({"mon_hosts": ["[v2:127.0.0.1:3300,v1:127.0.0.1:6789"]}, "unbalanced brackets"),
]


@pytest.mark.parametrize("overrides,message", BAD_INPUTS, ids=[m for _o, m in BAD_INPUTS])
def test_bad_input_fails_clearly_and_leaves_the_domain_unchanged(lab, overrides, message):
    before = xml_of(lab, "config")
    result = run_module("libvirt_rbd_disk", disk_args(lab, **overrides))
    assert result.failed
    assert message in result.msg
    assert xml_of(lab, "config") == before
    assert lab["key"] not in result.stdout + result.stderr


def test_msgr2_monitor_vectors_become_the_v1_host_of_the_disk(lab, testenv):
    """The cluster's own mon_host (`[v2:...,v1:...]`, as ceph.conf and `ceph mon dump` show it)
    is accepted, as a list item or as one string cut at its comma, and the disk gets the v1
    address; the same disk written with the plain v1 address is no change."""
    vector = testenv["CEPH_MON_HOST"]
    assert vector.startswith("[v2:") and ",v1:" in vector
    host, port = lab["mon"].rsplit(":", 1)
    args = disk_args(lab, target="vdd", image="vol-c", serial="vol-c", mon_hosts=[vector])
    applied = run_module("libvirt_rbd_disk", args)
    assert applied.changed and not applied.failed, applied.msg
    hosts = [h.attrib for h in disk_in(xml_of(lab, "config"), "vdd").findall("source/host")]
    assert hosts == [{"name": host, "port": port}]
    assert f":mon_host={host}\\:{port}:" in applied["qemu_spec"]
    for same in ([lab["mon"]], vector, [f"{vector[:-1].replace(',', '/0,')}/0]"]):
        again = run_module("libvirt_rbd_disk", dict(args, mon_hosts=same))
        assert not again.changed and not again.failed, (same, again.msg)
    gone = run_module("libvirt_rbd_disk", {"domain": lab["name"], "target": "vdd", "state": "absent"})
    assert gone.changed and not gone.failed, gone.msg
    assert disk_in(xml_of(lab, "config"), "vdd") is None


def test_attach_start_hotplug_resize_swap_and_detach(lab, ceph, tmp_path):
    pool, dom = lab["pool"], lab["dom"]
    args = disk_args(lab)

    # check -> apply -> check -> apply on the stopped domain: config only
    check = run_module("libvirt_rbd_disk", args, check=True)
    assert check.changed and not check.failed, check.msg
    record_a = f"record attachment of {pool}/vol-a to domain {lab['name']} on host {lab['host']}"
    assert (check["live"], check["config"], check["actions"]) == (False, True, ["config: attach", record_a])
    assert check.diff == {"before": {"config": None}, "after": {"config": check["xml"]}}
    assert disk_in(xml_of(lab, "config"), "vdb") is None
    assert attachment_records(ceph, pool, "vol-a") == []

    applied = run_module("libvirt_rbd_disk", args)
    assert applied.changed and not applied.failed, applied.msg
    assert applied["xml"] == check["xml"]
    assert applied.diff == check.diff
    assert applied["actions"] == check["actions"]
    assert attachment_records(ceph, pool, "vol-a") == [(lab["host"], lab["name"])]
    disk = disk_in(xml_of(lab, "config"), "vdb")
    assert disk.find("source").attrib == {"protocol": "rbd", "name": f"{pool}/vol-a"}
    assert disk.find("driver").get("cache") == "writeback" and disk.find("driver").get("discard") == "unmap"
    assert disk.find(".//secret").get("uuid") == lab["secret_uuid"]
    assert applied["qemu_spec"] == (
        f"rbd:{pool}/vol-a:mon_host={lab['mon'].replace(':', chr(92) + ':')}"
        f":id={lab['entity'][7:]}:auth_supported=cephx")
    assert lab["key"] not in applied.stdout

    for check_mode in (True, False):
        again = run_module("libvirt_rbd_disk", args, check=check_mode)
        assert not again.changed and not again.failed, again.msg
        assert again["actions"] == []

    # QEMU tools take the qemu spec as it is (':' in mon_host escaped)
    keyring = tmp_path / "keyring"
    keyring.write_text(f"[{lab['entity']}]\n    key = {lab['key']}\n")
    keyring.chmod(0o600)
    info = subprocess.run(["qemu-img", "info", "--output=json", f"{applied['qemu_spec']}:keyring={keyring}"],
                          capture_output=True, text=True, check=False, timeout=60)
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["virtual-size"] == 64 * MiB

    # QEMU opens the volume when the domain starts
    dom.create()
    assert len(rbd_watchers(ceph, pool, "vol-a")) == 1
    assert run_module("libvirt_rbd_disk", args).changed is False

    # hot-plug a second volume on virtio-scsi: live and config by default
    scsi = disk_args(lab, target="sdb", image="vol-b", serial=None, cache="none", io="native")
    plugged = run_module("libvirt_rbd_disk", scsi)
    assert plugged.changed and not plugged.failed, plugged.msg
    assert plugged["actions"] == ["live: attach", "config: attach",
                                  f"record attachment of {pool}/vol-b to domain {lab['name']} on host {lab['host']}"]
    assert attachment_records(ceph, pool, "vol-b") == [(lab["host"], lab["name"])]
    assert len(rbd_watchers(ceph, pool, "vol-b")) == 1
    assert disk_in(xml_of(lab, "live"), "sdb").find("target").get("bus") == "scsi"
    assert disk_in(xml_of(lab, "config"), "sdb") is not None
    assert run_module("libvirt_rbd_disk", scsi).changed is False

    # grow the volume; refresh_size tells the running guest (check mode first)
    resize_image(ceph, pool, "vol-a", 128 * MiB)
    assert dom.blockInfo("vdb")[0] == 64 * MiB
    grow = dict(args, refresh_size=True)
    predicted = run_module("libvirt_rbd_disk", grow, check=True)
    assert predicted.changed and predicted["actions"] == ["live: resize"]
    assert (predicted.diff["before"]["size"], predicted.diff["after"]["size"]) == (64 * MiB, 128 * MiB)
    assert dom.blockInfo("vdb")[0] == 64 * MiB
    resized = run_module("libvirt_rbd_disk", grow)
    assert resized.changed and resized["size"] == 128 * MiB, resized.msg
    assert resized.diff == predicted.diff
    assert dom.blockInfo("vdb")[0] == 128 * MiB
    assert run_module("libvirt_rbd_disk", grow).changed is False

    # I/O limits change live without replacing the disk, and in the config
    limited = dict(args, iotune={"total_iops_sec": 500, "total_iops_sec_max": 1000, "read_bytes_sec": "10M"})
    address = ET.tostring(disk_in(xml_of(lab, "config"), "vdb").find("address"))
    tuned = run_module("libvirt_rbd_disk", limited)
    assert tuned.changed and tuned["actions"] == ["live: iotune", "config: update"], tuned.msg
    live_tune = dom.blockIoTune("vdb", 0)
    assert (live_tune["total_iops_sec"], live_tune["total_iops_sec_max"], live_tune["read_bytes_sec"]) == (
        500, 1000, 10 * MiB)
    assert disk_in(xml_of(lab, "config"), "vdb").find("iotune/total_iops_sec").text == "500"
    assert ET.tostring(disk_in(xml_of(lab, "config"), "vdb").find("address")) == address
    assert run_module("libvirt_rbd_disk", limited).changed is False

    # a live source swap is refused without replace, done with it
    swap = dict(scsi, image="vol-c")
    live_before, config_before = xml_of(lab, "live"), xml_of(lab, "config")
    refused = run_module("libvirt_rbd_disk", swap)
    assert refused.failed
    assert f"its source is {pool}/vol-b, not {pool}/vol-c" in refused.msg and "replace: true" in refused.msg
    assert (xml_of(lab, "live"), xml_of(lab, "config")) == (live_before, config_before)
    swapped = run_module("libvirt_rbd_disk", dict(swap, replace=True))
    assert swapped.changed and swapped["actions"] == [
        "live: replace", "config: update",
        f"record attachment of {pool}/vol-c to domain {lab['name']} on host {lab['host']}",
        f"remove attachment record of {pool}/vol-b for domain {lab['name']} on host {lab['host']}"], swapped.msg
    assert attachment_records(ceph, pool, "vol-b") == []
    assert attachment_records(ceph, pool, "vol-c") == [(lab["host"], lab["name"])]
    assert rbd_watchers(ceph, pool, "vol-b") == [] and len(rbd_watchers(ceph, pool, "vol-c")) == 1
    assert disk_in(xml_of(lab, "config"), "sdb").find("source").get("name") == f"{pool}/vol-c"

    # hot-unplug the scsi volume: check, apply (watcher gone), again (no change)
    gone = {"domain": lab["name"], "target": "sdb", "state": "absent"}
    check = run_module("libvirt_rbd_disk", gone, check=True)
    assert check.changed and check["actions"] == [
        "live: detach", "config: detach",
        f"remove attachment record of {pool}/vol-c for domain {lab['name']} on host {lab['host']}"]
    assert check.diff["after"] == {"live": None, "config": None}
    assert disk_in(xml_of(lab, "live"), "sdb") is not None
    assert attachment_records(ceph, pool, "vol-c") == [(lab["host"], lab["name"])]
    detached = run_module("libvirt_rbd_disk", gone)
    assert detached.changed and not detached.failed, detached.msg
    assert disk_in(xml_of(lab, "live"), "sdb") is None and disk_in(xml_of(lab, "config"), "sdb") is None
    assert rbd_watchers(ceph, pool, "vol-c") == []
    assert detached["actions"] == check["actions"]
    assert attachment_records(ceph, pool, "vol-c") == []
    assert run_module("libvirt_rbd_disk", gone).changed is False

    # a virtio disk on a guest without OS ignores the unplug: reported, config kept
    config_before = xml_of(lab, "config")
    ignored = run_module("libvirt_rbd_disk", dict(gone, target="vdb"))
    assert ignored.failed
    assert "did not release disk vdb" in ignored.msg and "persistent config was left unchanged" in ignored.msg
    assert ignored.seconds < 5 + 3 + 15
    assert xml_of(lab, "config") == config_before
    assert disk_in(xml_of(lab, "live"), "vdb") is not None
    # the detach was not verified: the record stays, and so does the protection
    assert attachment_records(ceph, pool, "vol-a") == [(lab["host"], lab["name"])]


def test_config_only_change_on_a_running_domain_warns_and_detach_from_a_stopped_domain(lab, ceph):
    dom = lab["dom"]
    if not dom.isActive():
        dom.create()
    args = disk_args(lab, target="vdc", image="vol-b", serial=None, live=False,
                     secret_uuid=None, secret_usage=lab["usage"])
    added = run_module("libvirt_rbd_disk", args)
    assert added.changed and added["actions"] == [
        "config: attach", f"record attachment of {lab['pool']}/vol-b to domain {lab['name']} on host {lab['host']}"
    ], added.msg
    assert any("keeps its current disk vdc" in w for w in added.get("warnings", []))
    assert disk_in(xml_of(lab, "config"), "vdc").find(".//secret").get("usage") == lab["usage"]
    assert run_module("libvirt_rbd_disk", args).changed is False
    assert disk_in(xml_of(lab, "live"), "vdc") is None
    dom.destroy()
    gone = {"domain": lab["name"], "target": "vdc", "state": "absent"}
    removed = run_module("libvirt_rbd_disk", gone)
    assert removed.changed and removed["actions"] == [
        "config: detach", f"remove attachment record of {lab['pool']}/vol-b for domain {lab['name']} on host {lab['host']}"
    ], removed.msg
    assert attachment_records(ceph, lab["pool"], "vol-b") == []
    assert disk_in(xml_of(lab, "config"), "vdc") is None
    assert run_module("libvirt_rbd_disk", gone).changed is False
