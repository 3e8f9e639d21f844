# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-run caches of the image service over one connection (:class:`ImageCatalog`).

A batch of hundreds of images lists each pool/namespace once, reads each clone
parent, pool detail and clone format once, and keeps the listings true as it
creates and deletes.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import CephCluster
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    CephRbdError,
    InvalidInputError,
    NotFoundError,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_bindings import (
    list_image_ids,
    name_and_snapshots_by_id,
    namespace_exists,
    pool_config_value,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_plan import clone_format
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.rbd_common import open_image, user_snapshots
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.validation import image_spec


def namespace_ids(cluster: CephCluster, pool: str, namespace: str) -> dict[str, str]:
    """Image ids by name in a pool/namespace: one ``list2``."""
    return list_image_ids(cluster.ioctx(pool, namespace), image_spec(pool, namespace, "").rstrip("/"))


class ImageCatalog:
    """Per-run caches over one connection: listings, namespaces, pools, parents, clone format."""

    def __init__(self, cluster: CephCluster) -> None:
        self.cluster = cluster
        self.own_client_id = cluster.instance_id()
        self._names: dict[tuple[str, str], dict[str, str | None]] = {}
        self._pool_details: dict[str, dict[str, Any]] | None = None
        self._pool_names: dict[int, str] = {}
        self._parents: dict[str, dict[str, Any]] = {}
        self._clone_parents: dict[tuple[int, str, str, int], dict[str, Any] | None] = {}
        self._clone_formats: dict[str, int] = {}
        # (pool, namespace, clone name) -> its parent's image id (see clone_identity).
        self.parent_ids: dict[tuple[str, str, str], str] = {}

    def names(self, pool: str, namespace: str) -> dict[str, str | None]:
        """Image ids by name in a pool/namespace, listed once (NotFoundError for a missing namespace).

        The id of an image this run created is None.
        """
        key = (pool, namespace)
        if key not in self._names:
            if namespace and not namespace_exists(self.cluster.ioctx(pool), pool, namespace):
                raise NotFoundError(
                    f"namespace {namespace!r} does not exist in pool {pool!r}: create it first "
                    "(rbd_pool's namespaces option); rbd_image does not create namespaces",
                    pool=pool, namespace=namespace,
                )
            self.cluster.deadline.check(f"list images in {image_spec(pool, namespace, '').rstrip('/')}")
            try:
                self._names[key] = namespace_ids(self.cluster, pool, namespace)
            except CephRbdError as error:
                self.cluster.deadline.note(error)
                raise
        return self._names[key]

    def pool_name(self, pool_id: int) -> str:
        if pool_id not in self._pool_names:
            self._pool_names[pool_id] = self.cluster.pool_name(pool_id)
        return self._pool_names[pool_id]

    def pool_detail(self, pool: str) -> dict[str, Any] | None:
        if self._pool_details is None:
            details = self.cluster.mon_command("osd pool ls", detail="detail") or []
            self._pool_details = {d["pool_name"]: d for d in details}
        return self._pool_details.get(pool)

    def check_data_pool(self, pool: str) -> None:
        """A data pool must be an erasure-coded pool that allows overwrites."""
        detail = self.pool_detail(pool)
        if detail is None:
            raise NotFoundError(f"data_pool {pool!r} does not exist", pool=pool)
        if detail.get("type") != 3:
            raise InvalidInputError(
                f"data_pool {pool!r} is not an erasure-coded pool: data_pool is for an EC pool with "
                "allow_ec_overwrites (a replicated pool holds images directly: use it as pool)"
            )
        if "ec_overwrites" not in (detail.get("flags_names") or "").split(","):
            raise InvalidInputError(
                f"data_pool {pool!r} does not allow overwrites: set allow_ec_overwrites on it first "
                "(rbd_pool allow_ec_overwrites: true)"
            )

    def clone_format(self, pool: str) -> int:
        """The clone format librbd will use for a clone in ``pool`` (1 needs protected snapshots)."""
        if pool not in self._clone_formats:
            setting = pool_config_value(self.cluster.ioctx(pool), pool, "rbd_default_clone_format")
            if setting is None:
                setting = self.cluster.conf_get("rbd_default_clone_format")
            compat = ""
            if setting not in ("1", "2"):
                compat = (self.cluster.mon_command("osd dump") or {}).get("require_min_compat_client", "")
            self._clone_formats[pool] = clone_format(setting, compat)
        return self._clone_formats[pool]

    def parent(self, source: dict[str, Any]) -> dict[str, Any]:
        """The clone source snapshot (size, object size, protected), read once per snapshot."""
        spec = image_spec(source["pool"], source["namespace"], source["image"], source["snapshot"])
        if spec not in self._parents:
            if source["image"] not in self.names(source["pool"], source["namespace"]):
                raise NotFoundError(f"clone_from {spec}: image {image_spec(source['pool'], source['namespace'], source['image'])} does not exist")
            with open_image(self.cluster, source["pool"], source["namespace"], source["image"]) as image:
                snaps = {s["name"]: s for s in user_snapshots(image)}
                if source["snapshot"] not in snaps:
                    raise NotFoundError(
                        f"clone_from {spec}: snapshot {source['snapshot']!r} does not exist "
                        f"(snapshots: {', '.join(sorted(snaps)) or 'none'})"
                    )
                self._parents[spec] = {
                    "spec": spec,
                    "size": snaps[source["snapshot"]]["size"],
                    "object_size": image.stat()["obj_size"],
                    "protected": image.is_protected_snap(source["snapshot"]),
                }
        return self._parents[spec]

    def clone_parent(self, ref: dict[str, Any]) -> dict[str, Any] | None:
        """A clone's parent by name (as ``image_parent`` gives it) from the ids in the
        clone's header; one read-only open per parent and run.

        None when the parent cannot be named that way (gone, in the trash, its
        snapshot not a user snapshot, any error): the clone is then opened in librbd.
        """
        key = (ref["pool_id"], ref["namespace"], ref["image_id"], ref["snap_id"])
        if key not in self._clone_parents:
            try:
                self._clone_parents[key] = self._name_parent(*key)
            except CephRbdError:
                self._clone_parents[key] = None
        return self._clone_parents[key]

    def _name_parent(self, pool_id: int, namespace: str, image_id: str, snap_id: int) -> dict[str, Any] | None:
        pool = self.pool_name(pool_id)
        name, snapshots = name_and_snapshots_by_id(self.cluster.ioctx(pool, namespace), image_id,
                                                   image_spec(pool, namespace, ""))
        snaps = [s["name"] for s in snapshots if s["id"] == snap_id]
        listed = self.names(pool, namespace)
        if name not in listed or listed[name] not in (None, image_id) or len(snaps) != 1:
            return None
        return {"pool": pool, "namespace": namespace, "image": name, "snapshot": snaps[0]}

    def forget(self, pool: str, namespace: str, name: str, exists: bool) -> None:
        """Keep the cached listing true after a create or delete."""
        names = self._names.get((pool, namespace))
        if names is None:
            return
        if exists:
            names.setdefault(name, None)
        else:
            names.pop(name, None)
