# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""RBD network disks of libvirt domains: validation, XML, qemu spec and plans (pure).

A disk is handled as a plain dict (the "disk settings"): ``target``, ``bus``, ``pool``,
``namespace``, ``image``, ``mon_hosts``, ``auth_user``, ``secret_uuid``,
``secret_usage``, ``cache``, ``io``, ``discard``, ``readonly``, ``shareable``,
``serial``, ``iotune``. :func:`build_disk_xml` turns it into a ``<disk>`` element and
:func:`parse_disk` reads one back, so two disks compare as dicts. XML goes through
``xml.etree.ElementTree`` only: nothing is ever pasted into markup.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    InUseError,
    InvalidInputError,
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

IOTUNE_BYTES_KEYS = ("total_bytes_sec", "read_bytes_sec", "write_bytes_sec")
IOTUNE_IOPS_KEYS = ("total_iops_sec", "read_iops_sec", "write_iops_sec")
IOTUNE_BASE_KEYS = IOTUNE_BYTES_KEYS + IOTUNE_IOPS_KEYS
# libvirt's element order inside <iotune>.
IOTUNE_KEYS = IOTUNE_BASE_KEYS + tuple(f"{key}_max" for key in IOTUNE_BASE_KEYS)

# QEMU's (and so libvirt's) accepted characters of a disk serial.
SERIAL_CHARS = re.compile(r"^[A-Za-z0-9_. +-]+$")
MAX_SERIAL_LENGTH = 36
TARGET_RE = re.compile(r"^(?P<prefix>vd|sd)[a-z]{1,3}$")
TARGET_PREFIX_BY_BUS = {"virtio": "vd", "scsi": "sd", "sata": "sd"}
DEFAULT_BUS_BY_PREFIX = {"vd": "virtio", "sd": "scsi"}

DISK_KEYS = (
    "target", "bus", "pool", "namespace", "image", "mon_hosts", "auth_user", "secret_uuid",
    "secret_usage", "cache", "io", "discard", "readonly", "shareable", "serial", "iotune",
)
SOURCE_KEYS = ("pool", "namespace", "image")


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


def parse_mon_host(value: Any) -> dict[str, Any]:
    """Split one QEMU-form monitor address ('host', 'host:port', '[v6addr]:port') into name and port."""
    [address] = qemu_mon_hosts(parse_mon_hosts([str(value)], "mon_hosts"))
    return {"name": address.host, "port": address.port}


def format_mon_host(host: dict[str, Any]) -> str:
    """'name:port' (IPv6 in brackets) or 'name'."""
    name = host["name"]
    if host.get("port") is None:
        return name
    return f"[{name}]:{host['port']}" if ":" in name else f"{name}:{host['port']}"


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


# --- XML ---------------------------------------------------------------------------

def source_name(disk: dict[str, Any]) -> str:
    """libvirt's source name: pool/image or pool/namespace/image."""
    parts = [disk["pool"], disk["namespace"], disk["image"]] if disk.get("namespace") else [disk["pool"], disk["image"]]
    return "/".join(parts)


def _indent(elem: ET.Element, level: int = 0) -> None:
    """Pretty-print in place (ET.indent needs Python 3.9)."""
    pad = "\n" + "  " * level
    if len(elem):
        elem.text = pad + "  "
        for child in elem:
            _indent(child, level + 1)
        child.tail = pad
    if level:
        elem.tail = pad


def build_disk_element(disk: dict[str, Any], address: ET.Element | None = None) -> ET.Element:
    """The ``<disk type='network'>`` element for the settings (optionally with an ``<address>``)."""
    elem = ET.Element("disk", {"type": "network", "device": "disk"})
    driver = {"name": "qemu", "type": "raw", "cache": disk["cache"]}
    if disk.get("io"):
        driver["io"] = disk["io"]
    driver["discard"] = disk["discard"]
    ET.SubElement(elem, "driver", driver)
    if disk.get("auth_user"):
        auth = ET.SubElement(elem, "auth", {"username": disk["auth_user"]})
        secret = {"type": "ceph"}
        if disk.get("secret_uuid"):
            secret["uuid"] = disk["secret_uuid"]
        else:
            secret["usage"] = disk["secret_usage"]
        ET.SubElement(auth, "secret", secret)
    source = ET.SubElement(elem, "source", {"protocol": "rbd", "name": source_name(disk)})
    for text in disk.get("mon_hosts") or []:
        host = parse_mon_host(text)
        attrs = {"name": host["name"]}
        if host["port"] is not None:
            attrs["port"] = str(host["port"])
        ET.SubElement(source, "host", attrs)
    ET.SubElement(elem, "target", {"dev": disk["target"], "bus": disk["bus"]})
    if disk.get("iotune"):
        iotune = ET.SubElement(elem, "iotune")
        for key in IOTUNE_KEYS:
            if key in disk["iotune"]:
                ET.SubElement(iotune, key).text = str(disk["iotune"][key])
    if disk.get("readonly"):
        ET.SubElement(elem, "readonly")
    if disk.get("shareable"):
        ET.SubElement(elem, "shareable")
    if disk.get("serial"):
        ET.SubElement(elem, "serial").text = disk["serial"]
    if address is not None:
        elem.append(address)
    return elem


