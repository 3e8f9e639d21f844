# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""RBD network disks as libvirt writes them: disk settings <-> ``<disk>`` XML, qemu spec (pure).

A disk is handled as a plain dict (the "disk settings"): ``target``, ``bus``, ``pool``,
``namespace``, ``image``, ``mon_hosts``, ``auth_user``, ``secret_uuid``,
``secret_usage``, ``cache``, ``io``, ``discard``, ``readonly``, ``shareable``,
``serial``, ``iotune``. :func:`build_disk_xml` turns it into a ``<disk>`` element and
:func:`parse_disk` reads one back, so two disks compare as dicts. XML goes through
``xml.etree.ElementTree`` only: nothing is ever pasted into markup. The libvirt
binding layer (``libvirt_domain``) and the plans (``libvirt_disk``) share this model.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.mon_addresses import parse_mon_hosts, qemu_mon_hosts

IOTUNE_BYTES_KEYS = ("total_bytes_sec", "read_bytes_sec", "write_bytes_sec")
IOTUNE_IOPS_KEYS = ("total_iops_sec", "read_iops_sec", "write_iops_sec")
IOTUNE_BASE_KEYS = IOTUNE_BYTES_KEYS + IOTUNE_IOPS_KEYS
# libvirt's element order inside <iotune>.
IOTUNE_KEYS = IOTUNE_BASE_KEYS + tuple(f"{key}_max" for key in IOTUNE_BASE_KEYS)

DISK_KEYS = (
    "target", "bus", "pool", "namespace", "image", "mon_hosts", "auth_user", "secret_uuid",
    "secret_usage", "cache", "io", "discard", "readonly", "shareable", "serial", "iotune",
)
SOURCE_KEYS = ("pool", "namespace", "image")


# --- monitor addresses ------------------------------------------------------------

def parse_mon_host(value: Any) -> dict[str, Any]:
    """One monitor's QEMU-form address (the v1 address of an msgr2 vector) as name and port."""
    [address] = qemu_mon_hosts(parse_mon_hosts([str(value)], "mon_hosts"))
    return {"name": address.host, "port": address.port}


def format_mon_host(host: dict[str, Any]) -> str:
    """'name:port' (IPv6 in brackets) or 'name'."""
    name = host["name"]
    if host.get("port") is None:
        return name
    return f"[{name}]:{host['port']}" if ":" in name else f"{name}:{host['port']}"


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


def rbd_disks_in_domain_xml(domain_xml: str) -> list[dict[str, Any]]:
    """Every RBD network disk of a domain's XML, as :func:`parse_disk` dicts plus ``qemu_spec``."""
    disks = []
    for elem in ET.fromstring(domain_xml).findall("./devices/disk"):
        disk = parse_disk(elem)
        if disk["pool"] is not None:
            disks.append(dict(disk, qemu_spec=qemu_spec(disk)))
    return disks
