# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure planning of rbd_image: the changes that turn an image into the request, and the
image they leave (no bindings).

An *image* is the collection's image dict (``image_reads.image_dict``); a *plan* is the
ordered list of typed changes (``image_changes``) that turns the current image into the
request (:func:`plan_image`, :func:`deletion_plan`); :func:`predict_image` is the image
after the plan, which check mode returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_types import ImageDict
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.attachment_records import attachment_blocker
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InUseError, InvalidInputError
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_changes import (
    Change,
    Clone,
    Create,
    DisableFeatures,
    EnableFeatures,
    Flatten,
    Import,
    Metadata,
    Qos,
    Remove,
    RemoveSnapshots,
    Resize,
    Trash,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_request import (
    DEFAULT_FEATURES,
    DEFAULT_OBJECT_SIZE,
    MUTABLE_FEATURES,
    SELECTABLE_FEATURES,
    ImageRequest,
    request_spec,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.validation import format_size


@dataclass
class ImagePlan:
    """One image's plan: the request, the image before, the changes and the image after.

    ``after`` is predicted at planning and replaced by the image read back once applied;
    ``actions`` are the changes' lines for the result.
    """

    request: ImageRequest
    before: Optional[ImageDict]
    changes: list[Change]
    after: Optional[ImageDict]
    actions: list[str] = field(default_factory=list)

    @property
    def spec(self) -> str:
        return request_spec(self.request)

    @property
    def kinds(self) -> list[str]:
        """The actions of the changes, in order."""
        return [change.action for change in self.changes]


def feature_changes(current: list[str], wanted: list[str]) -> tuple[list[str], list[str]]:
    """(enable, disable) lists in an order librbd accepts; refuse immutable changes.

    Only selectable features are compared: striping and data-pool follow the layout.
    """
    have = [f for f in current if f in SELECTABLE_FEATURES]
    enable = [f for f in MUTABLE_FEATURES + SELECTABLE_FEATURES if f in wanted and f not in have]
    disable = [f for f in reversed(MUTABLE_FEATURES + ("deep-flatten", "layering"))
               if f in have and f not in wanted]
    enable = list(dict.fromkeys(enable))
    for name in enable:
        if name not in MUTABLE_FEATURES:
            raise InvalidInputError(
                f"feature {name!r} cannot be enabled on an existing image "
                f"(librbd can change only {', '.join(MUTABLE_FEATURES)}; deep-flatten can only be disabled)"
            )
    for name in disable:
        if name not in MUTABLE_FEATURES + ("deep-flatten",):
            raise InvalidInputError(
                f"feature {name!r} cannot be disabled on an existing image "
                f"(librbd can change only {', '.join(MUTABLE_FEATURES)}; deep-flatten can only be disabled)"
            )
    return enable, disable


def dict_changes(current: dict[str, Any], wanted: dict[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
    """(to set, to remove) that make ``current`` equal ``wanted``; nothing when wanted is None."""
    if wanted is None:
        return {}, []
    to_set = {k: v for k, v in sorted(wanted.items()) if current.get(k) != v}
    to_remove = sorted(k for k in current if k not in wanted)
    return to_set, to_remove


# ---------------------------------------------------------------- plans

def _immutable_mismatches(current: dict[str, Any], request: dict[str, Any]) -> list[str]:
    problems = []
    for key in ("object_size", "stripe_unit", "stripe_count", "data_pool"):
        if request[key] is not None and request[key] != current[key]:
            problems.append(f"{key} is {current[key]!r}, requested {request[key]!r}")
    return problems


def _starting_point(current: dict[str, Any] | None, request: dict[str, Any],
                    parent_size: int | None) -> tuple[list[Change], dict[str, Any]]:
    """The changes that make the image exist, and the settings it has then.

    A new image gets size, features and layout at creation (a clone starts at its
    parent's size, without QoS or metadata); an existing one must have the requested layout.
    """
    spec = request_spec(request)
    if current is None:
        if request["clone_from"] is None and request["size"] is None:
            raise InvalidInputError(f"size is required to create image {spec}")
        size = request["size"] if request["clone_from"] is None else parent_size
        return [Clone() if request["clone_from"] else Create()], {
            "size": size, "features": None, "qos": {}, "metadata": {}, "parent": request["clone_from"]}
    problems = _immutable_mismatches(current, request)
    if problems:
        raise InvalidInputError(
            f"image {spec} exists with another layout, which cannot change: {'; '.join(problems)}"
        )
    return [], current


def _resize(state: dict[str, Any], request: dict[str, Any]) -> list[Change]:
    size = state["size"]
    if request["size"] is None or request["size"] == size:
        return []
    if size is not None and request["size"] < size and not request["allow_shrink"]:
        raise InvalidInputError(
            f"image {request_spec(request)} is {format_size(size)}; shrinking it to "
            f"{format_size(request['size'])} destroys data beyond the new end: set allow_shrink: true to do it"
        )
    return [Resize(start=size, to=request["size"])]


def _settings(state: dict[str, Any], request: dict[str, Any]) -> list[Change]:
    """Features (of an existing image), QoS, metadata and flatten."""
    changes: list[Change] = []
    if state["features"] is not None and request["features"] is not None:
        enable, disable = feature_changes(state["features"], request["features"])
        changes += [DisableFeatures(features=disable)] if disable else []
        changes += [EnableFeatures(features=enable)] if enable else []
    qos_set, qos_remove = dict_changes(state["qos"], request["qos"])
    if qos_set or qos_remove:
        changes.append(Qos(set=qos_set, remove=qos_remove))
    meta_set, meta_remove = dict_changes(state["metadata"], request["metadata"])
    if meta_set or meta_remove:
        changes.append(Metadata(set=meta_set, remove=meta_remove))
    if request["flatten"] and state["parent"] is not None:
        changes.append(Flatten())
    return changes


def plan_image(current: ImageDict | None, request: dict[str, Any],
               parent_size: int | None = None, source: dict[str, Any] | None = None) -> list[Change]:
    """Ordered changes turning ``current`` (None when missing) into the request.

    ``parent_size`` is the size of the clone parent's snapshot when a clone is created;
    ``source`` the inspected file of ``request['source']`` (``disk_source.inspect_source``).

    Raises InvalidInputError for what cannot be done (shrink without allow_shrink,
    immutable layout, features librbd cannot change). Deletion checks (in use,
    snapshots) need the cluster; ``deletion_plan`` plans a deletion from what they found.
    """
    if request["state"] == "absent":
        if current is None:
            return []
        return [Trash() if request["trash"] else Remove()]
    if source is not None:
        request = sized_for_source(current, request, source)
    changes, state = _starting_point(current, request, parent_size)
    return changes + _resize(state, request) + _settings(state, request) + _import(current, source)


def sized_for_source(current: dict[str, Any] | None, request: dict[str, Any],
                     source: dict[str, Any]) -> dict[str, Any]:
    """The request with the size an import needs: the source's virtual size, or ``size`` when
    that is larger; an existing larger image keeps its size. A smaller ``size`` is an error."""
    virtual = source["virtual_size"]
    if request["size"] is not None and request["size"] < virtual:
        raise InvalidInputError(
            f"source {source['path']} holds a disk of {format_size(virtual)} ({virtual} bytes), larger than "
            f"size {format_size(request['size'])}: set size to at least that, or leave size unset")
    if request["size"] is None and (current is None or current["size"] < virtual):
        return dict(request, size=virtual)
    return request


def _import(current: dict[str, Any] | None, source: dict[str, Any] | None) -> list[Change]:
    """Import the source unless the image's record says it holds this very file (content digest, format)."""
    if source is None:
        return []
    record = (current or {}).get("source")
    if record and source["digest"] and (record["digest"], record["format"]) == (source["digest"], source["format"]):
        return []
    return [Import(path=source["path"], format=source["format"], file_size=source["file_size"],
                   mtime_ns=source["mtime_ns"], digest=source["digest"], previous=(record or {}).get("digest"))]


def describe_change(spec: str, change: Change) -> str:
    """One line for the result's ``actions`` list."""
    return change.describe(spec)


def predict_image(current: ImageDict | None, request: dict[str, Any],
                  changes: list[Change], parent_image: dict[str, Any] | None = None,
                  with_watchers: bool = True) -> ImageDict | None:
    """The image after the plan (what check mode reports); None when it will not exist.

    ``parent_image`` holds the clone parent snapshot's ``size`` and ``object_size`` (a clone inherits them).
    Values only the cluster knows (a new image's id) are None; so are a new image's
    watchers (none) when watchers are not reported (``with_watchers``).
    """
    if request["state"] == "absent":
        return None
    if not changes:
        return current
    image = new_image_dict(request, parent_image, with_watchers) if current is None else dict(current)
    for change in changes:
        change.predict(image)
    return image


def new_image_dict(request: dict[str, Any], parent_image: dict[str, Any] | None,
                   with_watchers: bool = True) -> ImageDict:
    """The image dict a create (or clone) makes, before resize and the rest (watchers: none,
    or None when watchers are not reported)."""
    features = list(request["features"] or DEFAULT_FEATURES)
    object_size = request["object_size"] or (parent_image or {}).get("object_size") or DEFAULT_OBJECT_SIZE
    stripe_unit = request["stripe_unit"] or object_size
    stripe_count = request["stripe_count"] or 1
    if stripe_unit != object_size or stripe_count != 1:
        features.append("striping")
    if request["data_pool"]:
        features.append("data-pool")
    size = request["size"] if request["clone_from"] is None else (parent_image or {}).get("size")
    return {
        "pool": request["pool"],
        "namespace": request["namespace"],
        "name": request["name"],
        "id": None,
        "size": size,
        "features": sorted(features),
        "object_size": object_size,
        "stripe_unit": stripe_unit,
        "stripe_count": stripe_count,
        "data_pool": request["data_pool"],
        "parent": dict(request["clone_from"]) if request["clone_from"] else None,
        "snapshots": [],
        "watchers": [] if with_watchers else None,
        "provisioned_bytes": size,
        "used_bytes": None,
        "qos": {},
        "metadata": {},
        "source": None,
    }


def deletion_blockers(spec: str, watchers: list[str], lockers: list[str], children: list[str],
                      domains: list[str] | None = None, attachments: list[dict[str, str]] | None = None) -> str | None:
    """Why an image must not be deleted, naming who holds it; None when nothing does."""
    reasons = []
    if domains:
        reasons.append(f"used by libvirt domain(s) {', '.join(domains)} on this host (detach the disk first)")
    if attachments:
        reasons.append(attachment_blocker(attachments))
    if watchers:
        reasons.append(f"opened by (watchers) {', '.join(watchers)}")
    if lockers:
        reasons.append(f"locked by {', '.join(lockers)}")
    if children:
        reasons.append(f"has clone children {', '.join(children)} (flatten or delete them first)")
    if not reasons:
        return None
    return f"image {spec} is in use, refusing to delete it: {'; '.join(reasons)}"


def deletion_plan(request: dict[str, Any], current: ImageDict,
                  users: dict[str, list[str]]) -> list[Change]:
    """Changes that delete (or trash) an existing image, or InUseError saying why not.

    ``users`` holds the image's ``watchers``, ``lockers``, ``children`` and optionally the
    libvirt ``domains`` of this host whose disks use it. An image in use
    is never deleted; its snapshots are deleted (unprotected first) only with ``force``;
    the trash keeps snapshots, so it needs no ``force``.
    """
    spec = request_spec(request)
    blocker = deletion_blockers(spec, users["watchers"], users["lockers"], users["children"],
                                users.get("domains"), users.get("attachments"))
    if blocker:
        raise InUseError(blocker, image=spec, **users)
    if request["trash"]:
        return [Trash()]
    snapshots = [s["name"] for s in current["snapshots"]]
    if snapshots and not request["force"]:
        raise InUseError(
            f"image {spec} has snapshots {', '.join(snapshots)}: set force: true to delete them with it "
            "(or trash: true to move the image and its snapshots to the trash)",
            image=spec, snapshots=snapshots,
        )
    changes: list[Change] = []
    if snapshots:
        protected = [s["name"] for s in current["snapshots"] if s["protected"]]
        changes.append(RemoveSnapshots(snapshots=snapshots, unprotect=protected))
    return changes + [Remove()]


def clone_format(setting: str, require_min_compat_client: str) -> int:
    """The clone format librbd uses: '1', '2', or 'auto' (2 when mimic+ clients are required)."""
    if setting in ("1", "2"):
        return int(setting)
    releases = ("argonaut", "bobtail", "cuttlefish", "dumpling", "emperor", "firefly", "giant",
                "hammer", "infernalis", "jewel", "kraken", "luminous", "mimic", "nautilus",
                "octopus", "pacific", "quincy", "reef", "squid", "tentacle")
    try:
        return 2 if releases.index(require_min_compat_client) >= releases.index("mimic") else 1
    except ValueError:
        return 1
