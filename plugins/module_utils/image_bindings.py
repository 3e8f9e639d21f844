# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The thin librbd layer of the image service: one binding call per function.

Each function declares with :func:`binding_call` what it does (the start of any error
message) and what "not found" returns; callers never wrap these calls. Changes to an
open image (resize, features, QoS, metadata, flatten) go through the image object
that ``rbd_common.open_image`` yields, whose errors that context maps.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_types import ImageParent, ImageSnapshot
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import binding_call
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.rbd_common import user_snapshots

try:
    import rbd
except ImportError:  # the module reports missing bindings before calling in here
    rbd = None


@binding_call("list images in {where}")
def list_image_ids(ioctx: Any, where: str) -> dict[str, str]:
    """Image ids by name in the I/O context's pool/namespace: one ``list2``."""
    return {entry["name"]: entry["id"] for entry in rbd.RBD().list2(ioctx)}


@binding_call("look up namespace {namespace!r} in pool {pool!r}")
def namespace_exists(ioctx: Any, pool: str, namespace: str) -> bool:
    return rbd.RBD().namespace_exists(ioctx, namespace)


@binding_call("read {name} of pool {pool!r}", not_found=None)
def pool_config_value(ioctx: Any, pool: str, name: str) -> str | None:
    """An rbd setting of a pool (None when the pool does not override it)."""
    try:
        return rbd.RBD().config_get(ioctx, name)
    except KeyError:
        return None


@binding_call("open the clone parent {image_id} in {where}")
def name_and_snapshots_by_id(ioctx: Any, image_id: str, where: str) -> tuple[str, list[dict[str, Any]]]:
    """The name and user snapshots of the image with id ``image_id`` (one read-only open)."""
    with rbd.Image(ioctx, image_id=image_id, read_only=True) as image:
        return image.get_name(), user_snapshots(image)


@binding_call("create image {spec}")
def create_image(ioctx: Any, spec: str, name: str, size: int, features: int, layout: dict[str, Any]) -> None:
    """A new plain image; ``layout``: order, stripe_unit, stripe_count, data_pool."""
    rbd.RBD().create(ioctx, name, size, old_format=False, features=features, order=layout["order"] or 22,
                     stripe_unit=layout["stripe_unit"], stripe_count=layout["stripe_count"],
                     data_pool=layout["data_pool"])


@binding_call("clone image {spec}")
def clone_image(parent_ioctx: Any, parent: str, snapshot: str, ioctx: Any, spec: str, name: str,
                features: int, layout: dict[str, Any]) -> None:
    """A clone of ``parent@snapshot`` (an unset order inherits the parent's object size)."""
    rbd.RBD().clone(parent_ioctx, parent, snapshot, ioctx, name, features=features, **layout)


@binding_call("delete image {spec}")
def remove_image(ioctx: Any, spec: str, name: str) -> None:
    rbd.RBD().remove(ioctx, name)


@binding_call("clear the half-created image {spec} an interrupted run left", not_found=None)
def clear_half_created_image(ioctx: Any, spec: str, name: str) -> None:
    """Remove what an interrupted create left; "not found" is fine (librbd cleaned up all the same)."""
    rbd.RBD().remove(ioctx, name)


@binding_call("move image {spec} to the trash")
def trash_image(ioctx: Any, spec: str, name: str) -> None:
    rbd.RBD().trash_move(ioctx, name)


@binding_call("read the clone parent of an image", not_found=None)
def image_parent(image: Any) -> ImageParent | None:
    """The clone parent as pool, namespace, image, snapshot; None for an image that is no clone."""
    spec = image.get_parent_image_spec()
    return {
        "pool": spec["pool_name"],
        "namespace": spec.get("pool_namespace", ""),
        "image": spec["image_name"],
        "snapshot": spec["snap_name"],
    }


def used_bytes(image: Any) -> int:
    """Bytes of allocated objects of the image itself (diff-iterate; fast with fast-diff)."""
    total = [0]

    def count(_offset: int, length: int, exists: bool) -> int:
        if exists:
            total[0] += length
        return 0

    image.diff_iterate(0, image.size(), None, count, include_parent=False, whole_object=True)
    return total[0]


def image_snapshots(image: Any) -> list[ImageSnapshot]:
    """User snapshots of an open image: name, id, size, protected."""
    snapshots = []
    for snap in user_snapshots(image):
        snapshots.append({
            "name": snap["name"],
            "id": snap["id"],
            "size": snap["size"],
            "protected": image.is_protected_snap(snap["name"]),
        })
    return sorted(snapshots, key=lambda s: s["id"])


def image_settings(image: Any) -> dict[str, Any]:
    """Size, feature bits, object size, striping and data pool id of an open image."""
    stat = image.stat()
    return {
        "size": stat["size"],
        "features": image.features(),
        "object_size": stat["obj_size"],
        "stripe_unit": image.stripe_unit(),
        "stripe_count": image.stripe_count(),
        "data_pool_id": image.data_pool_id(),
    }


@binding_call("read the clone parent id of {spec}", not_found=None)
def parent_image_id(image: Any, spec: str) -> str | None:
    """The image id of an open clone's parent (None when it has no parent)."""
    return image.parent_id()


@binding_call("look up image id {image_id} in the trash of {where}", not_found=False)
def image_id_in_trash(ioctx: Any, image_id: str, where: str) -> bool:
    """Whether the image with id ``image_id`` is in the RBD trash of the I/O context's pool/namespace."""
    rbd.RBD().trash_get(ioctx, image_id)
    return True
