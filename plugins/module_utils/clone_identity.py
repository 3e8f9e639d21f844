# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A clone's parent by identity (pool, image id, snapshot), not by name.

A clone's header holds its parent's pool id, image id and snapshot id; librbd names
them. A name can move on: the parent image goes to the trash and a new image with the
same name (and a snapshot of the same name) is made. These helpers mark a parent that
is in the trash, and refuse a ``clone_from`` that names another image than the one an
existing clone really depends on.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import CephRbdError, InvalidInputError
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_bindings import (
    image_id_in_trash,
    parent_image_id,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.validation import image_spec


def parent_spec(parent: dict[str, Any]) -> str:
    """``pool/[ns/]image@snap``, with `` (in trash)`` for a parent in the RBD trash."""
    spec = image_spec(parent["pool"], parent["namespace"], parent["image"], parent["snapshot"])
    return f"{spec} (in trash)" if parent.get("trash") else spec


def mark_parent_identity(catalog: Any, image: Any, clone: tuple[str, str, str],
                         parent: dict[str, Any] | None) -> dict[str, Any] | None:
    """Remember the parent's image id for ``clone`` (pool, namespace, name) and mark
    ``parent`` with ``trash: true`` when its name no longer lists that image."""
    if parent is None:
        return None
    try:
        parent_id = parent_image_id(image, image_spec(*clone))
        if parent_id is None:
            return parent
        catalog.parent_ids[clone] = parent_id
        listed = catalog.names(parent["pool"], parent["namespace"])
        if parent["image"] in listed and listed[parent["image"]] in (None, parent_id):
            return parent
        where = image_spec(parent["pool"], parent["namespace"], "").rstrip("/")
        trashed = image_id_in_trash(catalog.cluster.ioctx(parent["pool"], parent["namespace"]), parent_id, where)
    except CephRbdError:  # the parent as librbd names it is still the best answer
        return parent
    return dict(parent, trash=True) if trashed else parent


def check_clone_source(catalog: Any, request: dict[str, Any], current: dict[str, Any] | None) -> None:
    """Refuse ``clone_from`` for an existing clone whose parent is another image.

    Identity is the parent's pool, namespace, image id and snapshot: a parent in the
    trash, or an image that took its name since, is not the requested source. An
    existing image is never re-parented, so a mismatch is an error (not a change).
    An image without a parent (never a clone, or flattened) is left as it is.
    """
    source = request.get("clone_from")
    parent = (current or {}).get("parent")
    if not source or parent is None:
        return
    wanted = image_spec(source["pool"], source["namespace"], source["image"], source["snapshot"])
    clone = (request["pool"], request["namespace"], request["name"])
    parent_id = catalog.parent_ids.get(clone)
    try:
        source_id = catalog.names(source["pool"], source["namespace"]).get(source["image"])
    except CephRbdError:
        source_id = None
    same_name = (parent["pool"], parent["namespace"], parent["image"], parent["snapshot"]) == (
        source["pool"], source["namespace"], source["image"], source["snapshot"])
    same_id = not (parent_id and source_id) or parent_id == source_id
    if same_name and same_id and not parent.get("trash"):
        return
    have = parent_spec(parent) + (f" (image id {parent_id})" if parent_id else "")
    now = f" (image id {source_id})" if source_id else ""
    raise InvalidInputError(
        f"image {image_spec(*clone)} is a clone of {have}, not of {wanted}{now}: an existing "
        "image keeps its clone parent; delete the image and clone it again, or leave out clone_from"
    )
