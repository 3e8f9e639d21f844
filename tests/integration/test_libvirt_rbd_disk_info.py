# SPDX-License-Identifier: GPL-3.0-or-later
"""libvirt_rbd_disk_info against the real libvirtd."""

from __future__ import annotations

import uuid

import pytest

from .cephstate import domain_with_rbd_disks, remove_domain
from .harness import run_module


@pytest.fixture
def defined_domain(testenv):
    import libvirt  # pylint: disable=import-outside-toplevel

    name = f"t-info-{uuid.uuid4().hex[:6]}"
    secret = str(uuid.uuid4())
    conn = libvirt.open(testenv["LIBVIRT_DEFAULT_URI"])
    conn.defineXML(domain_with_rbd_disks(name, [("limiquantix-volumes", "vol-info")], "127.0.0.1:6789",
                                         "libvirt", secret))
    yield name, secret
    remove_domain(conn, name)
    conn.close()


def test_lists_the_rbd_disks_of_a_stopped_domain_from_its_config(defined_domain):
    name, secret = defined_domain
    result = run_module("libvirt_rbd_disk_info", {"domain": name})
    assert not result.failed, result.msg
    assert result.changed is False
    [domain] = result["domains"]
    assert (domain["name"], domain["running"], domain["persistent"]) == (name, False, True)
    [disk] = domain["disks"]
    assert disk["target"] == "vdb"
    assert (disk["pool"], disk["namespace"], disk["image"]) == ("limiquantix-volumes", "", "vol-info")
    assert disk["mon_hosts"] == ["127.0.0.1:6789"]
    assert disk["auth_user"] == "libvirt" and disk["secret_uuid"] == secret
    assert disk["scopes"] == ["config"]
    assert disk["qemu_spec"].startswith("rbd:limiquantix-volumes/vol-info:mon_host=127.0.0.1\\:6789:id=libvirt")

    every = run_module("libvirt_rbd_disk_info", {})
    assert name in [d["name"] for d in every["domains"]]


def test_unknown_domain_and_unreachable_libvirt_fail_clearly(testenv):
    result = run_module("libvirt_rbd_disk_info", {"domain": "t-info-no-such-domain"})
    assert result.failed
    assert "domain 't-info-no-such-domain' does not exist" in result.msg

    result = run_module("libvirt_rbd_disk_info", {"uri": "qemu:///system?socket=/nonexistent/libvirt-sock"})
    assert result.failed
    assert "cannot connect to libvirt at qemu:///system?socket=/nonexistent/libvirt-sock" in result.msg
    assert "Traceback" not in result.stdout


class _ListsThenUndefines:
    """The real connection, except that right after listing the domains, one of them is
    undefined (and, given ``redefine``, defined anew: another UUID): what another client does
    between a scan's listing and its reading."""

    def __init__(self, conn, name: str, redefine: str | None = None):
        self.conn, self.name, self.redefine = conn, name, redefine

    def listAllDomains(self, flags):  # pylint: disable=invalid-name
        listed = self.conn.listAllDomains(flags)
        self.conn.lookupByName(self.name).undefine()
        if self.redefine:
            self.conn.defineXML(self.redefine)
        return listed

    def lookupByName(self, name):  # pylint: disable=invalid-name
        return self.conn.lookupByName(name)


def test_a_domain_undefined_while_the_host_is_scanned_is_read_again_or_left_out(defined_domain, testenv):
    """CI saw it: rbd_image state=absent failed reading a domain another client had just removed."""
    import libvirt  # pylint: disable=import-outside-toplevel

    from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_domain import (
        domains_rbd_disks,
        rbd_image_references,
    )
    from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_secrets import (
        domains_using_secret,
    )

    kept, _secret = defined_domain
    moved = f"t-moved-{uuid.uuid4().hex[:6]}"
    conn = libvirt.open(testenv["LIBVIRT_DEFAULT_URI"])
    try:
        for scan in (lambda c: [d["name"] for d in domains_rbd_disks(c)], rbd_image_references):
            gone = f"t-gone-{uuid.uuid4().hex[:6]}"
            conn.defineXML(domain_with_rbd_disks(gone, [("limiquantix-volumes", "vol-gone")], "127.0.0.1:6789",
                                                 "libvirt", str(uuid.uuid4())))
            seen = scan(_ListsThenUndefines(conn, gone))
            if isinstance(seen, dict):  # references: (pool, namespace, image) -> users
                assert ("limiquantix-volumes", "", "vol-gone") not in seen
                assert f"{kept} (defined, not running)" in seen[("limiquantix-volumes", "", "vol-info")]
            else:
                assert gone not in seen and kept in seen
            assert gone not in [dom.name() for dom in conn.listAllDomains(0)]

        # Undefined and defined anew in between (another UUID): read again by its name, so a
        # deletion's in-use check still sees that it uses its image.
        moved_secret = str(uuid.uuid4())
        xml = domain_with_rbd_disks(moved, [("limiquantix-volumes", "vol-moved")], "127.0.0.1:6789",
                                    "libvirt", moved_secret)
        conn.defineXML(xml)
        old_uuid = conn.lookupByName(moved).UUIDString()
        seen = rbd_image_references(_ListsThenUndefines(conn, moved, redefine=xml))  # no <uuid>: a new one
        assert conn.lookupByName(moved).UUIDString() != old_uuid
        assert seen[("limiquantix-volumes", "", "vol-moved")] == [f"{moved} (defined, not running)"]

        # libvirt_secret's refusal to remove a secret in use reads the host through the same
        # scan: the domain defined anew still uses the secret; one gone for good does not.
        secret = {"uuid": moved_secret, "usage_name": None}
        assert domains_using_secret(_ListsThenUndefines(conn, moved, redefine=xml), secret) == [
            {"name": moved, "running": False}]
        assert domains_using_secret(_ListsThenUndefines(conn, moved), secret) == []
    finally:
        remove_domain(conn, moved)
        conn.close()
