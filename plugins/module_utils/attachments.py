# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Attachment records: which libvirt domain on which hypervisor uses an RBD image.

``libvirt_rbd_disk`` writes one record per domain into the image's own metadata when it
attaches the image, and removes it once a detach is verified (the domain's live and
persistent definitions no longer name the image). ``rbd_image`` reads the records before a
deletion and refuses while one exists, from whichever host it runs on: the reference is
visible cluster-wide, not only on the hypervisor whose libvirtd knows the domain.

A record is the metadata key ``limiquantix.attached/<domain UUID>`` with a JSON value
``{"host": ..., "domain": ..., "uuid": ...}``. The domain UUID survives a live migration,
so a detach on the new host removes the record written on the old one. Every metadata key
starting with ``limiquantix.`` is reserved for the collection: ``rbd_image``'s declarative
``metadata`` neither sets, reports nor removes such keys.

Records are written straight into the image header's omap (where librbd keeps image
metadata), guarded by the header's ``object_prefix`` so that a write never recreates the
header of an image deleted meanwhile; an image in use by a running QEMU is not disturbed
(no exclusive-lock request, no watcher).
"""

from __future__ import annotations

import struct
from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.attachment_records import (
    ImageRef,
    describe_record_change,
    parse_attachments,
    plan_attachment_record,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import open_cluster
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    CephRbdError,
    NotFoundError,
    binding_call,
    translate_binding_error,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_headers import (
    HEADER_OBJECT_PREFIX,
    METADATA_KEY_PREFIX,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.rbd_common import image_spec, open_image

try:
    import rados
except ImportError:  # reported by the module through missing_ceph_bindings
    rados = None

# rados: the omap guard did not hold (the header is gone or belongs to another image)
_GUARD_FAILED = (2, 125)  # ENOENT, ECANCELED


@binding_call("read the image's attachment records")
def read_attachments(image: Any) -> list[dict[str, str]]:
    """The attachment records of an open image (a read-only open is enough)."""
    return parse_attachments(image.metadata_list())


# ---------------------------------------------------------------- writing records

def _header_guard(image_id: str) -> tuple[str, str]:
    """(omap key, encoded value) that only the header of this very image holds."""
    prefix = f"rbd_data.{image_id}".encode()
    return "object_prefix", (struct.pack("<I", len(prefix)) + prefix).decode("latin-1")


def _write_header_omap(cluster: Any, pool: str, namespace: str, image_id: str, spec: str,
                       set_keys: dict[str, str], remove_keys: list[str]) -> None:
    ioctx = cluster.ioctx(pool, namespace)
    guard_key, guard_value = _header_guard(image_id)
    try:
        with rados.WriteOpCtx() as write_op:
            write_op.omap_cmp(guard_key, guard_value, rados.LIBRADOS_CMPXATTR_OP_EQ)
            if set_keys:
                ioctx.set_omap(write_op, tuple(METADATA_KEY_PREFIX + k for k in set_keys),
                               tuple(v.encode() for v in set_keys.values()))
            if remove_keys:
                ioctx.remove_omap_keys(write_op, tuple(METADATA_KEY_PREFIX + k for k in remove_keys))
            ioctx.operate_write_op(write_op, HEADER_OBJECT_PREFIX + image_id)
    except rados.Error as exc:
        if getattr(exc, "errno", None) in _GUARD_FAILED:
            raise NotFoundError(f"image {spec} does not exist (deleted meanwhile)", image=spec) from None
        raise translate_binding_error(exc, f"update the attachment records of image {spec}") from exc


def image_attachment_state(cluster: Any, pool: str, namespace: str, name: str) -> dict[str, Any] | None:
    """The image's id and attachment records, or None when the image does not exist."""
    try:
        with open_image(cluster, pool, namespace, name) as image:
            return {"id": image.id(), "records": read_attachments(image)}
    except NotFoundError:
        return None


def sync_attachment_record(cluster: Any, pool: str, namespace: str, name: str, host: str, domain: str,
                           domain_uuid: str, attached: bool, check_mode: bool) -> str | None:
    """Read, plan and (unless ``check_mode``) write one image's record; the action line or None."""
    state = image_attachment_state(cluster, pool, namespace, name)
    change = plan_attachment_record(state, host, domain, domain_uuid, attached)
    if change is None:
        return None
    spec = image_spec(pool, namespace, name)
    if not check_mode:
        _write_header_omap(cluster, pool, namespace, state["id"], spec, change["set"], change["remove"])
    return describe_record_change(change, spec)


# ---------------------------------------------------------------- libvirt side (libvirt_rbd_disk)

@binding_call("read the libvirt host name")
def libvirt_host_name(conn: Any) -> str:
    """The name the records give this hypervisor: libvirt's idea of the host name."""
    return conn.getHostname()


def sync_domain_records(cluster: Any, host: str, domain: str, domain_uuid: str,
                        wanted: dict[ImageRef, bool], check_mode: bool) -> list[str]:
    """Make each image's records say whether the domain uses it; the action lines."""
    lines = []
    for (pool, namespace, name), attached in sorted(wanted.items()):
        line = sync_attachment_record(cluster, pool, namespace, name, host, domain, domain_uuid, attached, check_mode)
        if line:
            lines.append(line)
    return lines


def record_connection_failed(error: Exception) -> str:
    return (
        f"cannot record the attachment on the image (record_attachment: true): {error}. Give the Ceph "
        "connection options (user, keyring or key, conf) of a client allowed to write the pool, for example "
        "user: libvirt on a hypervisor set up by the ceph_client role, or set record_attachment: false"
    )


def open_record_cluster(params: dict[str, Any]) -> Any:
    """The Ceph connection that writes the records (close it), its failure explained."""
    try:
        return open_cluster(params)
    except CephRbdError as error:
        raise type(error)(record_connection_failed(error), **error.details) from None
