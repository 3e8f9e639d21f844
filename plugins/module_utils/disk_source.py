# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The disk image file an import reads, on the managed host: checked, inspected, hashed.

:func:`inspect_source` reads the file's status and its first 512 bytes (never more), so
that planning and check mode can tell what would happen; :func:`file_sha256` reads it
whole, once, when its checksum is needed.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.disk_formats import HEADER_BYTES, detect_format
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InvalidInputError

HASH_CHUNK = 8 * 1024 * 1024


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
