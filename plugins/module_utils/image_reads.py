# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading images for the image service: the collection's image dict, one image or many.

Opening an image costs about 3 ms of client CPU (librbd copies its whole
configuration into every image context) plus a few round trips. So an image
without snapshots that is only read (no usage, no watchers, not to be deleted)
is read from its header object instead, all of them at once (``image_headers``), and
the images that must be opened are opened by a few threads at once
(:func:`run_concurrently`; librbd is thread-safe and the bindings release the
GIL while librbd works).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, NamedTuple, Optional, Sequence, Tuple, TypeVar

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_types import ImageDict
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.attachments import read_attachments
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import CephCluster
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.clone_identity import mark_parent_identity
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.disk_formats import source_record
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import CephRbdError, NotFoundError
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_bindings import (
    image_parent,
    image_settings,
    image_snapshots,
    used_bytes,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_catalog import ImageCatalog
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_headers import (
    read_image_metadata,
    read_headers,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_request import (
    feature_names,
    split_image_metadata,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.rbd_common import (
    image_children,
    image_lockers,
    image_watcher_clients,
    image_watchers,
    open_image,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.validation import image_spec

# Threads reading or creating/deleting images at once. The work is client CPU
# (librbd's per-image set-up) and round trips: more threads than this bring
# nothing on a small host and only add contention on a big one.
MAX_WORKERS = 8

Item = TypeVar("Item")
Outcome = Tuple[Any, Optional[CephRbdError]]  # (result, error) of one item


class ReadDetails(NamedTuple):
    """What to read of an image beyond its settings: each needs the image opened in librbd."""

    usage: bool = False  # used_bytes (diff-iterate; expensive without fast-diff)
    watchers: bool = False  # the clients that have the image open


def run_concurrently(func: Callable[[Item], Any], items: Sequence[Item],
                     workers: int = MAX_WORKERS) -> list[Outcome]:
    """``func`` over ``items`` on up to ``workers`` threads; (result, error) per item, in order.

    A CephRbdError is returned as the item's error (the caller decides which one
    to report); any other exception propagates.
    """
    def call(item: Item) -> Outcome:
        try:
            return func(item), None
        except CephRbdError as error:
            return None, error

    if len(items) <= 1 or workers <= 1:
        return [call(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as executor:
        return list(executor.map(call, items))


def image_dict(pool: str, namespace: str, name: str, image_id: str | None, catalog: ImageCatalog,
               settings: dict[str, Any], **state: Any) -> ImageDict:
    """The collection's image dict.

    ``settings`` holds ``size``, ``features`` (bits), ``object_size``, ``stripe_unit``,
    ``stripe_count``, ``data_pool_id`` and ``metadata`` (key/value pairs, QoS
    settings included); ``state`` holds ``parent``, ``snapshots``, ``watchers``
    and ``used_bytes``.
    """
    features = feature_names(settings["features"])
    entries = list(settings["metadata"])
    qos, metadata = split_image_metadata(entries)
    data_pool = catalog.pool_name(settings["data_pool_id"]) if "data-pool" in features else None
    return {
        "pool": pool,
        "namespace": namespace,
        "name": name,
        "id": image_id,
        "size": settings["size"],
        "features": features,
        "object_size": settings["object_size"],
        "stripe_unit": settings["stripe_unit"],
        "stripe_count": settings["stripe_count"],
        "data_pool": data_pool,
        "parent": state["parent"],
        "snapshots": state["snapshots"],
        "watchers": state["watchers"],
        "provisioned_bytes": settings["size"],
        "used_bytes": state["used_bytes"],
        "qos": dict(sorted(qos.items())),
        "metadata": dict(sorted(metadata.items())),
        "source": source_record(entries),
    }


def describe_image(image: Any, pool: str, namespace: str, name: str, catalog: ImageCatalog,
                   details: ReadDetails) -> ImageDict:
    """The collection's image dict of an open image (its metadata read from the header object)."""
    image_id = image.id()
    spec = image_spec(pool, namespace, name)
    settings = dict(image_settings(image),
                    metadata=read_image_metadata(catalog.cluster.ioctx(pool, namespace), image_id, spec).items())
    watchers = image_watchers(image, exclude_client_id=catalog.own_client_id) if details.watchers else None
    return image_dict(pool, namespace, name, image_id, catalog, settings,
                      parent=mark_parent_identity(catalog, image, (pool, namespace, name), image_parent(image)),
                      snapshots=image_snapshots(image), watchers=watchers,
                      used_bytes=used_bytes(image) if details.usage else None)


def describe_header(header: dict[str, Any], pool: str, namespace: str, name: str, image_id: str,
                    catalog: ImageCatalog) -> ImageDict | None:
    """The collection's image dict of an image read from its header (no snapshots; no watchers
    or usage); None when its clone parent cannot be named without opening it."""
    parent = catalog.clone_parent(header["parent"]) if header["parent"] else None
    if header["parent"] and parent is None:
        return None
    if header["parent"]:
        catalog.parent_ids[(pool, namespace, name)] = header["parent"]["image_id"]
    settings = dict(header, object_size=1 << header["order"], metadata=header["metadata"].items())
    return image_dict(pool, namespace, name, image_id, catalog, settings,
                      parent=parent, snapshots=[], watchers=None, used_bytes=None)


def image_users(image: Any, own_client_id: int) -> dict[str, list[str]]:
    """Who holds an open image: watcher clients (not us), lock holders, clone children, attachment records."""
    return {
        "watchers": image_watcher_clients(image, exclude_client_id=own_client_id),
        "lockers": image_lockers(image),
        "children": image_children(image),
        "attachments": read_attachments(image),
    }


def read_image_and_users(cluster: CephCluster, catalog: ImageCatalog, pool: str, namespace: str, name: str,
                         details: ReadDetails, with_users: bool) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """One image dict and, when asked, its users, from one read-only open (no watcher).

    The image is None when it does not exist.
    """
    if name not in catalog.names(pool, namespace):
        return None, {}
    try:
        with open_image(cluster, pool, namespace, name) as image:
            users = image_users(image, catalog.own_client_id) if with_users else {}
            return describe_image(image, pool, namespace, name, catalog, details), users
    except NotFoundError:
        return None, {}


def read_image(cluster: CephCluster, catalog: ImageCatalog, pool: str, namespace: str, name: str,
               details: ReadDetails) -> dict[str, Any] | None:
    """One image dict (read-only open, no watcher), or None when it does not exist."""
    return read_image_and_users(cluster, catalog, pool, namespace, name, details, with_users=False)[0]


def read_images_from_headers(catalog: ImageCatalog, requests: list[dict[str, Any]]) -> dict[str, Outcome]:
    """Image dicts of the requested images that can be read from their headers, keyed by spec.

    One omap read per image, all in flight at once per pool/namespace. An image
    left to librbd (snapshots, anything unknown) is left out (open it); a failed
    read is its outcome's error.
    """
    by_namespace: dict[tuple[str, str], list[str]] = {}
    for request in requests:
        by_namespace.setdefault((request["pool"], request["namespace"]), []).append(request["name"])
    outcomes: dict[str, Outcome] = {}
    for (pool, namespace), names in by_namespace.items():
        ids = catalog.names(pool, namespace)
        headers = read_headers(catalog.cluster.ioctx(pool, namespace), {name: ids[name] for name in names},
                               image_spec(pool, namespace, ""))
        for name, (header, error) in headers.items():
            spec = image_spec(pool, namespace, name)
            if error is not None:
                outcomes[spec] = (None, error)
                continue
            image = describe_header(header, pool, namespace, name, ids[name], catalog) if header else None
            if image is not None:
                outcomes[spec] = ((image, {}), None)
    return outcomes


def list_images(cluster: CephCluster, pool: str, namespace: str = "", name: str | None = None,
                with_usage: bool = True) -> list[dict[str, Any]]:
    """Every image of a pool/namespace (or the one named) as image dicts, sorted by name."""
    catalog = ImageCatalog(cluster)
    names = catalog.names(pool, namespace)
    wanted = sorted(n for n in names if name is None or n == name)
    details = ReadDetails(usage=with_usage, watchers=True)
    outcomes = run_concurrently(
        lambda image_name: read_image(cluster, catalog, pool, namespace, image_name, details), wanted)
    images = []
    for image, error in outcomes:
        if error is not None:
            raise error
        if image is not None:  # deleted since it was listed
            images.append(image)
    return images
