# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The disk service of libvirt_rbd_disk: plan a domain's disk per scope and apply the plans.

A domain's disk lives in two scopes, the running domain (live) and its persistent
definition (config); each gets its own plan (``libvirt_disk.plan_scope``), and live
changes are applied first, since a guest can refuse them.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import (
    cluster_connection,
    require_ceph_bindings,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import CephRbdError
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_disk import (
    desired_disk,
    plan_scope,
    refuse_namespace,
    resolve_scopes,
    validate_target,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_disk_xml import build_disk_xml, parse_disk
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_domain import (
    attach_disk,
    check_secret,
    detach_disk,
    disk_element,
    set_live_iotune,
    update_config_disk,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_domain_reads import domain_state
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.rbd_common import open_image

SCOPES = ("live", "config")  # live changes first: they are the ones a guest can refuse


def image_size(params: dict, disk: dict) -> int:
    """The image's current size, read through librbd with the Ceph connection options."""
    require_ceph_bindings()
    with cluster_connection(params) as cluster:
        with open_image(cluster, disk["pool"], disk["namespace"], disk["image"]) as image:
            return int(image.size())


def apply_scope(dom, scope: str, action: str, wanted: dict | None, current, target: str) -> None:
    """Carry out one planned action in one scope."""
    if action == "attach":
        attach_disk(dom, scope, build_disk_xml(wanted))
    elif action == "update":
        update_config_disk(dom, build_disk_xml(wanted, address=current.find("address")))
    elif action == "iotune":
        set_live_iotune(dom, target, wanted["iotune"])
    elif action == "replace":
        detach_disk(dom, scope, current, target)
        attach_disk(dom, scope, build_disk_xml(wanted))
    elif action == "detach":
        detach_disk(dom, scope, current, target)


def apply_plans(dom, plans: dict, wanted: dict | None, current: dict, target: str) -> None:
    """Live first; when a later scope fails, say exactly what was already changed."""
    done = []
    for scope in SCOPES:
        action = plans.get(scope)
        if not action:
            continue
        try:
            apply_scope(dom, scope, action, wanted, current[scope], target)
        except CephRbdError as error:
            if done:
                error.details["done"] = list(done)
                error.msg = (
                    f"{error.msg}. Already done: {', '.join(done)}; the running domain and the "
                    "persistent config now differ: re-run the task once the cause is fixed"
                )
            raise
        done.append(f"{scope}: {action}")


def wanted_disk(params: dict) -> tuple[dict | None, str]:
    """The disk as the options describe it (None for state=absent) and its target device."""
    if params["state"] == "present":
        wanted = desired_disk(params)
        refuse_namespace(wanted)
        return wanted, wanted["target"]
    return None, validate_target(params["target"], params["bus"])[0]


def plan_domain(params: dict[str, Any], conn: Any, dom: Any, wanted: dict[str, Any] | None,
                target: str) -> dict[str, Any]:
    """The scopes to manage, their current disks and the action planned in each."""
    if wanted and wanted["auth_user"]:
        check_secret(conn, wanted["secret_uuid"], wanted["secret_usage"])
    state = domain_state(dom)
    live, config = resolve_scopes(params["live"], params["config"], state["running"],
                                  state["persistent"], params["domain"])
    scopes = [scope for scope, managed in (("live", live), ("config", config)) if managed]
    current = {scope: disk_element(dom, scope, target) for scope in scopes}
    plans = {
        scope: plan_scope(scope, parse_disk(current[scope]) if current[scope] is not None else None,
                          wanted, params["replace"])
        for scope in scopes
    }
    return {"running": state["running"], "live": live, "config": config, "scopes": scopes,
            "current": current, "plans": plans}
