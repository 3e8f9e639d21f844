# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Importing a disk image file into an image (rbd_image's ``source``): plan what to read,
refuse an image in use, and write it so that an interrupted import is never taken for a
finished one.

Reading: planning reads the file's status and first 512 bytes; it reads the file's data
(for its content digest, disk_source.ContentDigest) only when the image's record could say
it holds this file already (a record of the same file size). When the change is certain (no
record, another size), the digest is computed while the data is written: from the same reads
for a raw file, by a second thread for a qcow2 one (which qemu-img reads). So check mode never
reads the file's data when the import is certain, and a real run reads it at most twice.

Writing: the image is opened read-write (no other client may have it open), its record is
removed, all of it is zeroed (full objects deallocated: sparse, and old data gone; its
snapshots keep theirs), the source's data is written (zeros skipped: a raw file through
librbd here, a qcow2 one by qemu-img through QEMU's rbd driver), and only then
is the record (digest, format, file size) written. A run that stops anywhere before the
end leaves no record, so the next run imports again.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import CephCluster
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.disk_formats import (
    SOURCE_KEYS,
    record_entries,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.disk_source import (
    file_digest,
    inspect_source,
    unchanged_since,
    write_raw,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InUseError, InvalidInputError
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_catalog import ImageCatalog
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_changes import Change, Import
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.qemu_img import convert_to_rbd
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.rbd_common import (
    image_watcher_clients,
    open_image,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.validation import image_spec


def plan_source(request: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any] | None:
    """The inspected source of a request (None without one); digested only when the image's
    record could match it."""
    if not request["source"] or request["state"] != "present":
        return None
    source = inspect_source(request["source"], request["source_format"])
    record = (current or {}).get("source")
    if record and record.get("size") == source["file_size"]:
        source["digest"] = file_digest(source["path"])
    return source


def _in_use(spec: str, watchers: list[str]) -> InUseError:
    return InUseError(
        f"image {spec} is open by (watchers) {', '.join(watchers)}: refusing to import into an image "
        "a client uses (stop the VM or detach the disk first; another import into it: let it finish)",
        image=spec, watchers=watchers)


def refuse_import_in_use(cluster: CephCluster, catalog: ImageCatalog, request: dict[str, Any],
                         current: dict[str, Any] | None, changes: list[Change]) -> None:
    """InUseError before anything changes when an existing image to import into is open by a client."""
    if current is None or not any(isinstance(change, Import) for change in changes):
        return
    pool, namespace, name = request["pool"], request["namespace"], request["name"]
    with open_image(cluster, pool, namespace, name) as image:
        watchers = image_watcher_clients(image, exclude_client_id=catalog.own_client_id)
    if watchers:
        raise _in_use(image_spec(pool, namespace, name), watchers)


def _copy(cluster: CephCluster, image: Any, change: Import, request: dict[str, Any]) -> str:
    """Write the file into the image; return its content digest, as read while it was written.

    A raw file goes through librbd on the open image, digested from the same reads; a qcow2 one
    through QEMU's rbd driver (qemu-img), digested meanwhile by a second thread."""
    where = (request["pool"], request["namespace"], request["name"])
    if change.format == "raw":
        return write_raw(image, change.path, image_spec(*where))
    with ThreadPoolExecutor(max_workers=1) as executor:
        digesting = executor.submit(file_digest, change.path)
        convert_to_rbd(cluster, {"path": change.path, "format": change.format}, *where)
        return digesting.result()


def import_source(cluster: CephCluster, catalog: ImageCatalog, image: Any, request: dict[str, Any],
                  change: Import) -> str:
    """Write the source into the image open read-write as ``image``; record it last."""
    spec = image_spec(request["pool"], request["namespace"], request["name"])
    watchers = image_watcher_clients(image, exclude_client_id=catalog.own_client_id)
    if watchers:
        raise _in_use(spec, watchers)
    existing = dict(image.metadata_list())
    for key in SOURCE_KEYS.values():
        if key in existing:
            image.metadata_remove(key)
    image.write_zeroes(0, image.size())
    image.flush()
    digest = _copy(cluster, image, change, request)
    same_file = change.digest in (None, digest)
    if not same_file or not unchanged_since({"path": change.path, "file_size": change.file_size,
                                             "mtime_ns": change.mtime_ns}):
        raise InvalidInputError(
            f"source {change.path} changed while it was imported into {spec}: the image holds no finished "
            "import (no record); run again once the file is complete")
    image.invalidate_cache()
    for key, value in record_entries({"digest": digest, "format": change.format,
                                      "file_size": change.file_size}).items():
        image.metadata_set(key, value)
    return digest
