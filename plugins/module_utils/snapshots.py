# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""RBD snapshots: reading one snapshot, planning the changes a task asks for, applying them.

The planning functions (:func:`plan_snapshot`, :func:`predict_snapshot`) are pure:
they take the snapshot as read (a dict, or None when it does not exist) and return
the ordered actions, or raise the collection's error when a change must be refused.
Reading and applying take an open ``rbd.Image`` (see ``rbd_common.open_image``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    InUseError,
    InvalidInputError,
    NotFoundError,
    translated_errors,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.rbd_common import (
    image_lockers,
    image_spec,
    image_watchers,
    is_user_snapshot,
)

# Actions in the order they are applied.
CREATE = "create"
PROTECT = "protect"
UNPROTECT = "unprotect"
ROLLBACK = "rollback"
REMOVE = "remove"


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


def read_snapshot(image: Any, name: str) -> dict[str, Any] | None:
    """The snapshot ``name`` of an open image as the collection's dict, or None when missing."""
    with translated_errors(f"read snapshot {name!r}"):
        entry = find_user_snapshot(list(image.list_snaps()), name)
        if entry is None:
            return None
        return describe_snapshot(
            entry,
            protected=image.is_protected_snap(name),
            timestamp=image.get_snap_timestamp(entry["id"]),
            children=snapshot_children(image, name),
        )


def image_users(image: Any) -> list[str]:
    """Who holds an open image: watchers (clients that have it open) and lock owners.

    Open the image read-only to call this: a read-only open registers no watcher.
    """
    with translated_errors("list the image's watchers and lock owners"):
        return [f"{addr} (watcher)" for addr in image_watchers(image)] + [
            f"{holder} (lock owner)" for holder in image_lockers(image)
        ]


def validate_snapshot_request(state: str, protected: bool | None, rollback: bool) -> None:
    """Refuse option combinations that contradict each other."""
    if state == "absent" and rollback:
        raise InvalidInputError("rollback=true needs state=present: cannot roll back to a snapshot being removed")
    if state == "absent" and protected:
        raise InvalidInputError("protected=true contradicts state=absent")


def _refuse_children(spec: str, children: list[str], doing: str) -> None:
    if children:
        raise InUseError(
            f"cannot {doing} snapshot {spec}: it has clone children: {', '.join(children)}; "
            "flatten or remove them first",
            children=children,
        )


def plan_snapshot(
    image_ref: str,
    name: str,
    before: dict[str, Any] | None,
    state: str,
    protected: bool | None,
    rollback: bool,
    users: list[str],
) -> list[str]:
    """Ordered actions that bring snapshot ``name`` of an image to the wanted state.

    ``image_ref`` is the image's spec (``pool/[namespace/]image``), used in messages.
    ``before`` is the snapshot as read (None when missing), ``users`` the image's
    watchers and lock owners (only consulted for a rollback). ``protected`` None
    leaves protection as it is (and creates an unprotected snapshot).
    Raises InUseError for removals or unprotections that clone children block and
    for a rollback of an image in use; NotFoundError for a rollback to a missing snapshot.
    """
    validate_snapshot_request(state, protected, rollback)
    spec = f"{image_ref}@{name}"
    if state == "absent":
        if before is None:
            return []
        _refuse_children(spec, before["children"], "remove")
        return ([UNPROTECT] if before["protected"] else []) + [REMOVE]

    actions = []
    if before is None:
        if rollback:
            raise NotFoundError(f"cannot roll back to snapshot {spec}: it does not exist", snapshot=spec)
        actions.append(CREATE)
        if protected:
            actions.append(PROTECT)
        return actions
    if protected is True and not before["protected"]:
        actions.append(PROTECT)
    if protected is False and before["protected"]:
        _refuse_children(spec, before["children"], "unprotect")
        actions.append(UNPROTECT)
    if rollback:
        if users:
            raise InUseError(
                f"cannot roll back image {image_ref} to snapshot {name}: the image is in use by "
                f"{', '.join(users)}; stop the client (shut the VM down) first",
                users=users,
            )
        actions.append(ROLLBACK)
    return actions


def predict_snapshot(
    before: dict[str, Any] | None, actions: list[str], name: str, image_size: int
) -> dict[str, Any] | None:
    """The snapshot as it will be after ``actions`` (for check mode).

    A snapshot not yet created has no id and no timestamp: they are None.
    """
    if REMOVE in actions:
        return None
    if CREATE in actions:
        before = {"name": name, "id": None, "size": image_size, "protected": False,
                  "timestamp": None, "children": []}
    if before is None:
        return None
    after = dict(before)
    if PROTECT in actions:
        after["protected"] = True
    if UNPROTECT in actions:
        after["protected"] = False
    return after


def apply_snapshot_actions(image: Any, spec: str, name: str, actions: list[str]) -> None:
    """Run the planned actions on an image opened read-write."""
    steps = {
        CREATE: ("create snapshot", image.create_snap),
        PROTECT: ("protect snapshot", image.protect_snap),
        UNPROTECT: ("unprotect snapshot", image.unprotect_snap),
        ROLLBACK: ("roll back to snapshot", image.rollback_to_snap),
        REMOVE: ("remove snapshot", image.remove_snap),
    }
    for action in actions:
        what, call = steps[action]
        with translated_errors(f"{what} {spec}"):
            call(name)