def element_to_xml(elem: ET.Element) -> str:
    """Indented XML text of an element (a copy is indented, the element is left alone)."""
    copy = ET.fromstring(ET.tostring(elem, encoding="unicode"))
    _indent(copy)
    copy.tail = None
    return ET.tostring(copy, encoding="unicode") + "\n"


def build_disk_xml(disk: dict[str, Any], address: ET.Element | None = None) -> str:
    """The disk element as indented XML text."""
    return element_to_xml(build_disk_element(disk, address))


def _split_source_name(name: str) -> tuple[str | None, str, str | None]:
    parts = name.split("/") if name else []
    if len(parts) == 2:
        return parts[0], "", parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    return None, "", None


def parse_disk(elem: ET.Element) -> dict[str, Any]:
    """Disk settings of a libvirt ``<disk>`` element (any disk: non-RBD ones have pool None)."""
    source = elem.find("source")
    is_rbd = elem.get("type") == "network" and source is not None and source.get("protocol") == "rbd"
    pool, namespace, image = _split_source_name(source.get("name", "")) if is_rbd else (None, "", None)
    hosts = []
    if is_rbd:
        for host in source.findall("host"):
            port = host.get("port")
            hosts.append(format_mon_host({"name": host.get("name", ""), "port": int(port) if port else None}))
    auth = elem.find("auth")
    if auth is None and source is not None:
        auth = source.find("auth")  # libvirt may keep <auth> inside <source>
    secret = auth.find("secret") if auth is not None else None
    driver = elem.find("driver")
    driver = driver.attrib if driver is not None else {}
    target = elem.find("target")
    target = target.attrib if target is not None else {}
    iotune = {}
    iotune_elem = elem.find("iotune")
    if iotune_elem is not None:
        for key in IOTUNE_KEYS:
            child = iotune_elem.find(key)
            if child is not None and (child.text or "").strip().isdigit() and int(child.text):
                iotune[key] = int(child.text)
    serial = elem.find("serial")
    return {
        "target": target.get("dev"),
        "bus": target.get("bus"),
        "pool": pool,
        "namespace": namespace,
        "image": image,
        "mon_hosts": hosts,
        "auth_user": auth.get("username") if auth is not None else None,
        "secret_uuid": secret.get("uuid") if secret is not None else None,
        "secret_usage": secret.get("usage") if secret is not None and not secret.get("uuid") else None,
        "cache": driver.get("cache", "default"),
        "io": driver.get("io"),
        "discard": driver.get("discard"),
        "readonly": elem.find("readonly") is not None,
        "shareable": elem.find("shareable") is not None,
        "serial": serial.text if serial is not None else None,
        "iotune": iotune,
    }


def find_disk_element(domain_xml: str, target: str) -> ET.Element | None:
    """The ``<disk>`` whose target dev is ``target`` in a domain's XML, or None."""
    root = ET.fromstring(domain_xml)
    for disk in root.findall("./devices/disk"):
        dev = disk.find("target")
        if dev is not None and dev.get("dev") == target:
            return disk
    return None


def canonical_disk_xml(elem: ET.Element | None) -> str | None:
    """The disk as this module would write it (no alias, address ...), for diffs; None if absent."""
    if elem is None:
        return None
    disk = parse_disk(elem)
    if disk["pool"] is None:
        return element_to_xml(_without_runtime_children(elem))
    return build_disk_xml(disk)


def _without_runtime_children(elem: ET.Element) -> ET.Element:
    copy = ET.fromstring(ET.tostring(elem, encoding="unicode"))
    for tag in ("alias", "address"):
        for child in copy.findall(tag):
            copy.remove(child)
    return copy


# --- qemu spec ---------------------------------------------------------------------

def _qemu_escape(text: str) -> str:
    """Escape for qemu's legacy rbd: filename: a backslash before '\\' and ':'."""
    return text.replace("\\", "\\\\").replace(":", "\\:")


def qemu_spec(disk: dict[str, Any]) -> str:
    """``rbd:pool/[namespace/]image[:mon_host=a\\:port;b\\:port][:id=user:auth_supported=cephx]``.

    Never holds a key: QEMU (or the tool) gets it from the keyring or a secret object.
    """
    spec = "rbd:" + _qemu_escape(source_name(disk))
    if disk.get("mon_hosts"):
        spec += ":mon_host=" + ";".join(_qemu_escape(host) for host in disk["mon_hosts"])
    if disk.get("auth_user"):
        spec += ":id=" + _qemu_escape(disk["auth_user"]) + ":auth_supported=cephx"
    return spec


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


def rbd_disks_in_domain_xml(domain_xml: str) -> list[dict[str, Any]]:
    """Every RBD network disk of a domain's XML, as :func:`parse_disk` dicts plus ``qemu_spec``."""
    disks = []
    for elem in ET.fromstring(domain_xml).findall("./devices/disk"):
        disk = parse_disk(elem)
        if disk["pool"] is not None:
            disks.append(dict(disk, qemu_spec=qemu_spec(disk)))
    return disks
