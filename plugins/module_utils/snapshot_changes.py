# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Each kind of snapshot change in one place, and the pure planning of rbd_snapshot.

A change is a frozen dataclass, as in ``image_changes``: ``action`` is its name in the
result's ``actions`` list, :meth:`SnapshotChange.predict` is what it does to the snapshot
dict check mode returns, :meth:`SnapshotChange.apply` calls one method of a
:class:`SnapshotTarget` (``snapshots.SnapshotTarget``, the binding layer), so this module
stays pure. :func:`plan_snapshot` decides which changes a task needs, or refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Optional, Protocol

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    InUseError,
    InvalidInputError,
    NotFoundError,
)

Snapshot = Optional[dict[str, Any]]  # the collection's snapshot dict; None when it does not exist


class SnapshotTarget(Protocol):
    """The snapshot a change is applied to, on its image opened read-write."""

    def create(self) -> None:
        """Create the snapshot."""

    def protect(self) -> None:
        """Protect it (clone format 1 parents)."""

    def unprotect(self) -> None:
        """Unprotect it."""

    def rollback(self) -> None:
        """Roll the image back to it."""

    def remove(self) -> None:
        """Remove it."""


@dataclass(frozen=True)
class SnapshotChange:
    """One change of one snapshot (or, for a rollback, of its image)."""

    action: ClassVar[str] = ""

    def describe(self) -> str:
        """The change's entry in the result's ``actions``."""
        return self.action

    def predict(self, snapshot: Snapshot, name: str, image_size: int) -> Snapshot:
        """The snapshot after the change (check mode); None when it will not exist."""
        return snapshot

    def apply(self, target: SnapshotTarget) -> None:
        raise NotImplementedError(self.action)


@dataclass(frozen=True)
class CreateSnapshot(SnapshotChange):
    action: ClassVar[str] = "create"

    def predict(self, snapshot: Snapshot, name: str, image_size: int) -> Snapshot:
        # A snapshot not yet created has no id and no timestamp: they are None.
        return {"name": name, "id": None, "size": image_size, "protected": False, "timestamp": None, "children": []}

    def apply(self, target: SnapshotTarget) -> None:
        target.create()


@dataclass(frozen=True)
class ProtectSnapshot(SnapshotChange):
    action: ClassVar[str] = "protect"
    protected: ClassVar[bool] = True

    def predict(self, snapshot: Snapshot, name: str, image_size: int) -> Snapshot:
        return None if snapshot is None else dict(snapshot, protected=self.protected)

    def apply(self, target: SnapshotTarget) -> None:
        target.protect()


@dataclass(frozen=True)
class UnprotectSnapshot(ProtectSnapshot):
    action: ClassVar[str] = "unprotect"
    protected: ClassVar[bool] = False

    def apply(self, target: SnapshotTarget) -> None:
        target.unprotect()


@dataclass(frozen=True)
class RollbackToSnapshot(SnapshotChange):
    """Changes the image (its data and size become the snapshot's), not the snapshot."""

    action: ClassVar[str] = "rollback"

    def apply(self, target: SnapshotTarget) -> None:
        target.rollback()


@dataclass(frozen=True)
class RemoveSnapshot(SnapshotChange):
    action: ClassVar[str] = "remove"

    def predict(self, snapshot: Snapshot, name: str, image_size: int) -> Snapshot:
        return None

    def apply(self, target: SnapshotTarget) -> None:
        target.remove()


# Every kind of snapshot change by its action name, in the order they are applied.
SNAPSHOT_CHANGE_KINDS: dict[str, type[SnapshotChange]] = {
    kind.action: kind
    for kind in (CreateSnapshot, ProtectSnapshot, UnprotectSnapshot, RollbackToSnapshot, RemoveSnapshot)
}


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


def _present_changes(image_ref: str, name: str, before: dict[str, Any], protected: bool | None,
                     rollback: bool, users: list[str]) -> list[SnapshotChange]:
    spec = f"{image_ref}@{name}"
    changes: list[SnapshotChange] = []
    if protected is True and not before["protected"]:
        changes.append(ProtectSnapshot())
    if protected is False and before["protected"]:
        _refuse_children(spec, before["children"], "unprotect")
        changes.append(UnprotectSnapshot())
    if rollback:
        if users:
            raise InUseError(
                f"cannot roll back image {image_ref} to snapshot {name}: the image is in use by "
                f"{', '.join(users)}; stop the client (shut the VM down) first",
                users=users,
            )
        changes.append(RollbackToSnapshot())
    return changes


def plan_snapshot(
    image_ref: str,
    name: str,
    before: Snapshot,
    state: str,
    protected: bool | None,
    rollback: bool,
    users: list[str],
) -> list[SnapshotChange]:
    """Ordered changes that bring snapshot ``name`` of an image to the wanted state.

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
        return ([UnprotectSnapshot()] if before["protected"] else []) + [RemoveSnapshot()]
    if before is None:
        if rollback:
            raise NotFoundError(f"cannot roll back to snapshot {spec}: it does not exist", snapshot=spec)
        return [CreateSnapshot()] + ([ProtectSnapshot()] if protected else [])
    return _present_changes(image_ref, name, before, protected, rollback, users)


def predict_snapshot(before: Snapshot, changes: list[SnapshotChange], name: str, image_size: int) -> Snapshot:
    """The snapshot as it will be after ``changes`` (for check mode)."""
    snapshot = before
    for change in changes:
        snapshot = change.predict(snapshot, name, image_size)
    return snapshot
