# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Each kind of image change in one place: what it holds, how it reads in ``actions``,
what it does to the predicted image (check mode) and how it is applied.

A change is a frozen dataclass. ``phase`` says where the image service applies it:
``"cluster"`` changes run before the image is opened (create, clone, protecting the
clone parent's snapshot, deletion), ``"open"`` changes on the image opened read-write.
:meth:`Change.apply` gets an :class:`ImageTarget` from the service, so this module
stays pure (no bindings): it imports nothing but the request vocabulary.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_types import ImageDict
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_request import (
    QOS_CONFIG_PREFIX,
    feature_bits,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.validation import format_size


class ImageTarget(Protocol):
    """What a change is applied to; the image service provides it."""

    request: dict[str, Any]
    image: Any  # the librbd image, open read-write, for "open" changes

    def create(self) -> None:
        """Create (or clone) the requested image."""

    def protect_parent_snapshot(self) -> None:
        """Protect the clone parent's snapshot (format 1 clones)."""

    def remove_snapshots(self, snapshots: list[str], unprotect: list[str]) -> None:
        """Remove the image's snapshots, unprotecting those in ``unprotect`` first."""

    def remove(self) -> None:
        """Delete the image."""

    def trash(self) -> None:
        """Move the image to the trash."""

    def import_source(self, change: "Import") -> str:
        """Write the source file's disk into the open image and record it; return its content digest."""


@dataclass(frozen=True)
class Change:
    """One change of one image."""

    action: ClassVar[str] = ""
    phase: ClassVar[str] = "open"

    def describe(self, spec: str) -> str:
        """The change's line in the result's ``actions``."""
        return f"{spec}: {self.action}"

    def predict(self, image: ImageDict) -> None:
        """Change the predicted image dict (check mode) as applying would."""

    def apply(self, target: ImageTarget) -> None:
        raise NotImplementedError(self.action)

    def as_dict(self) -> dict[str, Any]:
        """The change as plain data: its action and fields."""
        return dict({"action": self.action}, **dataclasses.asdict(self))


@dataclass(frozen=True)
class Create(Change):
    action: ClassVar[str] = "create"
    phase: ClassVar[str] = "cluster"

    def apply(self, target: ImageTarget) -> None:
        target.create()


@dataclass(frozen=True)
class Clone(Create):
    action: ClassVar[str] = "clone"


@dataclass(frozen=True)
class ProtectParentSnapshot(Change):
    """Format 1 clones need the parent's snapshot protected."""

    snapshot: str
    action: ClassVar[str] = "protect_parent_snapshot"
    phase: ClassVar[str] = "cluster"

    def describe(self, spec: str) -> str:
        return f"{spec}: protect snapshot {self.snapshot} (clone format 1)"

    def apply(self, target: ImageTarget) -> None:
        target.protect_parent_snapshot()


@dataclass(frozen=True)
class Resize(Change):
    start: int | None  # None: a clone's size before it is resized (its parent's)
    to: int
    action: ClassVar[str] = "resize"

    def describe(self, spec: str) -> str:
        start = format_size(self.start) if self.start is not None else "the parent's size"
        return f"{spec}: resize from {start} to {format_size(self.to)}"

    def predict(self, image: ImageDict) -> None:
        image["size"] = image["provisioned_bytes"] = self.to

    def apply(self, target: ImageTarget) -> None:
        target.image.resize(self.to, allow_shrink=target.request["allow_shrink"])

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "from": self.start, "to": self.to}


@dataclass(frozen=True)
class EnableFeatures(Change):
    """Features switched on one by one, in the planned order (librbd's dependency order)."""

    features: list[str]
    action: ClassVar[str] = "enable_features"
    enable: ClassVar[bool] = True

    def describe(self, spec: str) -> str:
        return f"{spec}: {self.action.partition('_')[0]} features {', '.join(self.features)}"

    def predict(self, image: ImageDict) -> None:
        image["features"] = sorted(set(image["features"]) | set(self.features))

    def apply(self, target: ImageTarget) -> None:
        # librbd switches dependants along (disabling fast-diff also disables the object
        # map), so each feature is checked again before it is changed; the object map is
        # rebuilt after enabling it, as `rbd feature enable` advises.
        for feature in self.features:
            bit = feature_bits([feature])
            if bool(target.image.features() & bit) != self.enable:
                target.image.update_features(bit, self.enable)
        if self.enable and {"object-map", "fast-diff"} & set(self.features):
            target.image.rebuild_object_map()


@dataclass(frozen=True)
class DisableFeatures(EnableFeatures):
    action: ClassVar[str] = "disable_features"
    enable: ClassVar[bool] = False

    def predict(self, image: ImageDict) -> None:
        image["features"] = sorted(f for f in image["features"] if f not in set(self.features))


@dataclass(frozen=True)
class Qos(Change):
    """QoS settings (librbd config overrides ``rbd_qos_*``) set and removed."""

    set: dict[str, Any]
    remove: list[str]
    action: ClassVar[str] = "qos"

    def describe(self, spec: str) -> str:
        parts = [f"set {', '.join(self.set)}"] if self.set else []
        parts += [f"remove {', '.join(self.remove)}"] if self.remove else []
        return f"{spec}: {self.action} {'; '.join(parts)}"

    def predict(self, image: ImageDict) -> None:
        values = {k: v for k, v in image[self.action].items() if k not in self.remove}
        values.update(self.set)
        image[self.action] = dict(sorted(values.items()))

    def apply(self, target: ImageTarget) -> None:
        for key, value in self.set.items():
            target.image.config_set(QOS_CONFIG_PREFIX + key, str(value))
        for key in self.remove:
            target.image.config_remove(QOS_CONFIG_PREFIX + key)


@dataclass(frozen=True)
class Metadata(Qos):
    """Image metadata (key/value pairs) set and removed."""

    action: ClassVar[str] = "metadata"

    def apply(self, target: ImageTarget) -> None:
        for key, value in self.set.items():
            target.image.metadata_set(key, value)
        for key in self.remove:
            target.image.metadata_remove(key)


@dataclass(frozen=True)
class Import(Change):
    """A disk image file's content written into the image (all of it, zeros skipped), then
    recorded in the image's metadata; ``digest`` (the file's content digest) is None when the plan
    did not need to read the file (the change was certain: computed while importing)."""

    path: str
    format: str
    file_size: int
    mtime_ns: int
    digest: str | None
    previous: str | None  # the digest the image's record held (None: no finished import)
    action: ClassVar[str] = "import"

    def describe(self, spec: str) -> str:
        checksum = f"digest {self.digest}" if self.digest else "digest computed while importing"
        replacing = f", replacing the import of digest {self.previous}" if self.previous else ""
        return f"{spec}: import {self.path} ({self.format}, {checksum}){replacing}"

    def predict(self, image: dict[str, Any]) -> None:
        image["source"] = {"digest": self.digest, "format": self.format, "size": self.file_size}
        image["used_bytes"] = None

    def apply(self, target: ImageTarget) -> None:
        target.import_source(self)


@dataclass(frozen=True)
class Flatten(Change):
    action: ClassVar[str] = "flatten"

    def predict(self, image: ImageDict) -> None:
        image["parent"] = None

    def apply(self, target: ImageTarget) -> None:
        target.image.flatten()


@dataclass(frozen=True)
class RemoveSnapshots(Change):
    """Snapshots deleted (the protected ones unprotected first) before the image is (force)."""

    snapshots: list[str]
    unprotect: list[str]
    action: ClassVar[str] = "remove_snapshots"
    phase: ClassVar[str] = "cluster"

    def describe(self, spec: str) -> str:
        return f"{spec}: remove snapshots {', '.join(self.snapshots)}"

    def apply(self, target: ImageTarget) -> None:
        target.remove_snapshots(self.snapshots, self.unprotect)


@dataclass(frozen=True)
class Remove(Change):
    action: ClassVar[str] = "remove"
    phase: ClassVar[str] = "cluster"

    def apply(self, target: ImageTarget) -> None:
        target.remove()


@dataclass(frozen=True)
class Trash(Change):
    action: ClassVar[str] = "trash"
    phase: ClassVar[str] = "cluster"

    def apply(self, target: ImageTarget) -> None:
        target.trash()


# Every kind of change by its action name.
CHANGE_KINDS: dict[str, type[Change]] = {
    kind.action: kind
    for kind in (Create, Clone, ProtectParentSnapshot, Resize, DisableFeatures, EnableFeatures, Qos, Metadata,
                 Import, Flatten, RemoveSnapshots, Remove, Trash)
}


def change_from_dict(data: dict[str, Any]) -> Change:
    """The change whose plain data (:meth:`Change.as_dict`) is ``data``."""
    fields = {key: value for key, value in data.items() if key != "action"}
    if "from" in fields:
        fields["start"] = fields.pop("from")
    return CHANGE_KINDS[data["action"]](**fields)
