# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Disk image files as data (pure): which format a file's first bytes say, a qcow2 header,
and the import record an image keeps in its metadata.

A file is *qcow2* when it starts with ``QFI\\xfb``; it is taken as *raw* when it is no
other known format and its size is a whole, non-zero number of 512-byte sectors (a raw
disk image always is). A file that starts like another image format (VMDK, VDI, VHDX,
QED, LUKS) or like a compressed archive (gzip, xz, bzip2, zstd, zip) is refused under
every ``source_format``: importing it as raw would put the container, not the disk, into
the image.
"""

from __future__ import annotations

import struct
from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.attachment_records import (
    RESERVED_METADATA_PREFIX,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InvalidInputError

SOURCE_FORMATS = ("auto", "raw", "qcow2")
QCOW2_MAGIC = b"QFI\xfb"
QCOW2_EXTERNAL_DATA_FILE = 1 << 2  # incompatible feature bit: the data lives in another file
SECTOR = 512
HEADER_BYTES = 512  # enough for every magic below and the qcow2 header fields read here
# Magic numbers at offset 0 of formats that are not a raw disk: (magic, what it is, what to do).
OTHER_MAGICS = (
    (b"KDMV", "a VMDK image", "convert it with qemu-img convert -O qcow2 first"),
    (b"# Disk DescriptorFile", "a VMDK descriptor", "convert it with qemu-img convert -O qcow2 first"),
    (b"vhdxfile", "a VHDX image", "convert it with qemu-img convert -O qcow2 first"),
    (b"conectix", "a VHD image", "convert it with qemu-img convert -O qcow2 first"),
    (b"QED\x00", "a QED image", "convert it with qemu-img convert -O qcow2 first"),
    (b"LUKS\xba\xbe", "a LUKS encrypted volume", "import the decrypted disk image"),
    (b"\x1f\x8b", "a gzip file", "decompress it first"),
    (b"\xfd7zXZ\x00", "an xz file", "decompress it first"),
    (b"BZh", "a bzip2 file", "decompress it first"),
    (b"\x28\xb5\x2f\xfd", "a zstd file", "decompress it first"),
    (b"PK\x03\x04", "a zip archive", "extract the disk image first"),
)
VDI_SIGNATURE = (64, b"\x7f\x10\xda\xbe")  # offset, bytes: the VDI header's signature

# The import record in the image's metadata (the collection's reserved prefix: the
# metadata option neither sets, reports nor removes these keys).
SOURCE_KEY_PREFIX = RESERVED_METADATA_PREFIX + "source."
SOURCE_KEYS = {"digest": SOURCE_KEY_PREFIX + "digest", "format": SOURCE_KEY_PREFIX + "format",
               "size": SOURCE_KEY_PREFIX + "size"}


def other_format(head: bytes) -> tuple[str, str] | None:
    """(what it is, what to do) when ``head`` starts like a known non-raw, non-qcow2 format."""
    for magic, what, hint in OTHER_MAGICS:
        if head.startswith(magic):
            return what, hint
    offset, signature = VDI_SIGNATURE
    if head[offset:offset + len(signature)] == signature:
        return "a VDI image", "convert it with qemu-img convert -O qcow2 first"
    return None


def parse_qcow2_header(head: bytes, path: str) -> dict[str, Any]:
    """Version, virtual size and cluster size of a qcow2 header; refuse what cannot be imported
    alone (a backing file, encryption) or is damaged."""
    if len(head) < 72 or not head.startswith(QCOW2_MAGIC):
        raise InvalidInputError(f"source {path} is not a qcow2 image (its header is missing or cut short)")
    version, backing_offset, _backing_size, cluster_bits, size, crypt = struct.unpack(">IQIIQI", head[4:36])
    if version not in (2, 3):
        raise InvalidInputError(f"source {path} is a qcow2 image of version {version}: only versions 2 and 3 "
                                "can be imported")
    if not 9 <= cluster_bits <= 21:
        raise InvalidInputError(f"source {path} is a damaged qcow2 image (cluster bits {cluster_bits})")
    if backing_offset:
        raise InvalidInputError(
            f"source {path} is a qcow2 image with a backing file: it is not a whole disk on its own; "
            "make a standalone copy first (qemu-img convert -O qcow2 without -B)")
    if crypt:
        raise InvalidInputError(f"source {path} is an encrypted qcow2 image: import a decrypted copy")
    if version == 3 and len(head) >= 80 and struct.unpack(">Q", head[72:80])[0] & QCOW2_EXTERNAL_DATA_FILE:
        raise InvalidInputError(
            f"source {path} is a qcow2 image whose data is in an external data file (another file it names): "
            "make a standalone copy first (qemu-img convert -O qcow2)")
    return {"version": version, "virtual_size": size, "cluster_size": 1 << cluster_bits}


def detect_format(head: bytes, file_size: int, wanted: str, path: str) -> dict[str, Any]:
    """The source's ``format`` and ``virtual_size`` from its first bytes and its size.

    ``wanted`` is the ``source_format`` option: ``auto`` detects; ``raw`` and ``qcow2`` must
    match the file (a mismatch is an error, never a guess).
    """
    other = other_format(head)
    if other:
        raise InvalidInputError(f"source {path} is {other[0]}, not a disk image this module imports "
                                f"(raw or qcow2): {other[1]}")
    found = "qcow2" if head.startswith(QCOW2_MAGIC) else "raw"
    if wanted not in ("auto", found):
        raise InvalidInputError(
            f"source {path} is a {found} image, but source_format is {wanted}: "
            f"set source_format to {found} or auto (or give the right file)")
    if found == "qcow2":
        return dict(parse_qcow2_header(head, path), format="qcow2")
    if file_size == 0 or file_size % SECTOR:
        raise InvalidInputError(
            f"source {path} is not a disk image: it is not qcow2, and its size ({file_size} bytes) is not "
            f"a whole number of {SECTOR}-byte sectors, as a raw disk image's is")
    return {"format": "raw", "virtual_size": file_size}


def source_record(entries: Any) -> dict[str, Any] | None:
    """The import record among an image's metadata entries (key, value pairs); None when it has none.

    An image whose record lacks its digest (an import that did not finish, or one recorded by a
    development version of the collection that stored a sha256 instead) has none.
    """
    values = dict(entries)
    if not values.get(SOURCE_KEYS["digest"]):
        return None
    size = values.get(SOURCE_KEYS["size"])
    return {"digest": values[SOURCE_KEYS["digest"]], "format": values.get(SOURCE_KEYS["format"]),
            "size": int(size) if size and size.isdigit() else None}


def record_entries(source: dict[str, Any]) -> dict[str, str]:
    """The metadata entries that record a finished import of ``source``."""
    return {SOURCE_KEYS["digest"]: source["digest"], SOURCE_KEYS["format"]: source["format"],
            SOURCE_KEYS["size"]: str(source["file_size"])}
