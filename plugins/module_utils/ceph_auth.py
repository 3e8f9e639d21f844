# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""cephx clients: keys, caps, keyrings, and the mon commands that manage them.

Keys travel only through librados memory (``inbuf`` of ``auth import``) and Python
strings; nothing here writes a key to a command line, a log or a file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
import time
from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import (
    CephCluster,
    check_keyring_file,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    ClusterError,
    InvalidInputError,
    NotFoundError,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.validation import CEPHX_ID_RE

CEPH_CRYPTO_AES = 1
CEPHX_SECRET_BYTES = 16
# le16 type, le32 created seconds, le32 created nanoseconds, le16 secret length
_KEY_HEADER = struct.Struct("<HIIH")
CAP_SERVICES = ("mon", "osd", "mgr", "mds")


def entity_name(name: str) -> str:
    """``libvirt`` or ``client.libvirt`` -> ``client.libvirt`` (validated)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError("the cephx client name must not be empty")
    entity = name if name.startswith("client.") else f"client.{name}"
    client_id = entity[len("client."):]
    if not client_id or not CEPHX_ID_RE.match(client_id):
        raise InvalidInputError(
            f"cephx client name {name!r} is not valid: use letters, digits, '.', '_' or '-' "
            "(for example 'libvirt' or 'client.libvirt')"
        )
    return entity


def generate_key(now: float | None = None) -> str:
    """A new cephx key, the way ``ceph-authtool --gen-print-key`` makes one."""
    created = time.time() if now is None else now
    seconds = int(created)
    nanoseconds = int((created - seconds) * 1e9)
    header = _KEY_HEADER.pack(CEPH_CRYPTO_AES, seconds, nanoseconds, CEPHX_SECRET_BYTES)
    return base64.b64encode(header + os.urandom(CEPHX_SECRET_BYTES)).decode("ascii")


def decode_key(key: Any, what: str = "key") -> bytes:
    """Return the raw bytes of a base64 cephx key, or raise without echoing the key."""
    if not isinstance(key, str) or not key.strip():
        raise InvalidInputError(f"{what} must be a non-empty base64 cephx key")
    try:
        raw = base64.b64decode(key.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(f"{what} is not valid base64 (expected a cephx key like 'AQ...==')") from None
    if len(raw) != _KEY_HEADER.size + CEPHX_SECRET_BYTES:
        raise InvalidInputError(
            f"{what} is not a cephx key: it decodes to {len(raw)} bytes, a cephx key has "
            f"{_KEY_HEADER.size + CEPHX_SECRET_BYTES}"
        )
    key_type, _sec, _nsec, length = _KEY_HEADER.unpack(raw[:_KEY_HEADER.size])
    if key_type != CEPH_CRYPTO_AES or length != CEPHX_SECRET_BYTES:
        raise InvalidInputError(f"{what} is not a cephx key (wrong key type or length in its header)")
    return raw


def validate_key(key: Any, what: str = "key") -> str:
    """Check a base64 cephx key and return it stripped."""
    decode_key(key, what)
    return key.strip()


def key_fingerprint(key: str) -> str:
    """First 16 hex digits of the SHA-256 of the base64 key: comparable, not reversible."""
    return hashlib.sha256(key.strip().encode("ascii")).hexdigest()[:16]


def pool_caps(pools: list[str] | None) -> dict[str, str]:
    """The caps an RBD client needs: ``profile rbd`` on mon, and on osd/mgr per pool.

    A pool entry may be ``pool`` or ``pool/namespace``. No pools: the profile on every pool.
    """
    if not pools:
        return {"mon": "profile rbd", "osd": "profile rbd", "mgr": "profile rbd"}
    grants = []
    for entry in pools:
        pool, _sep, namespace = str(entry).partition("/")
        if not pool or any(c.isspace() or c in ",=" for c in entry):
            raise InvalidInputError(f"pool {entry!r} is not a valid pool or pool/namespace for caps")
        grant = f"profile rbd pool={pool}"
        if namespace:
            grant += f" namespace={namespace}"
        grants.append(grant)
    joined = ", ".join(grants)
    return {"mon": "profile rbd", "osd": joined, "mgr": joined}


def validate_cap_text(value: Any, what: str) -> str:
    """A caps string that fits on one keyring line: printable ASCII without ``#`` or ``;``.

    Caps travel as JSON arguments (``auth get-or-create``, ``auth caps``) and, for a
    rotation, inside a keyring text (``auth import``) whose parser ends a value at a line
    break and reads ``#``/``;`` as a comment even inside quotes. Refusing those characters
    here, for every action and in check mode alike, means no value can add a line or a
    section to that text, and check mode never promises a change that apply refuses.
    The value is never echoed: it may be hostile.
    """
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string, got {type(value).__name__}")
    for char in value:
        if char == "\x00":
            raise InvalidInputError(f"{what} must not contain a NUL byte")
        if char in "\r\n":
            raise InvalidInputError(f"{what} must not contain a line break: caps are one line")
        if ord(char) < 32 or ord(char) == 127:
            raise InvalidInputError(f"{what} must not contain control characters (found U+{ord(char):04X})")
        if ord(char) > 126:
            raise InvalidInputError(
                f"{what} must be ASCII: Ceph caps are ASCII (found U+{ord(char):04X})"
            )
        if char in "#;":
            raise InvalidInputError(
                f"{what} must not contain {char!r}: Ceph's keyring format reads it as a comment"
            )
    return value


def desired_caps(caps: dict[str, Any] | None, pools: list[str] | None) -> dict[str, str]:
    """Exact caps wanted: ``caps`` as given (all of them), else built from ``pools``.

    Every value is checked with :func:`validate_cap_text` (see there why).
    """
    if caps:
        unknown = sorted(set(caps) - set(CAP_SERVICES))
        if unknown:
            raise InvalidInputError(
                f"caps has unknown services {unknown}: use {', '.join(CAP_SERVICES)}"
            )
        wanted = {service: str(value).strip() for service, value in caps.items()
                  if value is not None and str(value).strip()}
    else:
        wanted = pool_caps(pools)
    for service, value in wanted.items():
        validate_cap_text(value, f"caps.{service}")
    return wanted


def caps_argument(caps: dict[str, str]) -> list[str]:
    """``{'mon': 'x', 'osd': 'y'}`` -> ``['mon', 'x', 'osd', 'y']`` for ``auth`` commands."""
    flat = []
    for service in sorted(caps):
        flat += [service, caps[service]]
    return flat


def _quoted(value: str) -> str:
    """A keyring value in double quotes, escaped the way Ceph's parser reads it back."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def keyring_text(entity: str, key: str, caps: dict[str, str] | None = None) -> str:
    """A keyring section, as ``ceph auth get`` writes it, built by a strict encoder.

    Every value is validated (entity name, base64 key, one-line ASCII caps) and quoted,
    so the text is exactly one section with one ``key`` line and one line per cap.
    """
    entity = entity_name(entity)
    key = validate_key(key)
    lines = [f"[{entity}]", f"\tkey = {key}"]
    for service in sorted(caps or {}):
        if service not in CAP_SERVICES:
            raise InvalidInputError(f"caps has an unknown service {service!r}")
        value = validate_cap_text(caps[service], f"caps.{service}")
        lines.append(f"\tcaps {service} = {_quoted(value)}")
    text = "\n".join(lines) + "\n"
    if text.count("\n") != len(lines):  # the checks above make this impossible; keep it so
        raise InvalidInputError("refusing to build a keyring text with a value that adds a line")
    return text


def parse_keyring(text: str) -> dict[str, str]:
    """Map each ``[entity]`` section of a keyring to its key."""
    keys: dict[str, str] = {}
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        name, sep, value = line.partition("=")
        if section and sep and name.strip() == "key":
            keys[section] = value.strip()
    return keys


def read_key_from_keyring(path: str, entity: str) -> str:
    """The key of ``entity`` in the keyring file at ``path`` (read in Python, validated)."""
    wanted = entity_name(entity)
    try:
        check_keyring_file(path)
    except InvalidInputError as exc:
        if not os.path.lexists(path):
            raise NotFoundError(str(exc)) from None
        raise
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise InvalidInputError(f"cannot read the keyring {path}: {exc.strerror}") from None
    key = parse_keyring(text).get(wanted)
    if key is None:
        raise NotFoundError(f"the keyring {path} has no key for {wanted}")
    return validate_key(key, f"the key of {wanted} in {path}")


def get_client(cluster: CephCluster, entity: str) -> dict[str, Any] | None:
    """``{'entity', 'key', 'caps'}`` of a cephx client, None when it does not exist."""
    try:
        found = cluster.mon_command("auth get", entity=entity)
    except NotFoundError:
        return None
    if not found:
        return None
    entry = found[0]
    return {"entity": entry["entity"], "key": entry["key"], "caps": dict(entry.get("caps") or {})}


def create_client(cluster: CephCluster, entity: str, caps: dict[str, str]) -> None:
    """Create a client with a key generated by the monitors."""
    cluster.mon_command("auth get-or-create", entity=entity, caps=caps_argument(caps))


def set_caps(cluster: CephCluster, entity: str, caps: dict[str, str]) -> None:
    """Replace ALL caps of a client with ``caps``."""
    cluster.mon_command("auth caps", entity=entity, caps=caps_argument(caps))


def import_client(cluster: CephCluster, entity: str, key: str, caps: dict[str, str]) -> None:
    """Set a client's key and caps at once (``auth import``; creates or replaces).

    The result is read back: a key or caps other than the ones sent is an error.
    """
    cluster.mon_command("auth import", inbuf=keyring_text(entity, key, caps).encode("ascii"))
    after = get_client(cluster, entity)
    if after is None or after["key"] != key or after["caps"] != caps:
        raise ClusterError(
            f"auth import of {entity} did not leave the key and caps that were sent; "
            f"the monitors hold caps {after['caps'] if after else None}"
        )


def remove_client(cluster: CephCluster, entity: str) -> None:
    cluster.mon_command("auth rm", entity=entity)


def plan_client(
    before: dict[str, Any] | None, state: str, caps: dict[str, str], rotate: bool
) -> list[str]:
    """Actions to converge a client: create, set_caps, rotate, remove (pure)."""
    if state == "absent":
        return ["remove"] if before is not None else []
    if before is None:
        return ["create"]
    actions = []
    if rotate:
        actions.append("rotate")
    elif before["caps"] != caps:
        actions.append("set_caps")
    return actions


def describe_client(entity: str, caps: dict[str, str], key: str | None) -> dict[str, Any]:
    """What the module returns and diffs: never the key itself."""
    return {
        "entity": entity,
        "caps": dict(caps),
        "key_fingerprint": key_fingerprint(key) if key else None,
    }
