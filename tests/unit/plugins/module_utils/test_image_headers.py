# SPDX-License-Identifier: GPL-3.0-or-later
"""Decoding image headers (cls_rbd omap values); the real cluster check is in
tests/integration/test_image_headers.py."""

from __future__ import annotations

import struct

import pytest

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_headers import (
    MAX_HEADER_KEYS,
    decode_header,
    decode_parent,
    metadata_from_omap,
)

MIB = 1024 ** 2


def u64(value: int) -> bytes:
    return struct.pack("<Q", value)


def plain_omap(**extra: bytes) -> dict[str, bytes]:
    """The header omap of `rbd create --size 64M` (layering, exclusive-lock, object-map, fast-diff)."""
    omap = {
        "size": u64(64 * MIB),
        "order": b"\x16",
        "features": u64(1 | 4 | 8 | 16),
        "object_prefix": b"\x15\x00\x00\x00rbd_data.11cebfd136f7",
        "snap_seq": u64(0),
        "create_timestamp": b"\x8fV\x07k\x1d\x88\xe5\x04",
        "access_timestamp": b"\x8fV\x07k\x1d\x88\xe5\x04",
        "modify_timestamp": b"\x8fV\x07k\x1d\x88\xe5\x04",
    }
    omap.update(extra)
    return omap


def test_plain_image():
    assert decode_header(plain_omap()) == {
        "size": 64 * MIB, "order": 22, "features": 29, "stripe_unit": 4 * MIB, "stripe_count": 1,
        "data_pool_id": None, "metadata": {}, "parent": None,
    }


def test_striped_image_with_data_pool_and_metadata():
    header = decode_header(plain_omap(
        features=u64(1 | 2 | 128), stripe_unit=u64(MIB), stripe_count=u64(4), data_pool_id=struct.pack("<q", 7),
        flags=u64(0), metadata_conf_rbd_qos_iops_limit=b"500", metadata_site="Zürich".encode(), metadata_empty=None,
    ))
    assert header["stripe_unit"] == MIB and header["stripe_count"] == 4 and header["data_pool_id"] == 7
    assert header["metadata"] == {"conf_rbd_qos_iops_limit": "500", "site": "Zürich", "empty": ""}


def test_layout_keys_are_ignored_without_their_feature():
    header = decode_header(plain_omap(stripe_unit=u64(MIB), stripe_count=u64(4), data_pool_id=u64(3)))
    assert (header["stripe_unit"], header["stripe_count"], header["data_pool_id"]) == (4 * MIB, 1, None)


@pytest.mark.parametrize("extra", [
    {"snapshot_0000000000000004": b"\x08\x01..."},  # snapshots: librbd decodes them
    {"snap_children_0000000000000004": b"\x02..."},
    {"parent": b"\x02\x02..."},  # a parent value that does not decode
    {"op_features": u64(1)},  # clone parent (format 2)
    {"op_features": u64(2)},  # clone child without a parent
    {"migration": b"\x01"},
    {"group": b"\x01"},
    {"snap_limit": u64(3)},
    {"something_new": b""},
], ids=lambda extra: next(iter(extra)))
def test_anything_else_is_left_to_librbd(extra):
    assert decode_header(plain_omap(**extra)) is None


@pytest.mark.parametrize("missing", ["size", "order", "features", "object_prefix"])
def test_a_missing_key_is_left_to_librbd(missing):
    omap = plain_omap()
    del omap[missing]
    assert decode_header(omap) is None


@pytest.mark.parametrize("omap", [
    plain_omap(features=u64(1 | 2)),  # striping without its keys
    plain_omap(features=u64(1 | 128)),  # data pool without its id
    plain_omap(size=b"\x00" * 4),  # value of the wrong length
    plain_omap(order=b""),
], ids=["striping-without-keys", "data-pool-without-id", "short-size", "empty-order"])
def test_inconsistent_headers_are_left_to_librbd(omap):
    assert decode_header(omap) is None


def test_too_many_keys_are_left_to_librbd():
    metadata = {f"metadata_k{i}": b"v" for i in range(MAX_HEADER_KEYS)}
    assert decode_header(plain_omap(**metadata)) is None


def test_metadata_keeps_empty_values_and_replaces_bad_utf8():
    assert metadata_from_omap({"metadata_a": b"", "metadata_b": None, "metadata_c": b"\xff", "size": u64(1)}) == \
        {"a": "", "b": "", "c": "\ufffd"}


def parent_value(pool_id: int = 2, namespace: str = "", image_id: str | bytes = "10282740bc9a", snap_id: int = 4,
                 overlap: int | None = 8 * MIB, version: int = 2) -> bytes:
    """A ``cls_rbd_parent`` as an OSD of Ceph 16 encodes it (checked against one read from a real clone)."""
    def string(text: str | bytes) -> bytes:
        raw = text if isinstance(text, bytes) else text.encode()
        return struct.pack("<I", len(raw)) + raw
    body = struct.pack("<q", pool_id) + string(namespace) + string(image_id) + struct.pack("<Q", snap_id)
    body += b"\x00" if overlap is None else b"\x01" + struct.pack("<Q", overlap)
    return struct.pack("<BBI", version, version, len(body)) + body


def test_parent_value_read_from_a_real_clone():
    raw = (b"\x02\x02-\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x0c\x00\x00\x00"
           b"10282740bc9a\x04\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x80\x00\x00\x00\x00\x00")
    assert raw == parent_value()
    assert decode_parent(raw) == {"pool_id": 2, "namespace": "", "image_id": "10282740bc9a", "snap_id": 4}


@pytest.mark.parametrize("raw", [
    parent_value(version=1),  # encoding of pre-Nautilus OSDs
    parent_value(overlap=None),  # only the snapshots use the parent
    parent_value()[:-1],  # cut short
    parent_value() + b"\x00",  # longer than it says
    parent_value(image_id=b"\xff\xfe"),  # not UTF-8
    b"",
], ids=["version-1", "no-head-overlap", "short", "long", "bad-utf8", "empty"])
def test_other_parent_values_are_left_to_librbd(raw):
    assert decode_parent(raw) is None


def test_parent_names_are_utf8():
    assert decode_parent(parent_value(namespace="tenant-ü", image_id="abc"))["namespace"] == "tenant-ü"


def test_clones_of_both_formats():
    v1_clone = decode_header(plain_omap(parent=parent_value(namespace="tenant")))
    assert v1_clone["parent"] == {"pool_id": 2, "namespace": "tenant", "image_id": "10282740bc9a", "snap_id": 4}
    v2_clone = decode_header(plain_omap(features=u64(1 | 4 | 8 | 16 | 32 | 256), op_features=u64(2),
                                        parent=parent_value()))
    assert v2_clone["parent"]["image_id"] == "10282740bc9a" and v2_clone["features"] == 1 | 4 | 8 | 16 | 32 | 256
    assert decode_header(plain_omap(op_features=u64(0)))["parent"] is None  # a flattened clone
    assert decode_header(plain_omap(op_features=u64(2), parent=parent_value(overlap=None))) is None
