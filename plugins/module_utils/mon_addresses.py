# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ceph monitor addresses, in every spelling Ceph itself uses (pure, no bindings).

Accepted, alone or mixed in one list (list items, or one string separated by ``,`` or
``;``, as ``mon host`` in ceph.conf):

- ``host``, ``host:port``, ``10.0.0.1:6789``, ``[2001:db8::1]:6789``, a bare IPv6 address;
- a typed address ``v1:10.0.0.1:6789`` / ``v2:10.0.0.1:3300``;
- Ceph's address vector of one monitor, ``[v2:10.0.0.1:3300,v1:10.0.0.1:6789]``, as
  ``ceph mon dump`` (with its ``/0`` nonces) and every ceph.conf since Nautilus show it.

Each consumer gets what it needs:

- librados and ceph.conf (the modules' ``mon_host``, the ``ceph_client`` role):
  :func:`ceph_mon_host`, Ceph's own syntax, vectors kept whole;
- QEMU and libvirt (``libvirt_rbd_disk``'s ``mon_hosts``, ``<host name= port=>``):
  :func:`qemu_mon_hosts`, one ``host:port`` per monitor, its **v1** address. QEMU hands
  ``host:port`` to librados untyped, and librados reads an untyped port as msgr v1 unless
  it is 3300, so a v2 address on any other port would not work; v1 works with every librados.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, NamedTuple

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InvalidInputError

PROTOCOLS = ("v1", "v2", "any")
_HOSTNAME_RE = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                          r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")
_TYPED_RE = re.compile(r"(?P<protocol>v1|v2|any):(?P<rest>.+)", re.DOTALL)
_SEPARATORS = ",;"

FORMS = ("host, host:port, [IPv6]:port, v1:host:port or Ceph's address vector "
         "[v2:host:3300,v1:host:6789] (as `ceph mon dump` prints it)")


class MonAddress(NamedTuple):
    """One address of a monitor: protocol ('v1', 'v2', 'any' or '' when untyped)."""

    protocol: str
    host: str
    port: int | None

    def host_port(self) -> str:
        """``host:port`` (IPv6 in brackets), or the host alone when there is no port."""
        if self.port is None:
            return self.host
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.protocol}:{self.host_port()}" if self.protocol else self.host_port()


def _split(text: str, separators: str) -> list[str]:
    """Split at separators outside brackets; empty parts dropped."""
    parts, current, depth = [], "", 0
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth < 0:
                break
        if char in separators and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if depth != 0:
        raise ValueError("unbalanced brackets")
    parts.append(current)
    return [part.strip() for part in parts if part.strip()]


def _valid_host(host: str) -> bool:
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return False
        return True
    return bool(_HOSTNAME_RE.fullmatch(host))


def _parse_address(text: str, typed: bool) -> MonAddress:
    """One address; raises ValueError (the caller words the message)."""
    protocol = ""
    match = _TYPED_RE.match(text)
    if match:
        protocol, text = match.group("protocol"), match.group("rest")
    elif typed:
        raise ValueError("each address in [...] starts with v1:, v2: or any:")
    text = re.sub(r"/[0-9]+\Z", "", text)  # the nonce `ceph mon dump` appends
    port = None
    bracketed = re.fullmatch(r"\[(?P<host>[^\]]+)\](:(?P<port>.*))?", text, re.DOTALL)
    if bracketed:
        host, port = bracketed.group("host"), bracketed.group("port")
        ipaddress.IPv6Address(host)  # ValueError when it is not one
    elif text.count(":") == 1:
        host, port = text.split(":")
        if not _valid_host(host):
            raise ValueError(f"{host!r} is not a host name or IPv4 address")
    elif ":" in text:
        try:
            ipaddress.IPv6Address(text)
        except ValueError:
            raise ValueError("not an IPv6 address either (an IPv6 address with a port goes in "
                             "brackets: [2001:db8::1]:6789)") from None
        host = text
    else:
        host = text
        if not _valid_host(host):
            raise ValueError(f"{host!r} is not a host name or IPv4 address")
    if port is not None:
        if not re.fullmatch(r"[0-9]{1,5}", port) or not 0 < int(port) < 65536:
            raise ValueError(f"invalid port {port!r}")
        port = int(port)
    return MonAddress(protocol, host, port)


def parse_monitor(text: str, option: str = "mon_host") -> list[MonAddress]:
    """The addresses of one monitor: an address vector ``[v2:...,v1:...]`` or one address."""
    text = text.strip()
    try:
        if text.startswith("[") and text.endswith("]") and _TYPED_RE.match(text[1:]):
            addresses = [_parse_address(part.strip(), typed=True) for part in _split(text[1:-1], ",")]
        else:
            addresses = [_parse_address(text, typed=False)]
    except ValueError as exc:
        raise InvalidInputError(f"{option} entry {text!r} is not a monitor address ({exc}): use {FORMS}") from None
    return addresses


def parse_mon_hosts(values: Any, option: str = "mon_host") -> list[list[MonAddress]]:
    """Monitors (each a list of its addresses) from a list of entries or one string.

    List items are joined with ',' first: Ansible splits a string given to a list option
    at commas, which cuts ``[v2:a:3300,v1:a:6789]`` in two; joining puts it back.
    """
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    for item in items:
        if not isinstance(item, str):
            raise InvalidInputError(f"{option} entries must be strings, got {item!r}")
    joined = ",".join(items)
    try:
        entries = _split(joined, _SEPARATORS)
    except ValueError:
        raise InvalidInputError(f"{option} {joined!r} has unbalanced brackets: use {FORMS}") from None
    if items and not entries:
        raise InvalidInputError(f"{option} {values!r} holds no monitor address: use {FORMS}")
    return [parse_monitor(entry, option) for entry in entries]


def ceph_mon_host(monitors: list[list[MonAddress]]) -> str:
    """Ceph's ``mon_host`` syntax (librados, ceph.conf): vectors in brackets, comma separated."""
    rendered = []
    for addresses in monitors:
        if len(addresses) == 1:
            rendered.append(str(addresses[0]))
        else:
            rendered.append("[" + ",".join(str(address) for address in addresses) + "]")
    return ",".join(rendered)


def qemu_mon_hosts(monitors: list[list[MonAddress]], option: str = "mon_hosts") -> list[MonAddress]:
    """One untyped ``host[:port]`` per monitor for QEMU/libvirt: the v1 address.

    An untyped or ``any:`` address is taken as given; a monitor with only a v2 address
    is refused unless it is on the msgr2 port 3300 or has no port (librados reads those
    as msgr2 / tries both default ports).
    """
    chosen = []
    for addresses in monitors:
        by_protocol = {address.protocol: address for address in addresses}
        address = by_protocol.get("v1") or by_protocol.get("") or by_protocol.get("any")
        if address is None:
            v2 = by_protocol["v2"]
            if v2.port not in (None, 3300):
                raise InvalidInputError(
                    f"{option} entry {str(v2)!r} is a msgr2 (v2) address on port {v2.port}: QEMU and libvirt "
                    "address monitors as host:port, which librados reads as msgr v1 unless the port is "
                    "3300; give the monitor's v1 address (for example [v2:host:3300,v1:host:6789])"
                )
            address = v2
        chosen.append(MonAddress("", address.host, address.port))
    return chosen
