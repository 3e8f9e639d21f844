# SPDX-License-Identifier: GPL-3.0-or-later
"""Attachment records: libvirt_rbd_disk notes on the volume itself which domain on which host
uses it, so that rbd_image refuses to delete it from any host (the Ceph admin host sees no
domain); a verified detach removes the record; a stale record (domain gone) is cleared by
libvirt_rbd_disk state: absent on its host; rbd_image's declarative metadata leaves the
records alone."""

from __future__ import annotations

import subprocess
import uuid
import xml.etree.ElementTree as ET

import pytest

from .cephstate import (
    attachment_records,
    create_rbd_pool,
    create_test_image,
    delete_pool,
    image_metadata,
    image_names,
    read_image,
    remove_domain,
    small_domain_xml,
    trash_names,
    usable_domain_type,
    write_image,
)
from .harness import run_module

PATTERN = b"attached-" * 3000


@pytest.fixture
def stopped_vm(testenv, ceph):
    """A pool with volume vol-1 (data written) and a stopped domain without disks."""
    import libvirt  # pylint: disable=import-outside-toplevel

    tag = uuid.uuid4().hex[:6]
    pool, domain = f"rec-{tag}", f"t-rec-{tag}"
    create_rbd_pool(ceph, pool)
    create_test_image(ceph, pool, "vol-1", 4 << 20)
    write_image(ceph, pool, "vol-1", PATTERN)
    conn = libvirt.open(testenv["LIBVIRT_DEFAULT_URI"])
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    conn.defineXML(small_domain_xml(domain, usable_domain_type()))
    yield {"pool": pool, "domain": domain, "conn": conn, "host": conn.getHostname(),
           "disk": {"domain": domain, "target": "vdb", "pool": pool, "image": "vol-1"}}
    remove_domain(conn, domain)
    conn.close()
    delete_pool(ceph, pool)


def config_disks(vm) -> list[str]:
    import libvirt  # pylint: disable=import-outside-toplevel

    xml = vm["conn"].lookupByName(vm["domain"]).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    return [d.find("target").get("dev") for d in ET.fromstring(xml).findall("./devices/disk")]


def assert_intact(ceph, vm):
    assert image_names(ceph, vm["pool"]) == ["vol-1"] and trash_names(ceph, vm["pool"]) == []
    assert read_image(ceph, vm["pool"], "vol-1", len(PATTERN)) == PATTERN


def test_a_recorded_volume_is_refused_from_a_host_that_sees_no_domain(ceph, stopped_vm):
    vm = stopped_vm
    pool, host, domain = vm["pool"], vm["host"], vm["domain"]
    attached = run_module("libvirt_rbd_disk", vm["disk"])
    assert attached.changed and not attached.failed, attached.msg
    assert attached["actions"] == ["config: attach", f"record attachment of {pool}/vol-1 to domain {domain} on host {host}"]
    assert attachment_records(ceph, pool, "vol-1") == [(host, domain)]

    # The Ceph admin host: no libvirt check at all; every form of deletion is refused.
    admin = {"pool": pool, "name": "vol-1", "state": "absent", "check_libvirt": False}
    for args in (admin, dict(admin, force=True), dict(admin, trash=True),
                 {"pool": pool, "check_libvirt": False, "images": [{"name": "vol-1", "state": "absent"}]}):
        for check in (True, False):
            refused = run_module("rbd_image", args, check=check)
            assert refused.failed, args
            assert f"image {pool}/vol-1 is in use, refusing to delete it" in refused.msg
            assert f"attached to domain {domain} on host {host}" in refused.msg
            assert "libvirt_rbd_disk state: absent" in refused.msg
            assert_intact(ceph, vm)
    assert attachment_records(ceph, pool, "vol-1") == [(host, domain)]

    # A host whose libvirt cannot be asked: refused by the record, and a warning says the check did not run.
    blind = run_module("rbd_image", {"pool": pool, "name": "vol-1", "state": "absent",
                                     "libvirt_uri": "qemu:///system?socket=/nonexistent/sock"})
    assert blind.failed and f"attached to domain {domain} on host {host}" in blind.msg
    assert any("libvirt check before deleting did not run on this host" in w for w in blind.get("warnings", []))
    assert_intact(ceph, vm)

    # A verified detach removes the record; then the admin host deletes the volume.
    gone = {"domain": domain, "target": "vdb", "state": "absent"}
    detached = run_module("libvirt_rbd_disk", gone)
    assert detached["actions"] == ["config: detach", f"remove attachment record of {pool}/vol-1 for domain {domain} on host {host}"]
    assert config_disks(vm) == [] and attachment_records(ceph, pool, "vol-1") == []
    deleted = run_module("rbd_image", admin)
    assert deleted.changed and not deleted.failed, deleted.msg
    assert deleted.get("warnings") in (None, [])  # check_libvirt: false is silent
    assert image_names(ceph, pool) == []


