# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""libvirt calls on a domain's disks: read, attach, update, detach (verified), resize, I/O limits."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    InUseError,
    NotFoundError,
    binding_call,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_disk_xml import (
    IOTUNE_KEYS,
    find_disk_element,
    rbd_disks_in_domain_xml,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_domain_reads import (
    domain_definitions,
    domain_xml,
    find_domain,
    on_domain,
    scan_domains,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_secrets import (
    lookup_secret,
    secret_usage_type,
    uuid_for_usage,
)

try:
    import libvirt
except ImportError:  # reported by the module through missing_required_lib
    libvirt = None

# How long to keep looking for a live disk to disappear after libvirt returned from the
# detach (libvirt itself waits about 5 s for the guest before it returns).
DETACH_GRACE_SECONDS = 3.0
SCOPE_FLAGS = {"live": "VIR_DOMAIN_AFFECT_LIVE", "config": "VIR_DOMAIN_AFFECT_CONFIG"}


def _flag(scope: str) -> int:
    return getattr(libvirt, SCOPE_FLAGS[scope])


def lookup_domain(conn: Any, name: str) -> Any:
    """The domain called ``name``; NotFoundError when there is none."""
    dom = find_domain(conn, name)
    if dom is None:
        raise NotFoundError(f"domain {name!r} does not exist on this libvirt host", domain=name)
    return dom


@binding_call("read the name and UUID of a domain")
def domain_identity(dom: Any) -> tuple[str, str]:
    """(name, UUID) of a domain: what its attachment records name."""
    return dom.name(), dom.UUIDString()


def disk_element(dom: Any, scope: str, target: str) -> ET.Element | None:
    """The ``<disk>`` with target ``target`` in one scope, or None."""
    return find_disk_element(domain_xml(dom, scope), target)


def check_secret(conn: Any, secret_uuid: str | None, secret_usage: str | None) -> None:
    """Raise NotFoundError unless the ceph secret exists (by UUID or usage)."""
    if secret_uuid:
        what = f"with UUID {secret_uuid}"
        secret = lookup_secret(conn, secret_uuid)
        is_ceph = secret is not None and secret_usage_type(secret, secret_uuid) == libvirt.VIR_SECRET_USAGE_TYPE_CEPH
        found = secret is not None
    else:
        what = f"of type ceph with usage {secret_usage!r}"
        found = is_ceph = uuid_for_usage(conn, "ceph", secret_usage) is not None
    if not found:
        raise NotFoundError(
            f"there is no libvirt secret {what} on this host: define it first (limiquantix.ceph_rbd.libvirt_secret)"
        )
    if not is_ceph:
        raise NotFoundError(f"the libvirt secret {what} is not a ceph secret")


@binding_call(on_domain("attach the disk to the {scope} definition of domain {domain}"))
def attach_disk(dom: Any, scope: str, xml: str) -> None:
    """Attach a disk in one scope."""
    dom.attachDeviceFlags(xml, _flag(scope))


@binding_call(on_domain("update the disk in the config of domain {domain}"))
def update_config_disk(dom: Any, xml: str) -> None:
    """Replace the persistent config's disk that has the same target."""
    dom.updateDeviceFlags(xml, _flag("config"))


@binding_call(on_domain("detach disk {target} from the {scope} definition of domain {domain}"))
def detach_device(dom: Any, scope: str, xml: str, target: str) -> None:
    dom.detachDeviceFlags(xml, _flag(scope))


def detach_disk(dom: Any, scope: str, elem: ET.Element, target: str) -> None:
    """Detach a disk; for 'live', check that it is really gone and raise InUseError if not.

    libvirt returns from a live detach after about 5 s even when the guest ignored the
    unplug request; the device then stays attached, so the live XML is the judge.
    """
    detach_device(dom, scope, ET.tostring(elem, encoding="unicode"), target)
    if scope != "live":
        return
    deadline = time.monotonic() + DETACH_GRACE_SECONDS
    while disk_element(dom, "live", target) is not None:
        if time.monotonic() >= deadline:
            raise InUseError(
                f"the guest of domain {dom.name()!r} did not release disk {target}: the unplug request "
                "is still pending and the disk stays attached to the running domain (a virtio disk "
                "needs a guest OS that acknowledges the unplug; scsi disks detach at once). The "
                "persistent config was left unchanged; shut the domain down or re-run when the guest "
                "has released the disk",
                target=target,
            )
        time.sleep(0.2)


@binding_call(on_domain("read the size of disk {target} of domain {domain}"))
def block_capacity(dom: Any, target: str) -> int:
    """The size in bytes of the disk as the running guest sees it."""
    return int(dom.blockInfo(target)[0])


@binding_call(on_domain("resize disk {target} of domain {domain}"))
def block_resize(dom: Any, target: str, size: int) -> None:
    """Tell the running guest its disk has ``size`` bytes."""
    dom.blockResize(target, size, libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)


@binding_call(on_domain("set the I/O limits of disk {target} of domain {domain}"))
def set_live_iotune(dom: Any, target: str, iotune: dict[str, int]) -> None:
    """Apply I/O limits to a running disk (missing limits are cleared)."""
    dom.setBlockIoTune(target, {key: int(iotune.get(key, 0)) for key in IOTUNE_KEYS}, _flag("live"))


def domain_rbd_disks(dom: Any) -> dict[str, Any]:
    """A domain's state and its RBD disks, from the running definition when it runs
    (else the persistent config), each disk marked with the scopes it is in."""
    state, definitions = domain_definitions(dom)
    disks: dict[str, dict[str, Any]] = {}
    for scope, xml in definitions.items():
        for disk in rbd_disks_in_domain_xml(xml):
            entry = disks.setdefault(disk["target"], dict(disk, scopes=[]))
            entry["scopes"].append(scope)
    return {"name": dom.name(), "running": state["running"], "persistent": state["persistent"],
            "disks": sorted(disks.values(), key=lambda disk: disk["target"])}


def domains_rbd_disks(conn: Any, name: str | None = None) -> list[dict[str, Any]]:
    """:func:`domain_rbd_disks` of the domain called ``name``, or of every domain of the host
    (:func:`scan_domains`: a domain gone mid-scan is read again by its name, or left out)."""
    if name is not None:
        return [domain_rbd_disks(lookup_domain(conn, name))]
    return scan_domains(conn, domain_rbd_disks)


def rbd_image_references(conn: Any) -> dict[tuple[str, str, str], list[str]]:
    """Which domains of the host use which RBD image: (pool, namespace, image) ->
    ['vm-1 (running)', 'vm-2 (defined, not running)'], from live and persistent definitions."""
    references: dict[tuple[str, str, str], list[str]] = {}
    for domain in domains_rbd_disks(conn):
        label = f"{domain['name']} ({'running' if domain['running'] else 'defined, not running'})"
        for disk in domain["disks"]:
            users = references.setdefault((disk["pool"], disk["namespace"], disk["image"]), [])
            if label not in users:
                users.append(label)
    return references
