# SPDX-License-Identifier: GPL-3.0-or-later
"""Live migration decisions: which disks move, what is refused, the messages and remedies."""
from __future__ import annotations

import base64

import pytest

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils import libvirt_secrets as ls
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils import migration_plan as mp
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InvalidInputError

UUID = "a5d4c91e-1234-5678-90ab-cdef12345678"
DOMAIN = f"""<domain type='kvm'><name>vm-1</name><devices>
  <disk type='network' device='disk'>
    <source protocol='rbd' name='volumes/vol-1'><host name='10.0.0.1' port='6789'/></source>
    <auth username='libvirt'><secret type='ceph' uuid='{UUID}'/></auth>
    <target dev='vda' bus='virtio'/>
  </disk>
  <disk type='network' device='disk'>
    <source protocol='rbd' name='volumes/ns/vol-2'/>
    <auth username='libvirt'><secret type='ceph' usage='client.libvirt secret'/></auth>
    <target dev='vdb' bus='virtio'/>
  </disk>
  <disk type='file' device='cdrom'><target dev='sda' bus='sata'/></disk>
  <disk type='file' device='disk'><source file='/var/lib/libvirt/images/scratch.qcow2'/><target dev='vdc' bus='virtio'/></disk>
  <disk type='block' device='disk'><source dev='/dev/sdz'/><target dev='vdd' bus='virtio'/></disk>
</devices></domain>"""


def test_rbd_disks_move_and_an_empty_cdrom_is_no_local_disk():
    disks, local = mp.classify_disks(DOMAIN)
    assert [(d["target"], d["pool"], d["namespace"], d["image"]) for d in disks] == [
        ("vda", "volumes", "", "vol-1"), ("vdb", "volumes", "ns", "vol-2")]
    assert disks[0]["mon_hosts"] == ["10.0.0.1:6789"] and disks[0]["secret_uuid"] == UUID
    assert disks[1]["secret_usage"] == "client.libvirt secret" and disks[1]["mon_hosts"] == []
    assert local == [{"target": "vdc", "source": "file /var/lib/libvirt/images/scratch.qcow2"},
                     {"target": "vdd", "source": "block /dev/sdz"}]


def test_local_disks_are_refused_naming_host_vm_and_each_disk():
    _disks, local = mp.classify_disks(DOMAIN)
    with pytest.raises(InvalidInputError) as refused:
        mp.refuse_local_disks("hv-1", "vm-1", local)
    assert str(refused.value).startswith(
        "cannot live-migrate VM 'vm-1' from hv-1: disk vdc is file /var/lib/libvirt/images/scratch.qcow2; "
        "disk vdd is block /dev/sdz: not on shared storage")
    assert refused.value.details["local_disks"] == local
    mp.refuse_local_disks("hv-1", "vm-1", [])  # nothing local: no refusal


def test_disks_of_one_credential_are_checked_with_one_connection():
    disks, _local = mp.classify_disks(DOMAIN)
    assert mp.credentials_of(disks + disks) == [
        ("libvirt", UUID, None, ("10.0.0.1:6789",)), ("libvirt", None, "client.libvirt secret", ())]


def test_disks_from_disk_info_are_normalized_and_pool_and_image_are_required():
    item = {"target": "vda", "pool": "p", "image": "i", "namespace": None, "qemu_spec": "ignored", "cache": "x"}
    assert mp.normalize_disks([item]) == [{"target": "vda", "pool": "p", "namespace": "", "image": "i",
                                           "mon_hosts": [], "auth_user": None, "secret_uuid": None,
                                           "secret_usage": None}]
    with pytest.raises(InvalidInputError, match=r"disks\[0\] needs pool and image"):
        mp.normalize_disks([{"pool": "p"}])


def test_an_image_without_exclusive_lock_or_missing_is_a_problem_with_its_remedy():
    disk = {"target": "vdb", "pool": "volumes", "namespace": "ns", "image": "vol-2"}
    problem, remedy = mp.image_problem("hv-2", "vm-1", disk, ["layering"])
    assert problem.startswith("hv-2: VM 'vm-1' disk vdb (volumes/ns/vol-2): the image lacks the exclusive-lock")
    assert remedy.startswith("rbd feature enable volumes/ns/vol-2 exclusive-lock")
    assert "does not exist" in mp.image_problem("hv-2", "vm-1", disk, None)[0]
    assert mp.image_problem("hv-2", "vm-1", disk, ["exclusive-lock", "layering"]) is None


def test_another_cluster_is_a_problem_and_no_expected_fsid_is_none():
    problem, remedy = mp.fsid_problem("hv-2", "vm-1", "libvirt", "F2", "F1")
    assert "reaches the cluster F2, not F1" in problem and "at the cluster F1" in remedy
    assert mp.fsid_problem("hv-2", "vm-1", "libvirt", "f1", "F1") is None
    assert mp.fsid_problem("hv-2", "vm-1", "libvirt", "F2", None) is None


def test_only_a_uri_without_host_is_the_local_libvirtd():
    assert ls.is_local_uri("qemu:///system")
    assert not ls.is_local_uri("qemu+ssh://root@hv-2/system")
    assert not ls.is_local_uri(None)


def test_a_private_value_is_compared_with_libvirtds_file_when_readable(tmp_path):
    raw, other = b"the-key-bytes-16", b"another-key-1234"
    (tmp_path / f"{UUID}.base64").write_bytes(base64.b64encode(other))
    before = {"private": True}
    fingerprint = {"scheme": ls.FINGERPRINT_SCHEME, "iterations": 10, "digest": ls.value_fingerprint(UUID, raw, 10)}
    # The fingerprint says "same value"; the value libvirtd holds says otherwise (virsh secret-set-value).
    assert ls.value_matches(None, before, UUID, raw, fingerprint) is True
    assert ls.value_matches(None, before, UUID, raw, fingerprint, str(tmp_path)) is False
    (tmp_path / f"{UUID}.base64").write_bytes(base64.b64encode(raw))
    assert ls.value_matches(None, before, UUID, raw, fingerprint, str(tmp_path)) is True
    (tmp_path / f"{UUID}.base64").unlink()
    assert ls.value_matches(None, before, UUID, raw, fingerprint, str(tmp_path)) is False