def test_declarative_metadata_neither_reports_nor_removes_records(ceph, stopped_vm):
    vm = stopped_vm
    pool, host, domain = vm["pool"], vm["host"], vm["domain"]
    assert run_module("libvirt_rbd_disk", vm["disk"]).changed
    image = {"pool": pool, "name": "vol-1", "size": "4M"}
    for metadata in ({"owner": "team-a"}, {}):
        for check in (True, False):
            result = run_module("rbd_image", dict(image, metadata=metadata), check=check)
            assert not result.failed, result.msg
            assert result["image"]["metadata"] == metadata
            assert not any(k.startswith("limiquantix.") for side in ("before", "after")
                           for k in result.diff[side].get("metadata", {}))
        again = run_module("rbd_image", dict(image, metadata=metadata))
        assert not again.changed, again["actions"]
        assert attachment_records(ceph, pool, "vol-1") == [(host, domain)]
    assert [k for k in image_metadata(ceph, pool, "vol-1") if not k.startswith("limiquantix.attached/")] == []

    before = image_metadata(ceph, pool, "vol-1")
    for key in ("limiquantix.attached/forged", "limiquantix.anything"):
        refused = run_module("rbd_image", dict(image, metadata={key: "x"}))
        assert refused.failed and f"metadata key {key!r} starts with 'limiquantix.'" in refused.msg
        assert image_metadata(ceph, pool, "vol-1") == before
    info = run_module("rbd_image_info", {"pool": pool, "name": "vol-1"})
    assert info["images"][0]["metadata"] == {}


def test_a_stale_record_is_cleared_on_its_host_and_only_there(ceph, testenv, stopped_vm):
    vm = stopped_vm
    pool, host, domain = vm["pool"], vm["host"], vm["domain"]
    assert run_module("libvirt_rbd_disk", vm["disk"]).changed
    remove_domain(vm["conn"], domain)  # deleted by hand, without detaching
    admin = {"pool": pool, "name": "vol-1", "state": "absent", "check_libvirt": False}
    assert f"attached to domain {domain} on host {host}" in run_module("rbd_image", admin).msg

    # Without pool and image there is nothing to clear: the missing domain is an error, as before.
    bare = run_module("libvirt_rbd_disk", {"domain": domain, "target": "vdb", "state": "absent"})
    assert bare.failed and f"domain {domain!r} does not exist" in bare.msg

    clear = dict(vm["disk"], state="absent")
    line = f"remove attachment record of {pool}/vol-1 for domain {domain} on host {host}"
    predicted = run_module("libvirt_rbd_disk", clear, check=True)
    assert predicted.changed and predicted["actions"] == [line], predicted.msg
    assert attachment_records(ceph, pool, "vol-1") == [(host, domain)]
    cleared = run_module("libvirt_rbd_disk", clear)
    assert cleared.changed and cleared["actions"] == [line], cleared.msg
    assert attachment_records(ceph, pool, "vol-1") == []
    for check in (True, False):
        again = run_module("libvirt_rbd_disk", clear, check=check)
        assert not again.changed and not again.failed and again["actions"] == []

    # A record of another host (a hypervisor that is gone for good) is not this host's to clear;
    # the documented procedure removes it by hand with the rbd CLI.
    other = f"limiquantix.attached/{uuid.uuid4()}"
    env = {"CEPH_CONF": testenv["CEPH_CONF"]}
    subprocess.run(["rbd", "--keyring", testenv["CEPH_KEYRING"], "image-meta", "set", f"{pool}/vol-1", other,
                    f'{{"host": "hv-retired", "domain": "{domain}", "uuid": "{other[21:]}"}}'],
                   check=True, env=dict(env, PATH="/usr/bin:/bin"), timeout=60)
    assert not run_module("libvirt_rbd_disk", clear).changed
    refused = run_module("rbd_image", admin)
    assert refused.failed and f"attached to domain {domain} on host hv-retired" in refused.msg
    assert_intact(ceph, vm)
    subprocess.run(["rbd", "--keyring", testenv["CEPH_KEYRING"], "image-meta", "remove", f"{pool}/vol-1", other],
                   check=True, env=dict(env, PATH="/usr/bin:/bin"), timeout=60)
    deleted = run_module("rbd_image", admin)
    assert deleted.changed and not deleted.failed, deleted.msg


def test_an_unrecorded_attachment_is_recorded_by_a_rerun_and_a_failed_record_attaches_nothing(ceph, stopped_vm):
    vm = stopped_vm
    pool, host, domain = vm["pool"], vm["host"], vm["domain"]
    unrecorded = run_module("libvirt_rbd_disk", dict(vm["disk"], record_attachment=False))
    assert unrecorded["actions"] == ["config: attach"] and attachment_records(ceph, pool, "vol-1") == []
    line = f"record attachment of {pool}/vol-1 to domain {domain} on host {host}"
    for check in (True, False):
        backfill = run_module("libvirt_rbd_disk", vm["disk"], check=check)
        assert backfill.changed and backfill["actions"] == [line], backfill.msg
    assert attachment_records(ceph, pool, "vol-1") == [(host, domain)]
    assert not run_module("libvirt_rbd_disk", vm["disk"]).changed

    # A client the cluster does not know: the task fails before the domain is touched.
    bad = dict(vm["disk"], target="vdc", user="no-such-client", key="AQBSdFxmAAAAABAAAAAAAAAAAAAAAAAAAAAAAA==",
               timeout=5)
    failed = run_module("libvirt_rbd_disk", bad)
    assert failed.failed and "cannot record the attachment on the image" in failed.msg
    assert "record_attachment: false" in failed.msg
    assert config_disks(vm) == ["vdb"]
    assert "AQBSdFxmAAAAABAAAAAAAAAAAAAAAAAAAAAAAA==" not in failed.stdout + failed.stderr
