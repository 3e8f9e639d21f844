# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""libvirt calls of a live migration: the hosts' identities, the move itself, a secret's stored value."""

from __future__ import annotations

import base64
import os
import xml.etree.ElementTree as ET
from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    PermissionDeniedError,
    binding_call,
)

try:
    import libvirt
except ImportError:  # reported by the module through missing_required_lib
    libvirt = None

# Where the system libvirtd keeps secret values (qemu:///system; libvirt 9 stores them as base64).
SECRETS_DIR = "/etc/libvirt/secrets"


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


@binding_call("read the value of libvirt secret {secret_uuid}", not_found=None)
def _api_value(secret: Any, secret_uuid: str) -> bytes:
    return secret.value(0)


def stored_secret_value(secret: Any, secret_uuid: str, private: bool, secrets_dir: str = SECRETS_DIR) -> bytes | None:
    """The value a secret holds now (None when it has none).

    libvirt gives a private secret's value to QEMU but not through its API: it is read from
    the file where libvirtd keeps it (root only), the same bytes QEMU gets.
    """
    if not private:
        return _api_value(secret, secret_uuid)
    path = os.path.join(secrets_dir, f"{secret_uuid}.base64")
    try:
        with open(path, "rb") as handle:
            text = handle.read().strip()
    except FileNotFoundError:
        return None
    except PermissionError:
        raise PermissionDeniedError(
            f"cannot read the value of the private libvirt secret {secret_uuid} ({path}): "
            "run as root (become: true)") from None
    return base64.b64decode(text) if text else None
