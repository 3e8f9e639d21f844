# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cluster's central configuration database (``ceph config``) through mon commands.

Values are compared the way the monitors store them: ``config set`` normalises a value
(``4G`` becomes ``4294967296``, ``TRUE`` becomes ``true``, ``0.5`` becomes ``0.500000``).
Core options are normalised by Ceph's own parser (``conf_set``/``conf_get`` on a scratch,
never connected client handle); options of mgr modules (``mgr/<module>/<option>``), which
a client does not know, by :func:`normalize_typed` from the type ``config help`` reports.
"""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import CephCluster
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    InvalidInputError,
    NotFoundError,
    binding_call,
)

try:
    import rados
except ImportError:  # the module reports missing bindings before calling in here
    rados = None

_SECTION = re.compile(r"^(global|mon|mgr|osd|mds|client|rgw)(\.[A-Za-z0-9_.\-]+)?$")
_MASK = re.compile(r"^[a-z_]+:[^\s/:]+$")

# strict_si_cast (int, uint): one SI prefix, powers of 1000.
_SI = {"": 1, "K": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15, "E": 10 ** 18}
# strict_iecstrtoll (size): K or Ki ..., powers of 1024.
_IEC = {"": 1, "K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30, "T": 2 ** 40, "P": 2 ** 50, "E": 2 ** 60}
# parse_timespan (secs): units and their seconds.
_TIMESPAN_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "wk": 604800, "week": 604800, "weeks": 604800,
    "mo": 2592000, "month": 2592000, "months": 2592000,
    "y": 31536000, "yr": 31536000, "year": 31536000, "years": 31536000,
}


def parse_who(who: str) -> tuple[str, str]:
    """Split ``who`` (``osd``, ``osd.3``, ``client.libvirt``, ``osd/class:ssd``) into section and mask.

    Raises InvalidInputError for what the monitors would refuse as a config target.
    """
    section, _sep, mask = (who or "").partition("/")
    if not _SECTION.match(section):
        raise InvalidInputError(
            f"who {who!r} is not a Ceph config target: use global, mon, mgr, osd, mds, client, "
            "a daemon or client name (osd.3, client.libvirt), optionally with a mask (osd/class:ssd, "
            "osd/host:node1)"
        )
    if mask and not all(_MASK.match(part) for part in mask.split("/")):
        raise InvalidInputError(f"who {who!r}: a mask is <type>:<value>, e.g. class:ssd or host:node1")
    return section, mask


def config_value_text(value: Any) -> str:
    """A value from the playbook as the text Ceph parses (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        raise InvalidInputError("value is required with state=present")
    return str(value)


def _strict_int(text: str, name: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text):
        raise InvalidInputError(f"{text!r} is not a valid value for {name}: expected an integer")
    return int(text)


def normalize_typed(option: dict[str, Any], text: str) -> str:
    """``text`` normalised as the monitors store it, for an option of type ``option['type']``.

    ``option`` is a ``config help`` entry (name, type, enum_values). Used for mgr module
    options; core options go through Ceph's own parser (:func:`normalize_value`).
    """
    name, kind = option.get("name", "option"), option.get("type", "str")
    allowed = [str(v) for v in option.get("enum_values") or option.get("enum_allowed") or []]
    if kind == "bool":
        if text.lower() in ("true", "false"):
            return text.lower()
        return "true" if _strict_int(text, name) else "false"
    if kind in ("int", "uint"):
        match = re.fullmatch(r"([+-]?\d+)([KMGTPE]?)", text)
        if not match:
            raise InvalidInputError(f"{text!r} is not a valid value for {name}: expected an integer "
                                    "(optionally with K, M, G, T, P or E)")
        number = int(match.group(1)) * _SI[match.group(2)]
        if kind == "uint" and number < 0:
            raise InvalidInputError(f"{text!r} is not a valid value for {name}: it must not be negative")
        return str(number)
    if kind == "size":
        match = re.fullmatch(r"(\d+)(?:([KMGTPE])i?)?", text)
        if not match:
            raise InvalidInputError(f"{text!r} is not a valid value for {name}: expected a size such as "
                                    "4096, 64M or 4Gi")
        return str(int(match.group(1)) * _IEC[match.group(2) or ""])
    if kind == "float":
        try:
            return f"{float(text):f}"
        except ValueError:
            raise InvalidInputError(f"{text!r} is not a valid value for {name}: expected a number") from None
    if kind == "secs":
        if re.fullmatch(r"\d+", text):
            return str(int(text))
        parts = re.findall(r"(\d+)\s*([a-z]+)\s*", text)
        if not parts or "".join(f"{n}{u}" for n, u in parts) != re.sub(r"\s+", "", text) or \
                any(unit not in _TIMESPAN_UNITS for _n, unit in parts):
            raise InvalidInputError(f"{text!r} is not a valid value for {name}: expected seconds or a "
                                    "timespan such as 90, 5m or 1h30m")
        return str(sum(int(n) * _TIMESPAN_UNITS[unit] for n, unit in parts))
    if allowed and text not in allowed:
        raise InvalidInputError(f"{text!r} is not a valid value for {name}: one of {', '.join(allowed)}")
    return text


def option_help(cluster: CephCluster, name: str) -> dict[str, Any]:
    """The monitors' description of an option (type, default, min, max ...).

    Raises InvalidInputError naming the option when the cluster does not know it.
    """
    try:
        return cluster.mon_command("config help", key=name) or {}
    except NotFoundError:
        hint = ("mgr module options are mgr/<module>/<option> of a module the mgr has "
                "(see ceph_mgr_module)" if name.startswith("mgr/") else "`ceph config ls` lists the options")
        raise InvalidInputError(f"unknown Ceph option {name!r}: the cluster does not know it ({hint})",
                                option=name) from None


@binding_call("read back option {name}")
def _read_back(handle: Any, name: str) -> str:
    return handle.conf_get(name)


def normalize_value(option: dict[str, Any], text: str) -> str:
    """``text`` as the monitors would store it for ``option`` (a ``config help`` entry).

    Raises InvalidInputError with Ceph's reason for a value it refuses.
    """
    name = option.get("name", "")
    if name.startswith("mgr/"):
        return normalize_typed(option, text)
    handle = rados.Rados()  # never connected: only its option parser is used
    try:
        try:
            handle.conf_set(name, text)
        except rados.Error:
            limits = [f"{key} {option[key]}" for key in ("min", "max") if option.get(key) not in (None, "")]
            allowed = option.get("enum_values") or []
            detail = ", ".join([f"type {option.get('type')}"] + limits
                               + ([f"one of {', '.join(map(str, allowed))}"] if allowed else []))
            raise InvalidInputError(f"{text!r} is not a valid value for {name} ({detail})", option=name) from None
        return _read_back(handle, name)
    finally:
        handle.shutdown()


def get_config_entry(cluster: CephCluster, who: str, name: str) -> str | None:
    """The value stored for ``name`` exactly at ``who`` (section and mask), or None when unset."""
    section, mask = parse_who(who)
    for entry in cluster.mon_command("config dump") or []:
        if entry.get("section") == section and (entry.get("mask") or "") == mask and entry.get("name") == name:
            return str(entry.get("value"))
    return None


def set_config(cluster: CephCluster, who: str, name: str, value: str) -> None:
    cluster.mon_command("config set", who=who, name=name, value=value)


def remove_config(cluster: CephCluster, who: str, name: str) -> None:
    cluster.mon_command("config rm", who=who, name=name)


def config_view(who: str, name: str, value: str | None) -> dict[str, Any]:
    """The module's result and diff shape."""
    return {"who": who, "name": name, "value": value}
