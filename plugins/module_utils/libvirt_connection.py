# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one place that opens a libvirt connection."""

from __future__ import annotations

import traceback
from contextlib import contextmanager
from typing import Any, Iterator

from ansible.module_utils.basic import env_fallback

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    UnreachableError,
    translate_libvirt_error,
)

try:
    import libvirt

    LIBVIRT_IMPORT_ERROR = None
except ImportError:
    libvirt = None
    LIBVIRT_IMPORT_ERROR = traceback.format_exc()

LIBVIRT_LIBRARY = "libvirt-python (Debian/Ubuntu package python3-libvirt)"
DEFAULT_URI = "qemu:///system"


def libvirt_connection_argument_spec() -> dict[str, dict[str, Any]]:
    """Argument spec of the shared libvirt option (doc fragment ``connection.LIBVIRT``)."""
    return {
        "uri": {"type": "str", "default": DEFAULT_URI, "fallback": (env_fallback, ["LIBVIRT_DEFAULT_URI"])},
    }


def _silence_libvirt_stderr() -> None:
    """libvirt prints every error to stderr by default; the module reports them itself."""
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)


@contextmanager
def libvirt_connection(uri: str) -> Iterator[Any]:
    """Open a read-write libvirt connection to ``uri`` and always close it."""
    _silence_libvirt_stderr()
    try:
        conn = libvirt.open(uri)
    except libvirt.libvirtError as exc:
        raise UnreachableError(
            f"cannot connect to libvirt at {uri}: {exc.get_error_message() or exc}", uri=uri
        ) from None
    if conn is None:
        raise UnreachableError(f"cannot connect to libvirt at {uri}", uri=uri)
    try:
        yield conn
    except libvirt.libvirtError as exc:
        raise translate_libvirt_error(exc, f"libvirt ({uri})") from exc
    finally:
        try:
            conn.close()
        except libvirt.libvirtError:
            pass
