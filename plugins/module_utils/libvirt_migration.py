# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""libvirt calls of a live migration: the hosts' identities and the move itself."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import binding_call

try:
    import libvirt
except ImportError:  # reported by the module through missing_required_lib
    libvirt = None


@binding_call("read the host name of the libvirt host at {uri}")
def host_name(conn: Any, uri: str) -> str:
    return conn.getHostname()


@binding_call("read the host UUID of the libvirt host at {uri}")
def host_uuid(conn: Any, uri: str) -> str:
    """The host UUID from the capabilities: libvirt refuses to migrate between two hosts with the same."""
    return (ET.fromstring(conn.getCapabilities()).findtext("./host/uuid") or "").strip()


def migration_flags(names: tuple[str, ...]) -> int:
    flags = 0
    for name in names:
        flags |= getattr(libvirt, name)
    return flags


@binding_call(lambda arguments: f"live-migrate domain {arguments['dom'].name()!r} to {arguments['target_uri']}")
def migrate(dom: Any, target_conn: Any, target_uri: str, flag_names: tuple[str, ...],
            params: dict[str, Any]) -> Any:
    """Move the domain to the target connection (virDomainMigrate3); the domain there."""
    return dom.migrate3(target_conn, params, migration_flags(flag_names))
