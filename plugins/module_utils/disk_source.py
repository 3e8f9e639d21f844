# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The disk image file an import reads, on the managed host: checked, inspected, digested,
and (a raw one) written into an open image.

:func:`inspect_source` reads the file's status and its first 512 bytes (never more), so
that planning and check mode can tell what would happen. :func:`file_digest` reads the
parts of the file that hold data (not its holes) when its content digest is needed, and
:func:`write_raw` copies a raw file into an image through librbd, computing that digest
on the way: what is all zeros is neither written (the image reads zeros there already) nor
hashed, the rest is written by up to ``IN_FLIGHT`` asynchronous writes at once.

The content digest (:class:`ContentDigest`, scheme ``DIGEST_SCHEME``) is a SHA-256 of the
file's content that costs nothing for zeros: SHA-256 over the line
``"sha256-nonzero-64k <file size>\\n"`` followed, for each 64 KiB block of the file (the last one
may be shorter) that is not all zero bytes, in file order, by the block's index (8 bytes, big
endian) and its bytes. Two files with the same bytes have the same digest however sparse they
are on disk; it is not the value ``sha256sum`` prints (which has to hash every zero: about
0.6 s of CPU per GiB, more than the whole import of a mostly empty disk).
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

COPY_CHUNK = 4 * 1024 * 1024  # read at once, and skipped at once when all zeros
ZERO_BLOCK = 64 * 1024  # zero detection and digest block: all-zero blocks are neither written nor hashed
IN_FLIGHT = 16  # asynchronous writes at once
DIGEST_SCHEME = "sha256-nonzero-64k"


def _unreadable(path: str, error: OSError) -> InvalidInputError:
    if error.errno == errno.ENOENT:
        return InvalidInputError(f"source {path} does not exist on this host")
    if error.errno in (errno.EACCES, errno.EPERM):
        return InvalidInputError(f"source {path} cannot be read: permission denied")
    return InvalidInputError(f"source {path} cannot be read: {error.strerror or error}")


def inspect_source(path: str, wanted: str) -> dict[str, Any]:
    """The source file's ``path``, ``format``, ``virtual_size``, ``file_size``, ``mtime_ns``
    (``digest`` None: not read yet); InvalidInputError for anything that cannot be imported."""
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
    return dict(found, path=path, file_size=info.st_size, mtime_ns=info.st_mtime_ns, digest=None)


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


def data_segments(fd: int, size: int) -> Iterator[tuple[int, int]]:
    """(start, end) of the parts of a file that are not holes (``SEEK_DATA``/``SEEK_HOLE``; a file
    system without holes reports the whole file as data)."""
    offset = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as error:
            if error.errno == errno.ENXIO:  # nothing but a hole up to the end
                return
            raise
        offset = min(os.lseek(fd, start, os.SEEK_HOLE), size)
        yield start, offset


def aligned_data_ranges(fd: int, size: int, block: int = ZERO_BLOCK) -> Iterator[tuple[int, int]]:
    """The file's data segments widened to whole ``block``-aligned blocks, in order, never overlapping."""
    done = 0
    for start, end in data_segments(fd, size):
        start = max(start - start % block, done)
        end = min(-(-end // block) * block, size)
        if start < end:
            yield start, end
            done = end


def nonzero_runs(handle: Any) -> Iterator[tuple[int, memoryview]]:
    """(offset, data) of the open file's runs of ``ZERO_BLOCK``-aligned blocks that are not all zeros,
    in order; holes are not read. ``data`` is valid until the next run is asked for."""
    buffer, zero = bytearray(COPY_CHUNK), bytes(COPY_CHUNK)
    view = memoryview(buffer)
    for offset, end in aligned_data_ranges(handle.fileno(), os.fstat(handle.fileno()).st_size):
        handle.seek(offset)
        while offset < end:
            count = handle.readinto(view[:min(COPY_CHUNK, end - offset)])
            if not count:
                return
            # bytearray == bytes compares with memcmp (a memoryview would compare item by item)
            chunk = buffer if count == COPY_CHUNK else bytes(view[:count])
            if chunk != (zero if count == COPY_CHUNK else bytes(count)):
                for start, stop in data_runs(chunk):
                    yield offset + start, view[start:stop]
            offset += count


class ContentDigest:
    """The ``DIGEST_SCHEME`` digest of a file of ``size`` bytes, fed its non-zero runs in order."""

    def __init__(self, size: int) -> None:
        self.hash = hashlib.sha256(f"{DIGEST_SCHEME} {size}\n".encode("ascii"))

    def add(self, offset: int, data: Any) -> None:
        """Add a run of non-zero blocks that starts at ``offset`` (a multiple of ``ZERO_BLOCK``)."""
        for start in range(0, len(data), ZERO_BLOCK):
            self.hash.update(((offset + start) // ZERO_BLOCK).to_bytes(8, "big"))
            self.hash.update(data[start:start + ZERO_BLOCK])

    def value(self) -> str:
        return f"{DIGEST_SCHEME}:{self.hash.hexdigest()}"


def _digest_runs(path: str, each_run: Any = None) -> str:
    """Read the file's non-zero runs once, pass each to ``each_run(offset, data)``; return its digest."""
    try:
        with open(path, "rb") as handle:
            digest = ContentDigest(os.fstat(handle.fileno()).st_size)
            for offset, data in nonzero_runs(handle):
                if each_run is not None:
                    each_run(offset, data)
                digest.add(offset, data)
    except OSError as error:
        raise _unreadable(path, error) from None
    return digest.value()


def file_digest(path: str) -> str:
    """The file's content digest (its holes and zero blocks are not hashed)."""
    return _digest_runs(path)


def write_raw(image: Any, path: str, spec: str) -> str:
    """Copy a raw file into an open image that reads as zeros (holes not read, zeros not written);
    return the file's content digest, computed from the same reads."""
    writes = _Writes(image)
    try:
        return _digest_runs(path, lambda offset, data: writes.write(bytes(data), offset))
    finally:
        writes.wait(spec)
