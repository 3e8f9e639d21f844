# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Live migration decisions, pure: which disks move without copying, what is refused and why.

A VM moves live between hypervisors only when every disk it has is on shared storage
(an RBD network disk): a local file would have to be copied. The target must then open
each RBD volume the way the source's QEMU does: the same cluster (fsid), the disk's cephx
user with the key held by the target's libvirt secret, and images with exclusive-lock
(without it two QEMUs could write the image during the hand-over).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InvalidInputError
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_disk_xml import parse_disk
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.validation import image_spec

# virDomainMigrate3 flags: live, defined (persistent) on the target, undefined on the source.
MIGRATION_FLAGS = ("VIR_MIGRATE_LIVE", "VIR_MIGRATE_PERSIST_DEST", "VIR_MIGRATE_UNDEFINE_SOURCE")
# What a migrated disk is reported as (and what the access check needs to open it).
DISK_KEYS = ("target", "pool", "namespace", "image", "mon_hosts", "auth_user", "secret_uuid", "secret_usage")
EXCLUSIVE_LOCK = "exclusive-lock"


def _local_source(elem: ET.Element) -> str | None:
    """What a non-RBD disk's source is (file, device, network protocol), None when it has none."""
    source = elem.find("source")
    if source is None:
        return None
    kind = elem.get("type", "file")
    if kind == "network":
        return f"network {source.get('protocol')} {source.get('name', '')}".strip()
    value = source.get("file") or source.get("dev") or source.get("dir") or source.get("volume")
    return f"{kind} {value}" if value else None


def classify_disks(domain_xml: str) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """(RBD disks, other disks with a source) of a domain's live XML.

    An empty CD-ROM drive has no source and moves as it is.
    """
    rbd_disks, local = [], []
    for elem in ET.fromstring(domain_xml).findall("./devices/disk"):
        disk = parse_disk(elem)
        if disk["pool"] is not None:
            rbd_disks.append({key: disk[key] for key in DISK_KEYS})
            continue
        source = _local_source(elem)
        if source is not None:
            local.append({"target": disk["target"], "source": source})
    return rbd_disks, local


def refuse_local_disks(host: str, domain: str, local: list[dict[str, str]]) -> None:
    """Raise when a disk is not on shared storage, naming host, VM and each disk."""
    if local:
        listed = "; ".join(f"disk {disk['target']} is {disk['source']}" for disk in local)
        raise InvalidInputError(
            f"cannot live-migrate VM {domain!r} from {host}: {listed}: not on shared storage. "
            "Only RBD network disks move without copying: move the data to an RBD volume, "
            "or detach the disk first",
            domain=domain, source=host, local_disks=local)


def refuse_not_running(host: str, domain: str) -> None:
    raise InvalidInputError(
        f"VM {domain!r} is defined on {host} but not running: a live migration moves a running "
        "VM (start it, or define it on the other host)", domain=domain, source=host)


def normalize_disks(disks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The keys of :data:`DISK_KEYS` of each disk (others ignored); pool and image are required."""
    normalized = []
    for index, disk in enumerate(disks):
        if not disk.get("pool") or not disk.get("image"):
            raise InvalidInputError(f"disks[{index}] needs pool and image, got keys {sorted(disk)}")
        item = {key: disk.get(key) for key in DISK_KEYS}
        item["namespace"] = item["namespace"] or ""
        item["mon_hosts"] = [str(host) for host in item["mon_hosts"] or []]
        normalized.append(item)
    return normalized


def disk_label(disk: dict[str, Any]) -> str:
    """``vda (pool/image)``: how messages name a disk."""
    return f"{disk.get('target')} ({image_spec(disk['pool'], disk.get('namespace') or '', disk['image'])})"


def credential_of(disk: dict[str, Any]) -> tuple[str, str | None, str | None, tuple[str, ...]]:
    """(cephx user, secret UUID, secret usage, monitors) a disk opens with."""
    return (disk.get("auth_user") or "admin", disk.get("secret_uuid"), disk.get("secret_usage"),
            tuple(disk.get("mon_hosts") or ()))


def credentials_of(disks: list[dict[str, Any]]) -> list[tuple[str, str | None, str | None, tuple[str, ...]]]:
    """The distinct credentials (:func:`credential_of`) the disks open with, in order."""
    seen: list[tuple[str, str | None, str | None, tuple[str, ...]]] = []
    for disk in disks:
        if credential_of(disk) not in seen:
            seen.append(credential_of(disk))
    return seen


def image_problem(host: str, domain: str, disk: dict[str, Any], features: list[str] | None) -> tuple[str, str] | None:
    """(why this host cannot take over the disk's image, the remedy), None when it can."""
    where = f"{host}: VM {domain!r} disk {disk_label(disk)}"
    spec = image_spec(disk["pool"], disk.get("namespace") or "", disk["image"])
    if features is None:
        return (f"{where}: the image does not exist in the cluster this host reaches",
                f"check the disk's pool and image, and that {host} reaches the source's cluster")
    if EXCLUSIVE_LOCK not in features:
        return (f"{where}: the image lacks the exclusive-lock feature: two QEMUs could write it "
                "during the hand-over",
                f"rbd feature enable {spec} exclusive-lock (or rbd_image with features including exclusive-lock)")
    return None


def fsid_problem(host: str, domain: str, user: str, fsid: str, expected: str | None) -> tuple[str, str] | None:
    if expected and fsid.lower() != expected.lower():
        return (f"{host}: VM {domain!r}: client.{user} reaches the cluster {fsid}, not {expected}: this "
                "host's ceph.conf or the disks' monitors name another cluster",
                f"point {host}'s ceph.conf (role ceph_client: ceph_client_fsid, ceph_client_mon_hosts) "
                f"or the disks' monitors at the cluster {expected}")
    return None


def secret_remedy(host: str, user: str) -> str:
    return (f"give {host} the libvirt secret with the current key of client.{user}: "
            f"playbooks/hypervisors.yml --limit {host} (role libvirt_secret)")


def unreachable_remedy(host: str, user: str) -> str:
    return (secret_remedy(host, user) + f"; and check that {host} reaches the monitors of the disks "
            "or of its ceph.conf (role ceph_client)")
