# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""RBD network disks of libvirt domains: validation of the module's options and plans (pure).

The disk settings and their XML are in ``libvirt_disk_xml``; this module turns the
options of libvirt_rbd_disk into disk settings (:func:`desired_disk`) and plans what
each scope (live, config) needs (:func:`plan_scope`).
"""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    InUseError,
    InvalidInputError,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_disk_xml import (
    DISK_KEYS,
    IOTUNE_BASE_KEYS,
    IOTUNE_BYTES_KEYS,
    IOTUNE_KEYS,
    SOURCE_KEYS,
    source_name,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.mon_addresses import parse_mon_hosts, qemu_mon_hosts
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.validation import (
    CEPHX_ID_RE,
    parse_size,
    validate_name,
    validate_uuid,
)

BUSES = ("virtio", "scsi", "sata")
CACHE_MODES = ("default", "none", "writethrough", "writeback", "directsync", "unsafe")
IO_MODES = ("native", "threads", "io_uring")
DISCARD_MODES = ("unmap", "ignore")
# io='native' needs O_DIRECT: libvirt refuses it with a host page cache.
CACHE_MODES_FOR_NATIVE_IO = ("none", "directsync")

# QEMU's (and so libvirt's) accepted characters of a disk serial.
SERIAL_CHARS = re.compile(r"^[A-Za-z0-9_. +-]+$")
MAX_SERIAL_LENGTH = 36
TARGET_RE = re.compile(r"^(?P<prefix>vd|sd)[a-z]{1,3}$")
TARGET_PREFIX_BY_BUS = {"virtio": "vd", "scsi": "sd", "sata": "sd"}
DEFAULT_BUS_BY_PREFIX = {"vd": "virtio", "sd": "scsi"}


# --- validation: module parameters -> disk settings -------------------------------

def validate_target(target: Any, bus: str | None) -> tuple[str, str]:
    """Return (target, bus) after checking the name fits the bus; bus defaults from the name."""
    match = TARGET_RE.match(target) if isinstance(target, str) else None
    if not match:
        raise InvalidInputError(
            f"target {target!r} is not a disk target name: use vdX for bus virtio or sdX for "
            "bus scsi or sata (for example vdb or sdc)"
        )
    prefix = match.group("prefix")
    bus = bus or DEFAULT_BUS_BY_PREFIX[prefix]
    if bus not in BUSES:
        raise InvalidInputError(f"bus {bus!r} is not one of {', '.join(BUSES)}")
    if TARGET_PREFIX_BY_BUS[bus] != prefix:
        raise InvalidInputError(
            f"target {target!r} does not match bus {bus!r}: bus {bus} uses "
            f"{TARGET_PREFIX_BY_BUS[bus]}X targets (for example {TARGET_PREFIX_BY_BUS[bus]}b)"
        )
    return target, bus


def normalize_mon_hosts(values: list[Any] | None) -> list[str]:
    """One 'host:port' per monitor, order kept: the v1 address of an msgr2 address vector
    (see mon_addresses.qemu_mon_hosts for why)."""
    return [address.host_port() for address in qemu_mon_hosts(parse_mon_hosts(values or [], "mon_hosts"))]


def _iotune_value(key: str, value: Any) -> int:
    if key.startswith(IOTUNE_BYTES_KEYS):
        return parse_size(value, f"iotune.{key}")
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit():
        raise InvalidInputError(f"iotune.{key} must be a whole number of operations per second, got {value!r}")
    return int(str(value).strip())


def normalize_iotune(iotune: dict[str, Any] | None) -> dict[str, int]:
    """Checked iotune settings; 0 means "no limit" and is dropped, as libvirt does."""
    result = {}
    for key, value in (iotune or {}).items():
        if key not in IOTUNE_KEYS:
            raise InvalidInputError(
                f"iotune has an unknown setting {key!r}; known settings: {', '.join(IOTUNE_KEYS)}"
            )
        number = _iotune_value(key, value)
        if number:
            result[key] = number
    for kind in ("bytes", "iops"):
        total = f"total_{kind}_sec"
        if total in result and (f"read_{kind}_sec" in result or f"write_{kind}_sec" in result):
            raise InvalidInputError(
                f"iotune.{total} cannot be combined with read_{kind}_sec or write_{kind}_sec "
                "(QEMU limits either the total or reads and writes separately)"
            )
        if f"{total}_max" in result and (f"read_{kind}_sec_max" in result or f"write_{kind}_sec_max" in result):
            raise InvalidInputError(
                f"iotune.{total}_max cannot be combined with read_{kind}_sec_max or write_{kind}_sec_max"
            )
    for key in IOTUNE_BASE_KEYS:
        burst = result.get(f"{key}_max")
        if burst is None:
            continue
        if key not in result:
            raise InvalidInputError(f"iotune.{key}_max (a burst) needs iotune.{key} (the sustained limit)")
        if burst < result[key]:
            raise InvalidInputError(
                f"iotune.{key}_max ({burst}) must not be lower than iotune.{key} ({result[key]})"
            )
    return {key: result[key] for key in IOTUNE_KEYS if key in result}


def validate_serial(serial: Any) -> str | None:
    """A serial QEMU accepts: letters, digits, '_', '.', '+', '-' and spaces."""
    if serial is None:
        return None
    text = str(serial)
    if not text or not SERIAL_CHARS.match(text) or len(text) > MAX_SERIAL_LENGTH:
        raise InvalidInputError(
            f"serial {text!r} is not accepted by QEMU: use 1 to {MAX_SERIAL_LENGTH} letters, "
            "digits, '_', '.', '+', '-' or spaces"
        )
    return text


def validate_cache_and_io(cache: str, io_mode: str | None) -> None:
    """Refuse io=native with a host page cache (libvirt 9 rejects it at attach or start)."""
    if cache not in CACHE_MODES:
        raise InvalidInputError(f"cache {cache!r} is not one of {', '.join(CACHE_MODES)}")
    if io_mode is not None and io_mode not in IO_MODES:
        raise InvalidInputError(f"io {io_mode!r} is not one of {', '.join(IO_MODES)}")
    if io_mode == "native" and cache not in CACHE_MODES_FOR_NATIVE_IO:
        raise InvalidInputError(
            f"io 'native' cannot be used with cache {cache!r}: libvirt rejects it (\"io='native' "
            "needs either no disk cache or directsync cache mode\"); with cache writeback leave io "
            "unset or use io 'threads', or use cache 'none' or 'directsync' with io 'native'"
        )


def validate_auth(auth_user: Any, secret_uuid: Any, secret_usage: Any) -> dict[str, str | None]:
    """auth_user with exactly one of secret_uuid / secret_usage, or no authentication at all."""
    if auth_user is None:
        if secret_uuid is not None or secret_usage is not None:
            raise InvalidInputError("secret_uuid and secret_usage need auth_user (the cephx user, e.g. libvirt)")
        return {"auth_user": None, "secret_uuid": None, "secret_usage": None}
    user = str(auth_user)
    if user.startswith("client."):
        user = user[len("client."):]
    if not CEPHX_ID_RE.match(user):
        raise InvalidInputError(
            f"auth_user {auth_user!r} is not a cephx user id: letters, digits, '_', '.', '-' (without 'client.')"
        )
    if (secret_uuid is None) == (secret_usage is None):
        raise InvalidInputError(
            "auth_user needs the libvirt secret holding its key: give exactly one of secret_uuid or secret_usage"
        )
    if secret_usage is not None and (not str(secret_usage).strip() or "\x00" in str(secret_usage)):
        raise InvalidInputError(f"secret_usage {secret_usage!r} is not a secret usage name")
    return {
        "auth_user": user,
        "secret_uuid": validate_uuid(secret_uuid, "secret_uuid") if secret_uuid is not None else None,
        "secret_usage": str(secret_usage) if secret_usage is not None else None,
    }


def desired_disk(params: dict[str, Any]) -> dict[str, Any]:
    """The disk settings the module parameters ask for (raises InvalidInputError)."""
    target, bus = validate_target(params.get("target"), params.get("bus"))
    for required in ("pool", "image"):
        if not params.get(required):
            raise InvalidInputError(f"state present needs {required}")
    cache = params.get("cache") or "writeback"
    validate_cache_and_io(cache, params.get("io"))
    discard = params.get("discard") or "unmap"
    if discard not in DISCARD_MODES:
        raise InvalidInputError(f"discard {discard!r} is not one of {', '.join(DISCARD_MODES)}")
    disk = {
        "target": target,
        "bus": bus,
        "pool": validate_name(params["pool"], "pool name"),
        "namespace": validate_name(params.get("namespace") or "", "namespace", allow_empty=True),
        "image": validate_name(params["image"], "image name"),
        "mon_hosts": normalize_mon_hosts(params.get("mon_hosts")),
        "cache": cache,
        "io": params.get("io"),
        "discard": discard,
        "readonly": bool(params.get("readonly")),
        "shareable": bool(params.get("shareable")),
        "serial": validate_serial(params.get("serial")),
        "iotune": normalize_iotune(params.get("iotune")),
    }
    disk.update(validate_auth(params.get("auth_user"), params.get("secret_uuid"), params.get("secret_usage")))
    return {key: disk[key] for key in DISK_KEYS}


# --- plans -------------------------------------------------------------------------

def differing_settings(current: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """Names of the settings that differ between two disks."""
    return [key for key in DISK_KEYS if current.get(key) != wanted.get(key)]


def _describe_source(disk: dict[str, Any]) -> str:
    return source_name(disk) if disk.get("pool") else "a non-RBD source"


def plan_scope(scope: str, current: dict[str, Any] | None, wanted: dict[str, Any] | None,
               replace: bool = False) -> str | None:
    """What to do in one scope ('config' or 'live'): attach, update, iotune, replace, detach or None.

    ``wanted`` None means the disk must be absent. A running guest's disk cannot be changed
    in place (apart from its I/O limits): swapping it needs ``replace`` (detach + attach).
    """
    if wanted is None:
        return "detach" if current is not None else None
    if current is None:
        return "attach"
    differing = differing_settings(current, wanted)
    if not differing:
        return None
    if scope == "config":
        return "update"
    if differing == ["iotune"]:
        return "iotune"
    if replace:
        return "replace"
    what = (
        f"its source is {_describe_source(current)}, not {source_name(wanted)}"
        if any(key in differing for key in SOURCE_KEYS)
        else f"its settings differ: {', '.join(differing)}"
    )
    raise InUseError(
        f"disk {wanted['target']} of the running domain is attached with other settings ({what}); "
        "a running guest's disk cannot be changed in place: set replace: true to detach it and "
        "attach the new one (the guest sees an unplug and a plug), or set live: false to change "
        "only the persistent config",
        differing=differing,
    )


def resolve_scopes(live: bool | None, config: bool | None, running: bool, persistent: bool,
                   domain: str) -> tuple[bool, bool]:
    """Scopes to manage: live defaults to 'the domain runs', config to 'the domain is persistent'."""
    live = running if live is None else live
    config = persistent if config is None else config
    if live and not running:
        raise InvalidInputError(f"live: true needs a running domain, and domain {domain!r} is not running")
    if config and not persistent:
        raise InvalidInputError(f"config: true needs a persistent domain, and domain {domain!r} is transient")
    if not live and not config:
        raise InvalidInputError("nothing to manage: live and config are both false")
    return live, config


def plan_refresh(capacity: int, image_size: int, target: str) -> int | None:
    """The size to give the guest's disk, None when it already sees the image's size."""
    if image_size == capacity:
        return None
    if image_size < capacity:
        raise InvalidInputError(
            f"the image behind {target} ({image_size} bytes) is smaller than the disk the guest sees "
            f"({capacity} bytes): refresh_size only grows a disk; shrinking a live disk is refused"
        )
    return image_size


def refuse_namespace(disk: dict[str, Any]) -> None:
    """libvirt cannot attach an image in an RBD namespace: refuse before anything changes.

    libvirt (9.0, and upstream so far) splits the source name at the first '/' and hands
    'namespace/image' to QEMU as the image name, so the attach or the next start fails.
    """
    if disk.get("namespace"):
        raise InvalidInputError(
            f"namespace {disk['namespace']!r}: libvirt cannot attach an image in an RBD namespace "
            "(it passes 'namespace/image' to QEMU as the image name, which then fails with 'No such "
            "file or directory'); keep VM volumes in the pool's default namespace"
        )
