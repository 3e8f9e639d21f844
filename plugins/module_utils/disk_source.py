# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The disk image file an import reads, on the managed host: checked, inspected, hashed,
and (a raw one) written into an open image.

:func:`inspect_source` reads the file's status and its first 512 bytes (never more), so
that planning and check mode can tell what would happen; :func:`file_sha256` reads it
whole, once, when its checksum is needed. :func:`write_raw` copies a raw file into an
image through librbd: what is all zeros is not written (the image reads zeros there
already), the rest is written by up to ``IN_FLIGHT`` asynchronous writes at once.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import threading
from typing import Any, Iterator

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.disk_formats import HEADER_BYTES, detect_format
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    InvalidInputError,
    error_for_errno,
)

HASH_CHUNK = 8 * 1024 * 1024
COPY_CHUNK = 4 * 1024 * 1024  # read at once, and skipped at once when all zeros
ZERO_BLOCK = 64 * 1024  # within a chunk with data, zero runs of this granularity are skipped
IN_FLIGHT = 16  # asynchronous writes at once


def _unreadable(path: str, error: OSError) -> InvalidInputError:
    if error.errno == errno.ENOENT:
        return InvalidInputError(f"source {path} does not exist on this host")
    if error.errno in (errno.EACCES, errno.EPERM):
        return InvalidInputError(f"source {path} cannot be read: permission denied")
    return InvalidInputError(f"source {path} cannot be read: {error.strerror or error}")


def inspect_source(path: str, wanted: str) -> dict[str, Any]:
    """The source file's ``path``, ``format``, ``virtual_size``, ``file_size``, ``mtime_ns``
    (``sha256`` None: not read yet); InvalidInputError for anything that cannot be imported."""
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise InvalidInputError(f"source {path} is a directory, not a disk image file")
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInputError(f"source {path} is not a regular file (a disk image file is)")
        with open(path, "rb") as handle:
            head = handle.read(HEADER_BYTES)
    except OSError as error:
        raise _unreadable(path, error) from None
    found = detect_format(head, info.st_size, wanted, path)
    return dict(found, path=path, file_size=info.st_size, mtime_ns=info.st_mtime_ns, sha256=None)


def file_sha256(path: str) -> str:
    """The file's SHA-256, hex (one sequential read)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            buffer = bytearray(HASH_CHUNK)
            view = memoryview(buffer)
            while True:
                count = handle.readinto(buffer)
                if not count:
                    break
                digest.update(view[:count])
    except OSError as error:
        raise _unreadable(path, error) from None
    return digest.hexdigest()


def unchanged_since(source: dict[str, Any]) -> bool:
    """Whether the file still has the size and modification time it had when inspected."""
    try:
        info = os.stat(source["path"])
    except OSError:
        return False
    return (info.st_size, info.st_mtime_ns) == (source["file_size"], source["mtime_ns"])


def data_runs(chunk: Any, block: int = ZERO_BLOCK) -> Iterator[tuple[int, int]]:
    """(start, end) of the runs of ``block``-sized pieces of ``chunk`` (bytes or bytearray)
    that are not all zeros."""
    zero = bytes(block)
    start = None
    for offset in range(0, len(chunk), block):
        piece = chunk[offset:offset + block]
        if piece == zero[:len(piece)]:
            if start is not None:
                yield start, offset
                start = None
        elif start is None:
            start = offset
    if start is not None:
        yield start, len(chunk)


class _Writes:
    """Asynchronous writes to an open image, at most ``IN_FLIGHT`` at once; the first error kept."""

    def __init__(self, image: Any) -> None:
        self.image, self.slots, self.error = image, threading.Semaphore(IN_FLIGHT), None

    def done(self, completion: Any) -> None:
        result = completion.get_return_value()
        if result < 0 and self.error is None:
            self.error = result
        self.slots.release()

    def write(self, data: bytes, offset: int) -> None:
        self.slots.acquire()
        self.image.aio_write(data, offset, self.done)

    def wait(self, spec: str) -> None:
        for _slot in range(IN_FLIGHT):
            self.slots.acquire()
        if self.error is not None:
            raise error_for_errno(self.error, f"write into image {spec}: {os.strerror(-self.error)}")
        self.image.flush()


def write_raw(image: Any, path: str, spec: str) -> None:
    """Copy a raw file into an open image that reads as zeros; what is all zeros is not written."""
    writes, zero = _Writes(image), bytes(COPY_CHUNK)
    buffer = bytearray(COPY_CHUNK)
    view, offset = memoryview(buffer), 0
    try:
        with open(path, "rb") as handle:
            for count in iter(lambda: handle.readinto(buffer), 0):
                # bytearray == bytes compares with memcmp (a memoryview would compare item by item);
                # a short last chunk is compared with zeros of its own length.
                chunk = buffer if count == COPY_CHUNK else buffer[:count]
                if chunk != (zero if count == COPY_CHUNK else bytes(count)):
                    for start, end in data_runs(chunk):
                        writes.write(bytes(view[start:end]), offset + start)
                offset += count
    except OSError as error:
        raise _unreadable(path, error) from None
    finally:
        writes.wait(spec)
