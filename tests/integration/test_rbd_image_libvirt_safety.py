# SPDX-License-Identifier: GPL-3.0-or-later
"""rbd_image refuses to delete a volume that a libvirt domain of this host uses, even a
stopped one (no watcher then), and the data survives the refusal."""

from __future__ import annotations

import uuid

import pytest

from .cephstate import (
    create_rbd_pool,
    create_test_image,
    delete_pool,
    domain_with_rbd_disks,
    image_names,
    read_image,
    remove_domain,
    write_image,
)
from .harness import run_module

PATTERN = b"limiquantix-" * 2000


@pytest.fixture
def volume_of_a_stopped_vm(testenv, ceph):
    import libvirt  # pylint: disable=import-outside-toplevel

    tag = uuid.uuid4().hex[:6]
    pool, domain = f"safe-{tag}", f"t-safe-{tag}"
    create_rbd_pool(ceph, pool)
    create_test_image(ceph, pool, "vol-vm", 4 << 20)
    write_image(ceph, pool, "vol-vm", PATTERN)
    conn = libvirt.open(testenv["LIBVIRT_DEFAULT_URI"])
    conn.defineXML(domain_with_rbd_disks(domain, [(pool, "vol-vm")], testenv["TESTENV_MON_ADDR"], "libvirt",
                                         str(uuid.uuid4())))
    yield pool, domain, conn
    remove_domain(conn, domain)
    conn.close()
    delete_pool(ceph, pool)


def test_deleting_a_volume_of_a_stopped_vm_is_refused_and_the_data_survives(ceph, volume_of_a_stopped_vm):
    pool, domain, conn = volume_of_a_stopped_vm
    for check in (True, False):
        result = run_module("rbd_image", {"pool": pool, "name": "vol-vm", "state": "absent", "force": True},
                            check=check)
        assert result.failed
        assert f"image {pool}/vol-vm is in use, refusing to delete it" in result.msg
        assert f"used by libvirt domain(s) {domain} (defined, not running) on this host" in result.msg
        assert image_names(ceph, pool) == ["vol-vm"]
        assert read_image(ceph, pool, "vol-vm", len(PATTERN)) == PATTERN

    batch = run_module("rbd_image", {"pool": pool, "images": [{"name": "vol-vm", "state": "absent"}]})
    assert batch.failed and f"images[0] ({pool}/vol-vm)" in batch.msg and domain in batch.msg
    assert image_names(ceph, pool) == ["vol-vm"]

    # Turning the check off is the operator's explicit choice; once the domain is gone
    # the volume is deleted normally, and the result says libvirt was consulted.
    remove_domain(conn, domain)
    deleted = run_module("rbd_image", {"pool": pool, "name": "vol-vm", "state": "absent"})
    assert deleted.changed and not deleted.failed, deleted.msg
    assert deleted["libvirt_checked"] is True
    assert image_names(ceph, pool) == []


def test_the_check_is_skipped_with_a_warning_when_libvirt_cannot_be_asked(ceph, volume_of_a_stopped_vm):
    pool, _domain, _conn = volume_of_a_stopped_vm
    result = run_module("rbd_image", {"pool": pool, "name": "vol-vm", "state": "absent", "check_libvirt": True,
                                      "libvirt_uri": "qemu:///system?socket=/nonexistent/sock"}, check=True)
    assert not result.failed, result.msg
    assert result.changed and result["libvirt_checked"] is False
    assert any("libvirt check before deleting did not run on this host" in warning
               for warning in result.get("warnings", [])), result.get("warnings")
    assert image_names(ceph, pool) == ["vol-vm"]
