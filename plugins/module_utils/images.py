# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading and changing RBD images through librbd, one image or a batch per connection.

The batch path is built for hundreds of images: each pool/namespace is listed
once, each clone parent and pool detail is read once (:class:`ImageCatalog`),
an image is opened at most once read-only (no watcher) and, when it changes,
once more read-write to apply and read back. Used bytes (diff-iterate) and
watchers are only read when asked (:class:`ReadDetails`). Planning is pure
(``image_plan``); everything is planned and checked before the first change.

Opening an image costs about 3 ms of client CPU (librbd copies its whole
configuration into every image context) plus a few round trips. So an image
without snapshots that is only read (no usage, no watchers, not to be deleted)
is read from its header object instead, all of them at once (``image_headers``), and
the images that must be opened are opened by a few threads at once
(:func:`run_concurrently`; librbd is thread-safe and the bindings release the
GIL while librbd works). Applying keeps the order of the list, except that a
run of consecutive plain creates and deletions (independent of each other) is
carried out concurrently.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, NamedTuple, Optional, Sequence, Tuple, TypeVar

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import CephCluster
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.clone_identity import (
    check_clone_source,
    mark_parent_identity,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.deadline import explain_unreachable
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    AlreadyExistsError,
    CephRbdError,
    InvalidInputError,
    NotFoundError,
    translated_errors,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_headers import (
    read_image_metadata,
    read_headers,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_plan import (
    DEFAULT_FEATURES,
    QOS_CONFIG_PREFIX,
    clone_format,
    deletion_plan,
    describe_change,
    feature_bits,
    feature_names,
    plan_image,
    predict_image,
    request_spec,
    split_image_metadata,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.pools import (
    explain_permission_error,
    explain_pool_error,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.rbd_common import (
    image_children,
    image_lockers,
    image_spec,
    image_watcher_clients,
    image_watchers,
    open_image,
    user_snapshots,
)

try:
    import rbd
except ImportError:  # the module reports missing bindings before calling in here
    rbd = None

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


def list_image_ids(cluster: CephCluster, pool: str, namespace: str) -> dict[str, str]:
    """Image ids by name in a pool/namespace: one ``list2``."""
    with translated_errors(f"list images in {image_spec(pool, namespace, '').rstrip('/')}"):
        return {entry["name"]: entry["id"] for entry in rbd.RBD().list2(cluster.ioctx(pool, namespace))}


class ImageCatalog:
    """Per-run caches over one connection: listings, namespaces, pools, parents, clone format."""

    def __init__(self, cluster: CephCluster) -> None:
        self.cluster = cluster
        self.own_client_id = cluster.handle.get_instance_id()
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
            if namespace:
                with translated_errors(f"look up namespace {namespace!r} in pool {pool!r}"):
                    exists = rbd.RBD().namespace_exists(self.cluster.ioctx(pool), namespace)
                if not exists:
                    raise NotFoundError(
                        f"namespace {namespace!r} does not exist in pool {pool!r}: create it first "
                        "(rbd_pool's namespaces option); rbd_image does not create namespaces",
                        pool=pool, namespace=namespace,
                    )
            self.cluster.deadline.check(f"list images in {image_spec(pool, namespace, '').rstrip('/')}")
            try:
                self._names[key] = list_image_ids(self.cluster, pool, namespace)
            except CephRbdError as error:
                self.cluster.deadline.note(error)
                raise
        return self._names[key]

    def pool_name(self, pool_id: int) -> str:
        if pool_id not in self._pool_names:
            with translated_errors(f"look up pool id {pool_id}"):
                self._pool_names[pool_id] = self.cluster.handle.pool_reverse_lookup(pool_id)
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
            with translated_errors(f"read rbd_default_clone_format of pool {pool!r}"):
                try:
                    setting = rbd.RBD().config_get(self.cluster.ioctx(pool), "rbd_default_clone_format")
                except KeyError:
                    setting = self.cluster.handle.conf_get("rbd_default_clone_format")
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
        """A clone's parent by name (as :func:`image_parent` gives it) from the ids in the
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
        ioctx = self.cluster.ioctx(pool, namespace)
        with translated_errors(f"open the clone parent {image_id} in {image_spec(pool, namespace, '')}"):
            with rbd.Image(ioctx, image_id=image_id, read_only=True) as image:
                name = image.get_name()
                snaps = [s["name"] for s in user_snapshots(image) if s["id"] == snap_id]
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


# ---------------------------------------------------------------- reading

def used_bytes(image: Any) -> int:
    """Bytes of allocated objects of the image itself (diff-iterate; fast with fast-diff)."""
    total = [0]

    def count(_offset: int, length: int, exists: bool) -> int:
        if exists:
            total[0] += length
        return 0

    image.diff_iterate(0, image.size(), None, count, include_parent=False, whole_object=True)
    return total[0]


def image_snapshots(image: Any) -> list[dict[str, Any]]:
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


def image_parent(image: Any) -> dict[str, Any] | None:
    """The clone parent as pool, namespace, image, snapshot; None for an image that is no clone."""
    try:
        spec = image.get_parent_image_spec()
    except rbd.ImageNotFound:
        return None
    return {
        "pool": spec["pool_name"],
        "namespace": spec.get("pool_namespace", ""),
        "image": spec["image_name"],
        "snapshot": spec["snap_name"],
    }


def image_dict(pool: str, namespace: str, name: str, image_id: str | None, catalog: ImageCatalog,
               settings: dict[str, Any], **state: Any) -> dict[str, Any]:
    """The collection's image dict.

    ``settings`` holds ``size``, ``features`` (bits), ``object_size``, ``stripe_unit``,
    ``stripe_count``, ``data_pool_id`` and ``metadata`` (key/value pairs, QoS
    settings included); ``state`` holds ``parent``, ``snapshots``, ``watchers``
    and ``used_bytes``.
    """
    features = feature_names(settings["features"])
    qos, metadata = split_image_metadata(list(settings["metadata"]))
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
    }


def describe_image(image: Any, pool: str, namespace: str, name: str, catalog: ImageCatalog,
                   details: ReadDetails) -> dict[str, Any]:
    """The collection's image dict of an open image (its metadata read from the header object)."""
    stat = image.stat()
    image_id = image.id()
    spec = image_spec(pool, namespace, name)
    settings = {
        "size": stat["size"],
        "features": image.features(),
        "object_size": stat["obj_size"],
        "stripe_unit": image.stripe_unit(),
        "stripe_count": image.stripe_count(),
        "data_pool_id": image.data_pool_id(),
        "metadata": read_image_metadata(catalog.cluster.ioctx(pool, namespace), image_id, spec).items(),
    }
    watchers = image_watchers(image, exclude_client_id=catalog.own_client_id) if details.watchers else None
    return image_dict(pool, namespace, name, image_id, catalog, settings,
                      parent=mark_parent_identity(catalog, image, (pool, namespace, name), image_parent(image)),
                      snapshots=image_snapshots(image), watchers=watchers,
                      used_bytes=used_bytes(image) if details.usage else None)


def describe_header(header: dict[str, Any], pool: str, namespace: str, name: str, image_id: str,
                    catalog: ImageCatalog) -> dict[str, Any] | None:
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
    """Who holds an open image: watcher clients (not us), lock holders, clone children."""
    return {
        "watchers": image_watcher_clients(image, exclude_client_id=own_client_id),
        "lockers": image_lockers(image),
        "children": image_children(image),
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


# ---------------------------------------------------------------- planning

def _clone_changes(catalog: ImageCatalog, request: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Check the clone source; plan protecting its snapshot when the cluster clones in format 1."""
    source = request["clone_from"]
    parent = catalog.parent(source)
    if catalog.clone_format(request["pool"]) == 2:
        return [], parent
    if source["namespace"] != request["namespace"]:
        raise InvalidInputError(
            f"clone_from {parent['spec']}: this cluster makes format 1 clones (require_min_compat_client "
            "is below mimic), which cannot cross namespaces: clone within the same namespace, or set "
            "require_min_compat_client mimic (or rbd_default_clone_format 2)"
        )
    if parent["protected"]:
        return [], parent
    return [{"action": "protect_parent_snapshot", "snapshot": parent["spec"]}], parent


def _read_for_plan(cluster: CephCluster, catalog: ImageCatalog, request: dict[str, Any],
                   details: ReadDetails) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """The image a request is about and, for a deletion, its users."""
    return read_image_and_users(cluster, catalog, request["pool"], request["namespace"], request["name"],
                                details, with_users=request["state"] == "absent")


def prefetch_reads(cluster: CephCluster, catalog: ImageCatalog, requests: list[dict[str, Any]],
                   details: ReadDetails) -> dict[str, Outcome]:
    """Read every requested image that exists, keyed by spec (nothing changes).

    Images without snapshots that only need their settings read are read from
    their headers (:func:`read_images_from_headers`); the others are opened,
    concurrently. Errors are
    kept for :func:`plan_request` to raise in the order of the list; a namespace
    that cannot be listed is left to it too.
    """
    existing = []
    for request in requests:
        try:
            if request["name"] in catalog.names(request["pool"], request["namespace"]):
                existing.append(request)
        except CephRbdError:
            continue
    header_only = not details.usage and not details.watchers
    outcomes = read_images_from_headers(catalog, [r for r in existing if header_only and r["state"] == "present"])
    to_open = [request for request in existing if request_spec(request) not in outcomes]
    opened = run_concurrently(lambda request: _read_for_plan(cluster, catalog, request, details), to_open)
    outcomes.update((request_spec(request), outcome) for request, outcome in zip(to_open, opened))
    return outcomes


def plan_request(cluster: CephCluster, catalog: ImageCatalog, request: dict[str, Any],
                 details: ReadDetails, prefetched: Outcome | None = None,
                 domain_refs: dict[tuple[str, str, str], list[str]] | None = None) -> dict[str, Any]:
    """Read one image (unless ``prefetched``) and plan its changes; raises before anything changes.

    ``domain_refs`` maps (pool, namespace, image) to the libvirt domains of this host that
    use the image; a deletion of such an image is refused.
    """
    if prefetched is None:
        current, users = _read_for_plan(cluster, catalog, request, details)
    elif prefetched[1] is not None:
        raise prefetched[1]
    else:
        current, users = prefetched[0]
    parent = None
    extra: list[dict[str, Any]] = []
    if request["state"] == "present" and current is None:
        if request["data_pool"]:
            catalog.check_data_pool(request["data_pool"])
        if request["clone_from"]:
            extra, parent = _clone_changes(catalog, request)
    if request["state"] == "present":
        check_clone_source(catalog, request, current)
    changes = plan_image(current, request, parent["size"] if parent else None)
    if request["state"] == "absent" and current is not None:
        domains = (domain_refs or {}).get((request["pool"], request["namespace"], request["name"]), [])
        changes = deletion_plan(request, current, dict(users, domains=domains))
    changes = extra + changes
    return {
        "request": request,
        "spec": request_spec(request),
        "before": current,
        "changes": changes,
        "after": predict_image(current, request, changes, parent, with_watchers=details.watchers),
    }


# ---------------------------------------------------------------- applying

def _apply_open_changes(image: Any, request: dict[str, Any], changes: list[dict[str, Any]]) -> None:
    """Resize, features, qos, metadata, flatten on an image open read-write."""
    for change in changes:
        action = change["action"]
        if action == "resize":
            image.resize(change["to"], allow_shrink=request["allow_shrink"])
        elif action in ("disable_features", "enable_features"):
            _update_features(image, change["features"], enable=action == "enable_features")
        elif action == "qos":
            for key, value in change["set"].items():
                image.config_set(QOS_CONFIG_PREFIX + key, str(value))
            for key in change["remove"]:
                image.config_remove(QOS_CONFIG_PREFIX + key)
        elif action == "metadata":
            for key, value in change["set"].items():
                image.metadata_set(key, value)
            for key in change["remove"]:
                image.metadata_remove(key)
        elif action == "flatten":
            image.flatten()


def _update_features(image: Any, features: list[str], enable: bool) -> None:
    """Enable or disable features one by one, in the planned order.

    librbd switches dependants along (disabling fast-diff also disables the
    object map), so each feature is checked again before it is changed; the
    object map is rebuilt after enabling it, as ``rbd feature enable`` advises.
    """
    for feature in features:
        bit = feature_bits([feature])
        if bool(image.features() & bit) != enable:
            image.update_features(bit, enable)
    if enable and {"object-map", "fast-diff"} & set(features):
        image.rebuild_object_map()


def _create(cluster: CephCluster, request: dict[str, Any]) -> None:
    features = feature_bits(request["features"] or list(DEFAULT_FEATURES))
    order = request["object_size"].bit_length() - 1 if request["object_size"] else None
    ioctx = cluster.ioctx(request["pool"], request["namespace"])
    layout = dict(order=order, stripe_unit=request["stripe_unit"], stripe_count=request["stripe_count"],
                  data_pool=request["data_pool"])
    if request["clone_from"] is None:
        rbd.RBD().create(ioctx, request["name"], request["size"], old_format=False, features=features,
                         order=layout["order"] or 22, stripe_unit=layout["stripe_unit"],
                         stripe_count=layout["stripe_count"], data_pool=layout["data_pool"])
        return
    source = request["clone_from"]
    parent_ioctx = cluster.ioctx(source["pool"], source["namespace"])
    rbd.RBD().clone(parent_ioctx, source["image"], source["snapshot"], ioctx, request["name"],
                    features=features, **layout)


def _protect(cluster: CephCluster, source: dict[str, Any]) -> None:
    with open_image(cluster, source["pool"], source["namespace"], source["image"], read_only=False) as image:
        if not image.is_protected_snap(source["snapshot"]):
            image.protect_snap(source["snapshot"])


def _delete(cluster: CephCluster, request: dict[str, Any], changes: list[dict[str, Any]]) -> None:
    pool, namespace, name = request["pool"], request["namespace"], request["name"]
    for change in changes:
        if change["action"] == "remove_snapshots":
            with open_image(cluster, pool, namespace, name, read_only=False) as image:
                for snapshot in change["snapshots"]:
                    if snapshot in change["unprotect"]:
                        image.unprotect_snap(snapshot)
                    image.remove_snap(snapshot)
        elif change["action"] == "remove":
            with translated_errors(f"delete image {image_spec(pool, namespace, name)}"):
                rbd.RBD().remove(cluster.ioctx(pool, namespace), name)
        elif change["action"] == "trash":
            with translated_errors(f"move image {image_spec(pool, namespace, name)} to the trash"):
                rbd.RBD().trash_move(cluster.ioctx(pool, namespace), name)


def apply_plan_in_time(cluster: CephCluster, catalog: ImageCatalog, plan: dict[str, Any],
                       details: ReadDetails) -> dict[str, Any] | None:
    """:func:`apply_plan` under the task's deadline: a timeout stops the items not yet started."""
    try:
        return apply_plan(cluster, catalog, plan, details)
    except CephRbdError as error:
        cluster.deadline.note(error)
        raise


def apply_plan(cluster: CephCluster, catalog: ImageCatalog, plan: dict[str, Any],
               details: ReadDetails) -> dict[str, Any] | None:
    """Carry out one image's plan; return the image read back (None once deleted)."""
    request, changes = plan["request"], plan["changes"]
    pool, namespace, name = request["pool"], request["namespace"], request["name"]
    spec = plan["spec"]
    cluster.deadline.check(f"change image {spec}")
    if request["state"] == "absent":
        _delete(cluster, request, changes)
        catalog.forget(pool, namespace, name, exists=False)
        return None
    if [change["action"] for change in changes] == ["create"]:
        made_by_another = create_image_converging(cluster, catalog, plan, details)
        if made_by_another is not None:
            return adopt_concurrent_create(plan, made_by_another)
        catalog.forget(pool, namespace, name, exists=True)
        # Nothing else to do: the prediction is exact but for the id, which
        # converge_images reads from one listing per namespace (no open).
        return dict(plan["after"])
    for change in changes:
        if change["action"] == "protect_parent_snapshot":
            _protect(cluster, request["clone_from"])
        elif change["action"] == "clone":
            with translated_errors(f"clone image {spec}"):
                _create(cluster, request)
            catalog.forget(pool, namespace, name, exists=True)
        elif change["action"] == "create":
            # Made meanwhile by another client: the changes below apply to it all the same.
            create_image_converging(cluster, catalog, plan, details)
            catalog.forget(pool, namespace, name, exists=True)
    with open_image(cluster, pool, namespace, name, read_only=False) as image:
        _apply_open_changes(image, request, changes)
        return describe_image(image, pool, namespace, name, catalog, details)


def wait_for_openable_image(cluster: CephCluster, catalog: ImageCatalog, request: dict[str, Any],
                            details: ReadDetails, attempts: int = 50) -> dict[str, Any] | None:
    """The image another client is creating, once its header is written (about 5 s at most).

    None when it still cannot be found: the half-made leftover of an interrupted run.
    Any other error (timeout, permission) is raised, never taken for a leftover.
    """
    catalog.forget(request["pool"], request["namespace"], request["name"], exists=True)
    for _attempt in range(attempts):
        current = read_image(cluster, catalog, request["pool"], request["namespace"], request["name"], details)
        if current is not None:
            return current
        time.sleep(0.1)
    return None


def create_image_converging(cluster: CephCluster, catalog: ImageCatalog, plan: dict[str, Any],
                            details: ReadDetails) -> dict[str, Any] | None:
    """Create the planned image; None when this run created it.

    When it exists already, return it as another client (a concurrent run) made it.
    A half-made leftover of an interrupted run (an id or directory entry without a
    header, which never opens) is removed (librbd cleans up what exists) and created again.
    """
    request, spec = plan["request"], plan["spec"]
    try:
        with translated_errors(f"create image {spec}"):
            _create(cluster, request)
        return None
    except AlreadyExistsError:
        current = wait_for_openable_image(cluster, catalog, request, details)
    if current is not None:
        return current
    with translated_errors(f"clear the half-created image {spec} an interrupted run left"):
        try:
            rbd.RBD().remove(cluster.ioctx(request["pool"], request["namespace"]), request["name"])
        except rbd.ImageNotFound:
            pass  # librbd removed the id object and directory entry all the same
    with translated_errors(f"create image {spec}"):
        _create(cluster, request)
    return None


def adopt_concurrent_create(plan: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """Accept an image another client created meanwhile when it matches the request.

    This run then changed nothing; other settings are an error asking for a re-run.
    """
    spec = plan["spec"]
    try:
        remaining = plan_image(current, plan["request"])
    except CephRbdError as error:
        raise AlreadyExistsError(f"image {spec} was created by another client meanwhile: {error}") from None
    if remaining:
        raise AlreadyExistsError(
            f"image {spec} was created by another client meanwhile, with other settings "
            f"({', '.join(change['action'] for change in remaining)} needed): run again to converge"
        )
    plan["changes"], plan["actions"] = [], []
    return current


def converge_images(cluster: CephCluster, requests: list[dict[str, Any]], check_mode: bool,
                    details: ReadDetails, label: Callable[[int, str], str],
                    domain_refs: dict[tuple[str, str, str], list[str]] | None = None) -> list[dict[str, Any]]:
    """Plan every request, then (unless check mode) apply the plans in order.

    The images are read concurrently before planning. Plans are applied in the
    order of the list, but for runs of consecutive independent plans
    (:func:`apply_groups`), which are applied concurrently; a failure is reported
    for the first failing item of its run, after the whole run has finished, and
    ``done`` names every image changed so far (in list order).

    Returns one result per request: spec, before, after, changed, actions. Errors
    are prefixed with ``label(index, spec)`` so a batch names the failing item.
    """
    catalog = ImageCatalog(cluster)
    prefetched = prefetch_reads(cluster, catalog, requests, details)
    plans = []
    for index, request in enumerate(requests):
        try:
            plans.append(plan_request(cluster, catalog, request, details,
                                      prefetched.pop(request_spec(request), None), domain_refs))
        except CephRbdError as error:
            error = explain_unreachable(cluster, explain_permission_error(cluster, error), request["pool"])
            raise type(error)(label(index, request_spec(request)) + str(error), **error.details) from None
    for plan in plans:
        plan["actions"] = [describe_change(plan["spec"], change) for change in plan["changes"]]
    if check_mode:
        return plans
    done: list[str] = []
    for group in apply_groups([(index, plan) for index, plan in enumerate(plans) if plan["changes"]]):
        outcomes = run_concurrently(lambda item: apply_plan_in_time(cluster, catalog, item[1], details), group)
        failed = None
        for (index, plan), (after, error) in zip(group, outcomes):
            if error is None:
                plan["after"] = after
                done.append(plan["spec"])
            elif failed is None:
                failed = (index, plan["spec"], error)
        if failed is not None:
            index, spec, error = failed
            error = explain_pool_error(cluster, plans[index]["request"]["pool"], error)
            details = dict(error.details, done=done)
            raise type(error)(label(index, spec) + str(error), **details) from None
    _fill_new_ids(cluster, [plan["after"] for plan in plans if plan["after"] and plan["after"]["id"] is None])
    return plans


def is_independent(plan: dict[str, Any]) -> bool:
    """Whether a plan only creates a plain image or deletes one.

    Such plans touch nothing but their own image (a clone, a protected parent
    snapshot, a flatten or any change of an existing image is not independent;
    deletion checked at planning that no clone child exists), and a batch never
    names an image twice, so they can run in any order.
    """
    actions = [change["action"] for change in plan["changes"]]
    if plan["request"]["state"] == "absent":
        return bool(actions)
    return actions == ["create"]


def apply_groups(pending: list[tuple[int, dict[str, Any]]]) -> list[list[tuple[int, dict[str, Any]]]]:
    """Split (index, plan) pairs into groups applied one after the other.

    Consecutive independent plans form one group (applied concurrently); every
    other plan is a group of its own, so the list order holds around it.
    """
    groups: list[list[tuple[int, dict[str, Any]]]] = []
    for item in pending:
        if is_independent(item[1]) and groups and is_independent(groups[-1][-1][1]):
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


def _fill_new_ids(cluster: CephCluster, images: list[dict[str, Any]]) -> None:
    """Set the ids of newly created images from one listing per pool/namespace."""
    by_namespace: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for image in images:
        by_namespace.setdefault((image["pool"], image["namespace"]), []).append(image)
    for (pool, namespace), group in by_namespace.items():
        ids = list_image_ids(cluster, pool, namespace)
        for image in group:
            image["id"] = ids.get(image["name"])
