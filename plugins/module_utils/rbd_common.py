# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Image access shared by the image and snapshot helpers: specs, opening, users.

An image is addressed by (pool, namespace, name); ``namespace`` is '' for the
pool's default namespace.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import CephCluster
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    NotFoundError,
    binding_call,
    translated_errors,
)
# image_spec and parse_image_spec are pure: they live in validation (re-exported here).
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.validation import (  # noqa: F401 pylint: disable=unused-import
    image_spec,
    parse_image_spec,
)

try:
    import rados
    import rbd
except ImportError:  # the module reports missing bindings before calling in here
    rados = None
    rbd = None


@binding_call("list images in {where}")
def _image_names(ioctx: Any, where: str) -> list[str]:
    return rbd.RBD().list(ioctx)


def image_exists(cluster: CephCluster, pool: str, namespace: str, name: str) -> bool:
    """Whether the image exists (without opening it)."""
    return name in _image_names(cluster.ioctx(pool, namespace), image_spec(pool, namespace, ""))


@binding_call("open image {spec}", not_found=None)
def _open(ioctx: Any, spec: str, name: str, snapshot: str | None, read_only: bool) -> Any:
    return rbd.Image(ioctx, name, snapshot=snapshot, read_only=read_only)


@contextmanager
def open_image(
    cluster: CephCluster,
    pool: str,
    namespace: str,
    name: str,
    read_only: bool = True,
    snapshot: str | None = None,
) -> Iterator[Any]:
    """Open an image (read-only by default: no watcher is registered) and close it.

    Raises NotFoundError naming the image spec when it (or the snapshot) is missing.
    """
    spec = image_spec(pool, namespace, name, snapshot)
    image = _open(cluster.ioctx(pool, namespace), spec, name, snapshot, read_only)
    if image is None:
        raise NotFoundError(f"image {spec} does not exist", image=spec)
    try:
        # A scope, not one call: the caller's librbd calls on the open image (the "open"
        # phase of image changes) run inside it, so their errors are mapped here;
        # binding_call declares single calls only.
        with translated_errors(f"image {spec}"):
            yield image
    finally:
        image.close()


# librbd's namespace type of ordinary (user) snapshots, as opposed to group,
# trash (clone v2) and mirror snapshots, which the collection leaves alone.
USER_SNAPSHOT_NAMESPACE = 0


def is_user_snapshot(entry: dict[str, Any]) -> bool:
    """Whether a ``list_snaps`` entry is an ordinary (user) snapshot."""
    return entry.get("namespace", USER_SNAPSHOT_NAMESPACE) == USER_SNAPSHOT_NAMESPACE


def user_snapshots(image: Any) -> list[dict[str, Any]]:
    """The ``list_snaps`` entries of an open image's user snapshots."""
    return [entry for entry in image.list_snaps() if is_user_snapshot(entry)]


def image_watchers(image: Any, exclude_client_id: int | None = None) -> list[str]:
    """Addresses of the clients watching an image (each one has it open).

    ``exclude_client_id`` leaves out one client: the caller's own read-write open.
    """
    return sorted(w["addr"] for w in image.watchers_list() if w.get("id") != exclude_client_id)


def image_watcher_clients(image: Any, exclude_client_id: int | None = None) -> list[str]:
    """The clients watching an image as 'client.<id> (<address>)', for messages."""
    return sorted(
        f"client.{w['id']} ({w['addr']})" for w in image.watchers_list() if w.get("id") != exclude_client_id
    )


def image_lockers(image: Any) -> list[str]:
    """Holders of advisory locks (``rbd lock add``) on an image, as 'client (address)'."""
    lockers = image.list_lockers() or {}
    return sorted(f"{client} ({addr})" for client, _cookie, addr in lockers.get("lockers", []))


def image_children(image: Any) -> list[str]:
    """Clone children of any snapshot of an image, as image specs (needs clone v2 info).

    A child in the RBD trash is named with `` (in trash)`` appended, as rbd_snapshot does.
    """
    children = []
    for child in image.list_descendants():
        spec = image_spec(child["pool"], child.get("pool_namespace", ""), child["image"])
        children.append(f"{spec} (in trash)" if child.get("trash") else spec)
    return sorted(children)


# ---------------------------------------------------------------- the exclusive lock's owner

# librbd's exclusive lock is a cls_lock on the header with this tag and an "auto <handle>" cookie.
EXCLUSIVE_LOCK_TAG = "internal"


def exclusive_lock_owner(image: Any) -> tuple[str, str] | None:
    """(client, address) holding an image's exclusive lock (librbd's own lock), or None."""
    lockers = image.list_lockers() or {}
    if lockers.get("tag") != EXCLUSIVE_LOCK_TAG:
        return None
    for client, cookie, addr in lockers.get("lockers", []):
        if cookie.startswith("auto "):
            return client, addr
    return None


def watches(image: Any, addr: str) -> bool:
    """Whether a client at ``addr`` still watches the image (its watch has not expired)."""
    return any(w["addr"] == addr for w in image.watchers_list())


@binding_call("ask the clients of image {spec} to answer")
def watchers_answer(ioctx: Any, spec: str, image_id: str, seconds: float) -> bool:
    """Whether every client watching the image answers a header-update notification within
    ``seconds`` (what librbd sends after changing an image: a live client re-reads its header)."""
    try:
        return ioctx.notify(f"rbd_header.{image_id}", "", max(1, int(seconds * 1000)))
    except rados.TimedOut:
        return False


@binding_call("break the exclusive lock of image {spec} held by {addr}")
def break_exclusive_lock(image: Any, spec: str, addr: str) -> None:
    """Break the lock, blocklisting its owner first (librbd's lock_break, as `rbd lock rm`)."""
    image.lock_break(rbd.RBD_LOCK_MODE_EXCLUSIVE, addr)
