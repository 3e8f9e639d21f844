# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""CRUSH rules and erasure-code profiles, through mon commands."""

from __future__ import annotations

from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import CephCluster
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InUseError

# Ceph's pool (and CRUSH rule) type numbers.
POOL_TYPES = {1: "replicated", 3: "erasure"}


def rule_summary(rule: dict[str, Any]) -> dict[str, Any]:
    """name, id, type, root, failure_domain, device_class of a ``crush rule dump`` entry."""
    root = device_class = failure_domain = None
    for step in rule.get("steps", []):
        if step.get("op") == "take":
            root, _sep, device_class = str(step.get("item_name", "")).partition("~")
        elif str(step.get("op", "")).startswith(("choose", "chooseleaf")) and "type" in step:
            failure_domain = step["type"]
    return {
        "name": rule["rule_name"], "id": rule["rule_id"],
        "type": POOL_TYPES.get(rule.get("type"), str(rule.get("type"))),
        "root": root, "failure_domain": failure_domain, "device_class": device_class or None,
    }


def crush_rules_by_id(cluster: CephCluster) -> dict[int, dict[str, Any]]:
    """Raw ``crush rule dump`` entries by rule id."""
    return {rule["rule_id"]: rule for rule in cluster.mon_command("osd crush rule dump") or []}


def rule_summaries(rules_by_id: dict[int, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Raw rules as summary dicts (see :func:`rule_summary`), by name."""
    return {rule["rule_name"]: rule_summary(rule) for rule in rules_by_id.values()}


def crush_rules(cluster: CephCluster) -> dict[str, dict[str, Any]]:
    """Every CRUSH rule as a summary dict (see :func:`rule_summary`), by name."""
    return rule_summaries(crush_rules_by_id(cluster))


def get_crush_rule(cluster: CephCluster, name: str) -> dict[str, Any] | None:
    """One rule's summary, or None."""
    return crush_rules(cluster).get(name)


def pools_using_rule(cluster: CephCluster, rule_id: int) -> list[str]:
    """Names of the pools placed by a rule."""
    details = cluster.mon_command("osd pool ls", detail="detail") or []
    return sorted(d["pool_name"] for d in details if d.get("crush_rule") == rule_id)


def device_classes(cluster: CephCluster) -> list[str]:
    """Device classes known to CRUSH (hdd, ssd, nvme ...)."""
    return sorted(cluster.mon_command("osd crush class ls") or [])


def create_replicated_rule(cluster: CephCluster, name: str, root: str, failure_domain: str,
                           device_class: str | None) -> None:
    """``osd crush rule create-replicated`` (device class optional)."""
    args = {"name": name, "root": root, "type": failure_domain}
    if device_class:
        args["class"] = device_class
    cluster.mon_command("osd crush rule create-replicated", **args)


def refuse_rule_in_use(cluster: CephCluster, rule: dict[str, Any]) -> None:
    """Raise InUseError, naming the pools, when a pool uses the rule."""
    users = pools_using_rule(cluster, rule["id"])
    if users:
        raise InUseError(
            f"CRUSH rule {rule['name']!r} is used by pool(s) {', '.join(users)}: move them to another "
            "rule (crush_rule of rbd_pool) before removing it",
            pools=users,
        )


def remove_crush_rule(cluster: CephCluster, rule: dict[str, Any]) -> None:
    """Remove a rule; refuses (InUseError) while a pool uses it."""
    refuse_rule_in_use(cluster, rule)
    cluster.mon_command("osd crush rule rm", name=rule["name"])


def describe_erasure_profile(name: str, raw: dict[str, Any]) -> dict[str, Any]:
    """name, k, m, failure_domain, device_class, plugin of an erasure-code profile."""
    return {
        "name": name,
        "k": int(raw["k"]) if "k" in raw else None,
        "m": int(raw["m"]) if "m" in raw else None,
        "failure_domain": raw.get("crush-failure-domain") or "host",
        "device_class": raw.get("crush-device-class") or None,
        "plugin": raw.get("plugin"),
    }


def get_erasure_profile(cluster: CephCluster, name: str) -> dict[str, Any] | None:
    """An erasure-code profile, or None when it does not exist."""
    if name not in (cluster.mon_command("osd erasure-code-profile ls") or []):
        return None
    return describe_erasure_profile(name, cluster.mon_command("osd erasure-code-profile get", name=name) or {})


def create_erasure_profile(cluster: CephCluster, profile: dict[str, Any]) -> None:
    """Create a profile from name, k, m and failure_domain (never overwrites one)."""
    settings = [f"k={profile['k']}", f"m={profile['m']}", f"crush-failure-domain={profile['failure_domain']}"]
    cluster.mon_command("osd erasure-code-profile set", name=profile["name"], profile=settings)
