# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Attachment records as data: their keys and values, what a deletion blocker says, and the
plan that makes an image's records match its domains. Pure; reading and writing them is
``attachments`` (see there for the record format and why it lives in the image's metadata).
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Tuple

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InvalidInputError

RESERVED_METADATA_PREFIX = "limiquantix."
ATTACHMENT_KEY_PREFIX = RESERVED_METADATA_PREFIX + "attached/"
ImageRef = Tuple[str, str, str]  # (pool, namespace, image)


def is_reserved_metadata_key(key: str) -> bool:
    """Whether a metadata key belongs to the collection (never user metadata)."""
    return key.startswith(RESERVED_METADATA_PREFIX)


def refuse_reserved_metadata_keys(keys: Iterable[str]) -> None:
    """InvalidInputError for a user metadata key in the collection's reserved prefix."""
    for key in keys:
        if isinstance(key, str) and is_reserved_metadata_key(key):
            raise InvalidInputError(
                f"metadata key {key!r} starts with {RESERVED_METADATA_PREFIX!r}, which the collection "
                "reserves for its own records (attachment records of libvirt_rbd_disk): choose another key"
            )


def attachment_key(domain_uuid: str) -> str:
    return ATTACHMENT_KEY_PREFIX + domain_uuid


def attachment_value(host: str, domain: str, domain_uuid: str) -> str:
    return json.dumps({"host": host, "domain": domain, "uuid": domain_uuid}, sort_keys=True)


def parse_attachments(entries: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """The attachment records among an image's metadata entries, sorted by host and domain.

    A record whose value cannot be read still counts (it names what its key says), so a
    damaged record blocks a deletion instead of being ignored.
    """
    records = []
    for key, value in entries:
        if not key.startswith(ATTACHMENT_KEY_PREFIX):
            continue
        domain_uuid = key[len(ATTACHMENT_KEY_PREFIX):]
        try:
            data = json.loads(value)
            record = {"host": str(data["host"]), "domain": str(data["domain"]), "uuid": domain_uuid}
        except (ValueError, TypeError, KeyError):
            record = {"host": "(unreadable record)", "domain": f"UUID {domain_uuid}", "uuid": domain_uuid}
        records.append(dict(record, key=key))
    return sorted(records, key=lambda r: (r["host"], r["domain"], r["uuid"]))


def describe_attachments(records: list[dict[str, str]]) -> str:
    return ", ".join(f"domain {r['domain']} on host {r['host']}" for r in records)


def attachment_blocker(records: list[dict[str, str]] | None) -> str | None:
    """The deletion blocker text for attachment records; None when there are none."""
    if not records:
        return None
    return (
        f"attached to {describe_attachments(records)} (attachment record of libvirt_rbd_disk; detach the "
        "disk there with libvirt_rbd_disk state: absent, which removes the record; for a domain that no "
        "longer exists run the same task on that host: it clears the stale record)"
    )


def libvirt_check_skipped(reason: str) -> str:
    """The warning for a deletion whose local libvirt check could not run."""
    return (
        f"the libvirt check before deleting did not run on this host ({reason}): only watchers, locks, "
        "clone children and the attachment records of libvirt_rbd_disk protected the images; a disk "
        "attached without libvirt_rbd_disk to a stopped domain is not seen. Set check_libvirt: false "
        "on hosts without libvirt to silence this warning"
    )


def plan_attachment_record(state: dict[str, Any] | None, host: str, domain: str, domain_uuid: str,
                           attached: bool) -> dict[str, Any] | None:
    """What makes the image's records say whether ``domain`` (on ``host``) uses it.

    Besides the domain's own record (by UUID), a record naming the same host and domain
    name under another UUID is stale (libvirt names are unique per host: that domain was
    undefined and redefined) and is removed too. None when nothing is to do.
    """
    if state is None:
        return None
    key = attachment_key(domain_uuid) if domain_uuid else None
    value = attachment_value(host, domain, domain_uuid) if domain_uuid else None
    stale = [r["key"] for r in state["records"]
             if r["host"] == host and r["domain"] == domain and r["key"] != key]
    current = {r["key"]: r for r in state["records"]}
    set_keys: dict[str, str] = {}
    remove = list(stale)
    if attached and key:
        record = current.get(key)
        if record is None or (record["host"], record["domain"]) != (host, domain):
            set_keys[key] = value
    elif key and key in current:
        remove.append(key)
    if not set_keys and not remove:
        return None
    return {"set": set_keys, "remove": sorted(remove), "host": host, "domain": domain}


def describe_record_change(change: dict[str, Any], spec: str) -> str:
    if change["set"]:
        return f"record attachment of {spec} to domain {change['domain']} on host {change['host']}"
    return f"remove attachment record of {spec} for domain {change['domain']} on host {change['host']}"


def disk_image(disk: dict[str, Any] | None) -> ImageRef | None:
    """(pool, namespace, image) of a parsed RBD disk; None for no disk or a non-RBD one."""
    if not disk or not disk.get("pool") or not disk.get("image"):
        return None
    return disk["pool"], disk.get("namespace") or "", disk["image"]


def images_in_use(disks: list[dict[str, Any]], target: str | None = None,
                  leaving_scopes: Iterable[str] = ()) -> set[ImageRef]:
    """The images a domain's disks (``domain_rbd_disks``) use, as if the disk on ``target``
    had already left ``leaving_scopes`` (the check-mode prediction of a detach)."""
    leaving = set(leaving_scopes)
    used = set()
    for disk in disks:
        scopes = set(disk["scopes"]) - (leaving if disk["target"] == target else set())
        ref = disk_image(disk)
        if scopes and ref:
            used.add(ref)
    return used
