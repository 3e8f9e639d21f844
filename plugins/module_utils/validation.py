# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure input checks shared by the modules: sizes, names, image specs, UUIDs (no bindings)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InvalidInputError

UNIT_FACTORS = {
    "": 1,
    "B": 1,
    "K": 1024,
    "M": 1024 ** 2,
    "G": 1024 ** 3,
    "T": 1024 ** 4,
    "P": 1024 ** 5,
}

_SIZE_RE = re.compile(r"^\s*(?P<number>[0-9]+)\s*(?P<unit>[A-Za-z]*)\s*$")

# A cephx client id (the part after "client."), as ceph auth and libvirt disks take it.
CEPHX_ID_RE = re.compile(r"^[A-Za-z0-9_.-]+$")

# Characters that break "pool/namespace/image@snap" and qemu's "rbd:" specs.
_FORBIDDEN_NAME_CHARS = {"/": "'/'", "@": "'@'", ":": "':'", "\x00": "NUL"}
MAX_NAME_BYTES = 250


def _unit_factor(unit: str) -> int | None:
    """Factor of a binary unit: '', B, K..P, KiB..PiB (case-insensitive letters)."""
    key = unit.upper()
    if key in UNIT_FACTORS:
        return UNIT_FACTORS[key]
    if len(key) == 3 and key.endswith("IB") and key[0] in "KMGTP":
        return UNIT_FACTORS[key[0]]
    return None


def parse_size(value: Any, what: str = "size") -> int:
    """Return a size in bytes from an integer or a string with a binary unit.

    ``1G`` is 1 GiB (1073741824 bytes), as in the ``rbd`` CLI. Decimal units
    (``GB``), fractions and exponents are refused rather than guessed.
    """
    if isinstance(value, bool) or value is None:
        raise InvalidInputError(f"{what} must be a number of bytes or a string like '10G', got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise InvalidInputError(f"{what} must not be negative, got {value}")
        return value
    if isinstance(value, float):
        if value.is_integer() and value >= 0:
            return int(value)
        raise InvalidInputError(f"{what} must be a whole number of bytes, got {value!r}")
    text = str(value)
    match = _SIZE_RE.match(text)
    if not match:
        raise InvalidInputError(
            f"{what} {text!r} is not a size: use whole bytes or a whole number with a binary unit "
            "B, K, M, G, T, P (or KiB..PiB), e.g. '10G'"
        )
    factor = _unit_factor(match.group("unit"))
    if factor is None:
        raise InvalidInputError(
            f"{what} {text!r} has an unknown unit {match.group('unit')!r}: use B, K, M, G, T, P "
            "or KiB, MiB, GiB, TiB, PiB (binary: 1G = 1073741824 bytes)"
        )
    return int(match.group("number")) * factor


def parse_positive_size(value: Any, what: str = "size") -> int:
    """Like :func:`parse_size` but refuses 0."""
    size = parse_size(value, what)
    if size <= 0:
        raise InvalidInputError(f"{what} must be greater than 0, got {value!r}")
    return size


def positive_int(value: Any, what: str) -> int:
    """An integer >= 1 (not a bool), else InvalidInputError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidInputError(f"{what} must be a positive integer, got {value!r}")
    return value


def validate_name(value: Any, kind: str = "name", allow_empty: bool = False) -> str:
    """Check a pool, namespace, image or snapshot name and return it.

    Names must not contain '/', '@', ':', whitespace or NUL (they break
    ``pool/ns/image@snap`` and qemu's ``rbd:`` specs), nor control characters,
    and must fit in 250 bytes of UTF-8.
    """
    if not isinstance(value, str):
        raise InvalidInputError(f"{kind} must be a string, got {type(value).__name__}: {value!r}")
    if value == "":
        if allow_empty:
            return value
        raise InvalidInputError(f"{kind} must not be empty")
    for char, label in _FORBIDDEN_NAME_CHARS.items():
        if char in value:
            raise InvalidInputError(f"{kind} {value!r} must not contain {label}")
    if any(c.isspace() for c in value):
        raise InvalidInputError(f"{kind} {value!r} must not contain whitespace")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidInputError(f"{kind} {value!r} must not contain control characters")
    if value in (".", ".."):
        raise InvalidInputError(f"{kind} must not be {value!r}")
    if len(value.encode("utf-8")) > MAX_NAME_BYTES:
        raise InvalidInputError(
            f"{kind} is {len(value.encode('utf-8'))} bytes long; the limit is {MAX_NAME_BYTES} bytes"
        )
    return value


def refuse_nul(value: str, what: str) -> str:
    """Refuse a NUL byte: librbd, libvirt and keyrings end a C string there (``a\\0b`` is
    stored as ``a``, and compared as ``a\\0b`` on the next run)."""
    if "\x00" in value:
        raise InvalidInputError(f"{what} {value!r} must not contain a NUL byte")
    return value


def validate_uuid(value: Any, what: str = "uuid") -> str:
    """Return the canonical lower-case form of a UUID or raise."""
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, AttributeError, TypeError):
        raise InvalidInputError(f"{what} {value!r} is not a valid UUID") from None


def format_size(num_bytes: int) -> str:
    """Human-readable binary size (for messages), e.g. 10 GiB."""
    value = float(num_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if value.is_integer() else f"{value:.1f} {unit}"
        value /= 1024
    return f"{num_bytes} B"


def image_spec(pool: str, namespace: str, name: str, snapshot: str | None = None) -> str:
    """``pool/[namespace/]image[@snap]`` as the rbd CLI writes it."""
    spec = f"{pool}/{namespace}/{name}" if namespace else f"{pool}/{name}"
    return f"{spec}@{snapshot}" if snapshot else spec


def parse_image_spec(spec: str, need_snapshot: bool = False) -> dict[str, Any]:
    """Parse ``pool/[namespace/]image[@snap]`` into a dict; every part is validated."""
    if not isinstance(spec, str) or not spec:
        raise InvalidInputError(f"image spec must be 'pool[/namespace]/image@snapshot', got {spec!r}")
    path, sep, snapshot = spec.partition("@")
    parts = path.split("/")
    if len(parts) not in (2, 3) or (sep and not snapshot):
        raise InvalidInputError(f"image spec {spec!r} is not 'pool[/namespace]/image@snapshot'")
    if need_snapshot and not sep:
        raise InvalidInputError(f"image spec {spec!r} names no snapshot: use 'pool[/namespace]/image@snapshot'")
    pool, namespace, name = (parts[0], "", parts[1]) if len(parts) == 2 else parts
    return {
        "pool": validate_name(pool, "pool name"),
        "namespace": validate_name(namespace, "namespace", allow_empty=True),
        "image": validate_name(name, "image name"),
        "snapshot": validate_name(snapshot, "snapshot name") if sep else None,
    }
