# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InUseError, InvalidInputError
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_disk_xml import (
    build_disk_xml,
    canonical_disk_xml,
    find_disk_element,
    parse_disk,
    qemu_spec,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_disk import (
    desired_disk,
    normalize_iotune,
    normalize_mon_hosts,
    plan_refresh,
    plan_scope,
    refuse_namespace,
    resolve_scopes,
    validate_target,
)

UUID = "0b5a2e1c-7d0e-4a57-9b32-8f1d2c3e4a51"


def params(**overrides):
    base = {
        "target": "vdb", "bus": None, "pool": "volumes", "namespace": "", "image": "vol-1",
        "mon_hosts": ["10.0.0.1:6789", "mon2"], "auth_user": "libvirt", "secret_uuid": UUID,
        "secret_usage": None, "cache": "writeback", "io": None, "discard": "unmap",
        "readonly": False, "shareable": False, "serial": "vol-1", "iotune": {},
    }
    base.update(overrides)
    return base


def test_desired_disk_defaults_bus_from_target_and_normalizes():
    disk = desired_disk(params(target="sdc", auth_user="client.libvirt"))
    assert disk["bus"] == "scsi"
    assert disk["auth_user"] == "libvirt"
    assert disk["mon_hosts"] == ["10.0.0.1:6789", "mon2"]
    assert desired_disk(params())["bus"] == "virtio"


@pytest.mark.parametrize("target,bus,text", [
    ("hda", None, "not a disk target name"),
    ("vdb'/><x", None, "not a disk target name"),
    ("vd1", None, "not a disk target name"),
    ("vdb", "scsi", "does not match bus 'scsi'"),
    ("sdb", "virtio", "does not match bus 'virtio'"),
])
def test_bad_targets_are_refused(target, bus, text):
    with pytest.raises(InvalidInputError, match=text):
        validate_target(target, bus)


def test_native_io_with_writeback_is_refused_but_allowed_without_cache():
    with pytest.raises(InvalidInputError, match="io 'native' cannot be used with cache 'writeback'"):
        desired_disk(params(io="native"))
    assert desired_disk(params(io="native", cache="none"))["io"] == "native"
    assert desired_disk(params(io="threads"))["io"] == "threads"


def test_auth_needs_exactly_one_secret_and_secrets_need_auth():
    with pytest.raises(InvalidInputError, match="exactly one of secret_uuid or secret_usage"):
        desired_disk(params(secret_uuid=None))
    with pytest.raises(InvalidInputError, match="need auth_user"):
        desired_disk(params(auth_user=None))
    with pytest.raises(InvalidInputError, match="not a valid UUID"):
        desired_disk(params(secret_uuid="nope"))
    disk = desired_disk(params(auth_user=None, secret_uuid=None))
    assert disk["auth_user"] is None and "<auth" not in build_disk_xml(disk)


def test_iotune_rules():
    assert normalize_iotune({"total_bytes_sec": "100M", "total_iops_sec": 500, "total_iops_sec_max": 0}) == {
        "total_bytes_sec": 100 * 1024 ** 2, "total_iops_sec": 500}
    with pytest.raises(InvalidInputError, match="cannot be combined"):
        normalize_iotune({"total_iops_sec": 1, "read_iops_sec": 1})
    with pytest.raises(InvalidInputError, match="needs iotune.read_iops_sec"):
        normalize_iotune({"read_iops_sec_max": 10})
    with pytest.raises(InvalidInputError, match="must not be lower"):
        normalize_iotune({"read_iops_sec": 10, "read_iops_sec_max": 5})
    with pytest.raises(InvalidInputError, match="unknown setting"):
        normalize_iotune({"iops": 5})
    with pytest.raises(InvalidInputError, match="whole number"):
        normalize_iotune({"write_iops_sec": "5k"})


@pytest.mark.parametrize("serial", ["a<b", "x'y", "a&b", "", "x" * 37])
def test_serials_qemu_refuses_are_refused(serial):
    with pytest.raises(InvalidInputError, match="serial"):
        desired_disk(params(serial=serial))


def test_mon_hosts_spellings():
    assert normalize_mon_hosts(["[2001:db8::1]:6789", "2001:db8::2", "m.example:3300"]) == [
        "[2001:db8::1]:6789", "2001:db8::2", "m.example:3300"]
    for bad in ["a b", "host:99999", "host:", "[zz]:1", "v2:1.2.3.4:3301", "abc:def:1", "a\nb"]:
        with pytest.raises(InvalidInputError, match="mon_hosts entry"):
            normalize_mon_hosts([bad])


def test_xml_round_trips_and_orders_like_libvirt():
    disk = desired_disk(params(iotune={"total_iops_sec": 100, "total_iops_sec_max": 200}, readonly=True,
                               shareable=True, io="threads", mon_hosts=["[::1]:6789"]))
    xml = build_disk_xml(disk)
    elem = ET.fromstring(xml)
    assert [child.tag for child in elem] == [
        "driver", "auth", "source", "target", "iotune", "readonly", "shareable", "serial"]
    assert elem.find("source").attrib == {"protocol": "rbd", "name": "volumes/vol-1"}
    assert elem.find("source/host").attrib == {"name": "::1", "port": "6789"}
    assert elem.find("driver").attrib == {
        "name": "qemu", "type": "raw", "cache": "writeback", "io": "threads", "discard": "unmap"}
    assert elem.find("auth/secret").attrib == {"type": "ceph", "uuid": UUID}
    assert parse_disk(elem) == disk


def test_parse_reads_libvirt_output_with_auth_inside_source_and_runtime_children():
    domain = f"""<domain><devices>
      <disk type='file' device='disk'><source file='/x.img'/><target dev='vda' bus='virtio'/></disk>
      <disk type='network' device='disk'>
        <driver name='qemu' type='raw' cache='writeback' discard='unmap'/>
        <source protocol='rbd' name='volumes/vol-1' index='2'>
          <host name='10.0.0.1' port='6789'/><host name='mon2'/>
          <auth username='libvirt'><secret type='ceph' uuid='{UUID}'/></auth>
        </source>
        <target dev='vdb' bus='virtio'/><serial>vol-1</serial>
        <alias name='virtio-disk1'/><address type='pci' slot='0x04'/>
      </disk></devices></domain>"""
    elem = find_disk_element(domain, "vdb")
    assert parse_disk(elem) == desired_disk(params())
    assert canonical_disk_xml(elem) == build_disk_xml(desired_disk(params()))
    file_disk = parse_disk(find_disk_element(domain, "vda"))
    assert file_disk["pool"] is None
    assert "alias" not in canonical_disk_xml(find_disk_element(domain, "vda"))
    assert find_disk_element(domain, "vdc") is None


def test_xml_special_characters_are_escaped_not_injected():
    disk = desired_disk(params())
    disk["serial"] = "</serial><evil/>"  # bypasses validation on purpose
    disk["auth_user"] = "a'\"<&"
    elem = ET.fromstring(build_disk_xml(disk))
    assert elem.find("evil") is None
    assert elem.find("serial").text == "</serial><evil/>"
    assert elem.find("auth").get("username") == "a'\"<&"


def test_qemu_spec_escapes_colons_and_never_has_a_key():
    disk = desired_disk(params(mon_hosts=["10.0.0.1:6789", "[2001:db8::1]:6789"]))
    assert qemu_spec(disk) == (
        "rbd:volumes/vol-1:mon_host=10.0.0.1\\:6789;[2001\\:db8\\:\\:1]\\:6789"
        ":id=libvirt:auth_supported=cephx")
    assert "key" not in qemu_spec(disk)
    bare = desired_disk(params(mon_hosts=[], auth_user=None, secret_uuid=None, namespace="tenant-a"))
    assert qemu_spec(bare) == "rbd:volumes/tenant-a/vol-1"


def test_namespace_is_refused_for_libvirt():
    disk = desired_disk(params(namespace="tenant-a"))
    assert ET.fromstring(build_disk_xml(disk)).find("source").get("name") == "volumes/tenant-a/vol-1"
    with pytest.raises(InvalidInputError, match="libvirt cannot attach an image in an RBD namespace"):
        refuse_namespace(disk)


def test_plans():
    wanted = desired_disk(params())
    assert plan_scope("config", None, wanted) == "attach"
    assert plan_scope("live", dict(wanted), wanted) is None
    assert plan_scope("live", None, None) is None
    assert plan_scope("live", wanted, None) == "detach"
    other = dict(wanted, image="vol-2")
    assert plan_scope("config", other, wanted) == "update"
    assert plan_scope("live", other, wanted, replace=True) == "replace"
    with pytest.raises(InUseError, match="its source is volumes/vol-2, not volumes/vol-1.*replace: true"):
        plan_scope("live", other, wanted)
    with pytest.raises(InUseError, match="its settings differ: cache"):
        plan_scope("live", dict(wanted, cache="none"), wanted)
    assert plan_scope("live", dict(wanted, iotune={"total_iops_sec": 5}), wanted) == "iotune"


def test_scopes_default_to_the_domain_state():
    assert resolve_scopes(None, None, True, True, "vm") == (True, True)
    assert resolve_scopes(None, None, False, True, "vm") == (False, True)
    assert resolve_scopes(None, None, True, False, "vm") == (True, False)
    with pytest.raises(InvalidInputError, match="needs a running domain"):
        resolve_scopes(True, None, False, True, "vm")
    with pytest.raises(InvalidInputError, match="transient"):
        resolve_scopes(None, True, True, False, "vm")
    with pytest.raises(InvalidInputError, match="both false"):
        resolve_scopes(False, False, True, True, "vm")


def test_refresh_only_grows():
    assert plan_refresh(10, 10, "vdb") is None
    assert plan_refresh(10, 20, "vdb") == 20
    with pytest.raises(InvalidInputError, match="smaller than the disk the guest sees"):
        plan_refresh(20, 10, "vdb")


def test_rbd_disks_in_domain_xml_skips_other_disks_and_adds_the_qemu_spec():
    from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_disk_xml import rbd_disks_in_domain_xml

    domain = """<domain><devices>
      <disk type='file' device='disk'><source file='/var/lib/x.img'/><target dev='vda' bus='virtio'/></disk>
      <disk type='network' device='disk'>
        <source protocol='rbd' name='pool/ns/img'><host name='10.0.0.1' port='6789'/></source>
        <auth username='libvirt'><secret type='ceph' uuid='a5d4c91e-1234-5678-90ab-cdef12345678'/></auth>
        <target dev='vdb' bus='virtio'/>
      </disk></devices></domain>"""
    [disk] = rbd_disks_in_domain_xml(domain)
    assert (disk["target"], disk["pool"], disk["namespace"], disk["image"]) == ("vdb", "pool", "ns", "img")
    assert disk["qemu_spec"] == "rbd:pool/ns/img:mon_host=10.0.0.1\\:6789:id=libvirt:auth_supported=cephx"
