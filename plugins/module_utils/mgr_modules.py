# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ceph manager modules (``mgr module ls/enable/disable``) through mon commands."""

from __future__ import annotations

from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import CephCluster
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InvalidInputError, NotFoundError


def describe_modules(listing: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``mgr module ls`` output as {name: {name, enabled, always_on, can_run, error}}."""
    modules: dict[str, dict[str, Any]] = {}
    for name in listing.get("always_on_modules") or []:
        modules[name] = {"name": name, "enabled": True, "always_on": True, "can_run": True, "error": ""}
    for name in listing.get("enabled_modules") or []:
        modules[name] = {"name": name, "enabled": True, "always_on": False, "can_run": True, "error": ""}
    for entry in listing.get("disabled_modules") or []:
        name = entry["name"] if isinstance(entry, dict) else entry
        modules[name] = {
            "name": name, "enabled": False, "always_on": False,
            "can_run": bool(entry.get("can_run", True)) if isinstance(entry, dict) else True,
            "error": (entry.get("error_string") or "") if isinstance(entry, dict) else "",
        }
    return modules


def list_mgr_modules(cluster: CephCluster) -> dict[str, dict[str, Any]]:
    return describe_modules(cluster.mon_command("mgr module ls") or {})


def plan_module(modules: dict[str, dict[str, Any]], name: str, enabled: bool, force: bool) -> str | None:
    """``enable``, ``disable`` or None; raises for what cannot be done.

    Unknown modules, always-on modules asked to be disabled and modules that cannot run
    (missing Python dependencies, unless ``force``) are refused with the reason.
    """
    module = modules.get(name)
    if module is None:
        raise NotFoundError(
            f"the mgr has no module {name!r} (modules: {', '.join(sorted(modules)) or 'none'}); "
            "some come in packages of their own (Debian: ceph-mgr-modules-core, ceph-mgr-dashboard ...)",
            module=name)
    if module["enabled"] == enabled:
        return None
    if not enabled and module["always_on"]:
        raise InvalidInputError(f"mgr module {name!r} is always on; Ceph does not let it be disabled")
    if enabled and not module["can_run"] and not force:
        raise InvalidInputError(
            f"mgr module {name!r} cannot run on this mgr: {module['error'] or 'unknown reason'} "
            "(install what it needs on every mgr host, or set force to enable it anyway)", module=name)
    return "enable" if enabled else "disable"


def change_module(cluster: CephCluster, name: str, action: str, force: bool) -> None:
    if action == "enable":
        cluster.mon_command("mgr module enable", module=name, force=True if force else None)
    else:
        cluster.mon_command("mgr module disable", module=name)


def module_view(module: dict[str, Any] | None, enabled: bool | None = None) -> dict[str, Any]:
    """The module dict, with ``enabled`` as predicted (check mode) when given; {} for none."""
    if module is None:
        return {}
    view = dict(module)
    if enabled is not None:
        view["enabled"] = enabled
    return view
