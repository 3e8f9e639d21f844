# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading libvirt domains: look-up by name, state, XML per scope, and the one scan of every
domain of a host (the disks' in-use checks and the secrets' in-use checks both read through it)."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    NotFoundError,
    binding_call,
)

try:
    import libvirt
except ImportError:  # reported by the module through missing_required_lib
    libvirt = None

T = TypeVar("T")


def on_domain(text: str) -> Callable[[dict[str, Any]], str]:
    """An error context naming the call's domain: ``text`` formatted with the arguments and ``domain``."""
    return lambda arguments: text.format(domain=repr(arguments["dom"].name()), **arguments)


@binding_call("look up domain {name!r}", not_found=None)
def find_domain(conn: Any, name: str) -> Any:
    """The domain called ``name``, None when there is none."""
    return conn.lookupByName(name)


@binding_call(on_domain("read the state of domain {domain}"))
def domain_state(dom: Any) -> dict[str, bool]:
    """Whether the domain runs and whether it is persistent (has a config)."""
    return {"running": bool(dom.isActive()), "persistent": bool(dom.isPersistent())}


@binding_call(on_domain("read the {scope} XML of domain {domain}"))
def domain_xml(dom: Any, scope: str) -> str:
    """The domain's XML: the persistent config ('config') or the running definition ('live')."""
    return dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE if scope == "config" else 0)


def domain_definitions(dom: Any) -> tuple[dict[str, bool], dict[str, str]]:
    """The domain's state and its XML per scope it has: 'live' when it runs, 'config' when
    it is persistent (a running domain's config may name disks and secrets its live one does not)."""
    state = domain_state(dom)
    scopes = [scope for scope, present in (("live", state["running"]), ("config", state["persistent"])) if present]
    return state, {scope: domain_xml(dom, scope) for scope in scopes}


@binding_call("list the domains")
def all_domains(conn: Any) -> list[Any]:
    return sorted(conn.listAllDomains(0), key=lambda dom: dom.name())


def scan_domains(conn: Any, read: Callable[[Any], T]) -> list[T]:
    """``read(domain)`` of every domain of the host. A domain that goes away between the
    listing and its reading (``read`` raises NotFoundError) is read again by its name
    (undefined and defined anew, it has another UUID) and left out when it is gone for good
    (a transient domain that stopped, one undefined meanwhile): it uses nothing any more."""
    found = []
    for dom in all_domains(conn):
        result = _read_unless_gone(conn, dom, read)
        if result is not None:
            found.append(result)
    return found


def _read_unless_gone(conn: Any, dom: Any, read: Callable[[Any], T]) -> T | None:
    """``read`` of a listed domain, else of the one now called by its name; None when there is none."""
    try:
        return read(dom)
    except NotFoundError:
        again = find_domain(conn, dom.name())
    try:
        return read(again) if again is not None else None
    except NotFoundError:
        return None
