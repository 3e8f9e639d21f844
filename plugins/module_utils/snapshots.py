# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""RBD snapshots on an open ``rbd.Image`` (see ``rbd_common.open_image``): reading one
snapshot and who holds the image, and :class:`SnapshotTarget`, what the changes of
``snapshot_changes`` (planned there, purely) are applied to: one librbd call each.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import binding_call
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.rbd_common import (
    image_lockers,
    image_spec,
    image_watchers,
    is_user_snapshot,
)


def format_timestamp(value: datetime | None) -> str | None:
    """ISO 8601 UTC form of librbd's snapshot timestamp (a naive UTC datetime)."""
    if value is None:
        return None
    return value.replace(tzinfo=None, microsecond=0).isoformat() + "Z"


def child_specs(children: list[dict[str, Any]]) -> list[str]:
    """Image specs ``pool/[namespace/]image`` of ``list_children2`` entries, sorted.

    A child that sits in the RBD trash still depends on the snapshot; it is named
    with `` (in trash)`` appended so the operator knows where to look.
    """
    specs = []
    for child in children:
        spec = image_spec(child["pool"], child.get("pool_namespace") or "", child["image"])
        specs.append(f"{spec} (in trash)" if child.get("trash") else spec)
    return sorted(specs)


def describe_snapshot(
    entry: dict[str, Any], protected: bool, timestamp: datetime | None, children: list[str]
) -> dict[str, Any]:
    """The collection's snapshot dict from a ``list_snaps`` entry and what was read about it."""
    return {
        "name": entry["name"],
        "id": entry["id"],
        "size": entry["size"],
        "protected": bool(protected),
        "timestamp": format_timestamp(timestamp),
        "children": sorted(children),
    }


def find_user_snapshot(entries: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    """The ``list_snaps`` entry of the user snapshot called ``name``, or None."""
    for entry in entries:
        if entry["name"] == name and is_user_snapshot(entry):
            return entry
    return None


def snapshot_children(image: Any, name: str) -> list[str]:
    """Specs of the clones made from snapshot ``name`` of an open image."""
    image.set_snap(name)
    try:
        return child_specs(list(image.list_children2()))
    finally:
        image.set_snap(None)


@binding_call("read snapshot {name!r}")
def read_snapshot(image: Any, name: str) -> dict[str, Any] | None:
    """The snapshot ``name`` of an open image as the collection's dict, or None when missing."""
    entry = find_user_snapshot(list(image.list_snaps()), name)
    if entry is None:
        return None
    return describe_snapshot(
        entry,
        protected=image.is_protected_snap(name),
        timestamp=image.get_snap_timestamp(entry["id"]),
        children=snapshot_children(image, name),
    )


@binding_call("list the image's watchers and lock owners")
def image_users(image: Any) -> list[str]:
    """Who holds an open image: watchers (clients that have it open) and lock owners.

    Open the image read-only to call this: a read-only open registers no watcher.
    """
    return [f"{addr} (watcher)" for addr in image_watchers(image)] + [
        f"{holder} (lock owner)" for holder in image_lockers(image)
    ]


def _snapshot_call(what: str, method: str) -> Callable[[Any, str, str], None]:
    """One librbd call on snapshot ``name`` of an open image, its errors declared once."""
    @binding_call(what + " {spec}")
    def call(image: Any, spec: str, name: str) -> None:
        getattr(image, method)(name)

    return call


_create_snap = _snapshot_call("create snapshot", "create_snap")
_protect_snap = _snapshot_call("protect snapshot", "protect_snap")
_unprotect_snap = _snapshot_call("unprotect snapshot", "unprotect_snap")
_rollback_to_snap = _snapshot_call("roll back to snapshot", "rollback_to_snap")
_remove_snap = _snapshot_call("remove snapshot", "remove_snap")


class SnapshotTarget:
    """Snapshot ``name`` of an image opened read-write, as ``snapshot_changes`` applies changes.

    ``spec`` (``pool/[namespace/]image@name``) starts the message of a failed call.
    """

    def __init__(self, image: Any, spec: str, name: str) -> None:
        self.image, self.spec, self.name = image, spec, name

    def create(self) -> None:
        _create_snap(self.image, self.spec, self.name)

    def protect(self) -> None:
        _protect_snap(self.image, self.spec, self.name)

    def unprotect(self) -> None:
        _unprotect_snap(self.image, self.spec, self.name)

    def rollback(self) -> None:
        _rollback_to_snap(self.image, self.spec, self.name)

    def remove(self) -> None:
        _remove_snap(self.image, self.spec, self.name)
