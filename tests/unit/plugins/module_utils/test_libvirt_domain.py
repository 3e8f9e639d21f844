# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils import libvirt_domain
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InUseError

libvirt = libvirt_domain.libvirt  # python3-libvirt, seen by the venv (system site packages)

DISK = "<disk type='network' device='disk'><target dev='sdb' bus='scsi'/></disk>"


class FakeDomain:
    """Keeps a disk in its live XML until ``releases_after`` reads (None: never)."""

    def __init__(self, releases_after):
        self.releases_after = releases_after
        self.reads = 0
        self.detached = []

    def name(self):
        return "vm"

    def detachDeviceFlags(self, xml, flags):  # noqa: N802  (libvirt's name)
        self.detached.append((xml, flags))

    def XMLDesc(self, flags):  # noqa: N802
        self.reads += 1
        gone = self.releases_after is not None and self.reads > self.releases_after
        return "<domain><devices>" + ("" if gone else DISK) + "</devices></domain>"


def test_live_detach_waits_for_the_guest_and_succeeds_when_the_disk_goes(monkeypatch):
    monkeypatch.setattr(libvirt_domain.time, "sleep", lambda _s: None)
    dom = FakeDomain(releases_after=2)
    libvirt_domain.detach_disk(dom, "live", ET.fromstring(DISK), "sdb")
    assert dom.detached[0][1] == libvirt.VIR_DOMAIN_AFFECT_LIVE
    assert dom.reads == 3


def test_live_detach_the_guest_ignores_is_an_error_naming_the_disk(monkeypatch):
    monkeypatch.setattr(libvirt_domain, "DETACH_GRACE_SECONDS", 0.0)
    dom = FakeDomain(releases_after=None)
    with pytest.raises(InUseError, match="did not release disk sdb.*persistent config was left unchanged"):
        libvirt_domain.detach_disk(dom, "live", ET.fromstring(DISK), "sdb")


def test_config_detach_does_not_read_the_live_xml():
    dom = FakeDomain(releases_after=None)
    libvirt_domain.detach_disk(dom, "config", ET.fromstring(DISK), "sdb")
    assert dom.reads == 0 and dom.detached[0][1] == libvirt.VIR_DOMAIN_AFFECT_CONFIG
