# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading pools: settings from the OSD map, usage from ``df``, RBD namespaces."""

from __future__ import annotations

from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import CephCluster
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    CephRbdError,
    NoSpaceError,
    PermissionDeniedError,
    UnreachableError,
    translated_errors,
)

try:
    import rbd
except ImportError:  # the module reports missing bindings before calling in here
    rbd = None

POOL_TYPES = {1: "replicated", 3: "erasure"}


def describe_pool(
    detail: dict[str, Any],
    rule_names: dict[int, str],
    stats: dict[str, Any] | None,
    namespaces: list[str] | None,
) -> dict[str, Any]:
    """Build the collection's pool dict from ``osd pool ls detail`` and ``df detail`` entries."""
    options = detail.get("options") or {}
    flags = (detail.get("flags_names") or "").split(",")
    stats = stats or {}
    return {
        "name": detail["pool_name"],
        "id": detail["pool_id"],
        "type": POOL_TYPES.get(detail.get("type"), str(detail.get("type"))),
        "size": detail.get("size"),
        "min_size": detail.get("min_size"),
        "pg_num": detail.get("pg_num"),
        "pgp_num": detail.get("pg_placement_num"),
        "pg_autoscale_mode": detail.get("pg_autoscale_mode"),
        "target_size_ratio": float(options.get("target_size_ratio", 0.0)),
        "crush_rule": rule_names.get(detail.get("crush_rule"), str(detail.get("crush_rule"))),
        "erasure_profile": detail.get("erasure_code_profile") or None,
        "allow_ec_overwrites": "ec_overwrites" in flags,
        "compression_mode": options.get("compression_mode", "none"),
        "compression_algorithm": options.get("compression_algorithm") or None,
        "applications": sorted((detail.get("application_metadata") or {}).keys()),
        "quota_max_bytes": detail.get("quota_max_bytes", 0),
        "quota_max_objects": detail.get("quota_max_objects", 0),
        "namespaces": sorted(namespaces) if namespaces is not None else [],
        "stored_bytes": stats.get("stored", 0),
        "used_bytes": stats.get("bytes_used", 0),
        "objects": stats.get("objects", 0),
        "max_avail_bytes": stats.get("max_avail", 0),
        "percent_used": round(float(stats.get("percent_used", 0.0)) * 100, 2),
    }


def crush_rule_names(cluster: CephCluster) -> dict[int, str]:
    """Map CRUSH rule ids to names."""
    return {rule["rule_id"]: rule["rule_name"] for rule in cluster.mon_command("osd crush rule dump") or []}


def pool_usage(cluster: CephCluster) -> dict[str, dict[str, Any]]:
    """Per-pool usage from ``df detail``, by pool name."""
    df = cluster.mon_command("df", detail="detail") or {}
    return {entry["name"]: entry.get("stats", {}) for entry in df.get("pools", [])}


def rbd_namespaces(cluster: CephCluster, pool: str) -> list[str]:
    """RBD namespaces of a pool (empty for a pool that is not initialised for RBD)."""
    with translated_errors(f"list the RBD namespaces of pool {pool!r}"):
        return list(rbd.RBD().namespace_list(cluster.ioctx(pool)))


def list_pools(cluster: CephCluster, name: str | None = None) -> list[dict[str, Any]]:
    """All pools (or the one named) as the collection's pool dicts, sorted by name."""
    details = cluster.mon_command("osd pool ls", detail="detail") or []
    if name is not None:
        details = [d for d in details if d["pool_name"] == name]
    if not details:
        return []
    rules = crush_rule_names(cluster)
    usage = pool_usage(cluster)
    pools = []
    for detail in details:
        is_rbd = "rbd" in (detail.get("application_metadata") or {})
        namespaces = rbd_namespaces(cluster, detail["pool_name"]) if is_rbd else []
        pools.append(describe_pool(detail, rules, usage.get(detail["pool_name"]), namespaces))
    return sorted(pools, key=lambda pool: pool["name"])


def get_pool(cluster: CephCluster, name: str) -> dict[str, Any] | None:
    """One pool dict, or None when the pool does not exist."""
    pools = list_pools(cluster, name)
    return pools[0] if pools else None


# ---------------------------------------------------------------- full pools

def reached_quotas(detail: dict[str, Any], stats: dict[str, Any]) -> list[str]:
    """The pool quotas that usage has reached, e.g. ['max_objects 10 (10 objects stored)']."""
    reached = []
    max_objects = detail.get("quota_max_objects") or 0
    max_bytes = detail.get("quota_max_bytes") or 0
    if max_objects and stats.get("objects", 0) >= max_objects:
        reached.append(f"max_objects {max_objects} ({stats.get('objects', 0)} objects stored)")
    if max_bytes and stats.get("stored", 0) >= max_bytes:
        reached.append(f"max_bytes {max_bytes} ({stats.get('stored', 0)} bytes stored)")
    if not reached:  # usage reports lag behind the full flag: name every quota that is set
        reached = [f"{name} {value}" for name, value in (("max_objects", max_objects), ("max_bytes", max_bytes))
                   if value]
    return reached


def full_pool_reason(cluster: CephCluster, pool: str) -> str | None:
    """Why the OSDs refuse writes to ``pool`` (its quota, the cluster's full flag), or None."""
    details = {d["pool_name"]: d for d in cluster.mon_command("osd pool ls", detail="detail") or []}
    detail = details.get(pool)
    if detail is None:
        return None
    flags = (detail.get("flags_names") or "").split(",")
    if "full_quota" in flags:
        quotas = reached_quotas(detail, pool_usage(cluster).get(pool) or {})
        return (f"pool {pool!r} is full: quota {' and '.join(quotas) or 'set'} reached; raise the quota "
                "(rbd_pool quota_max_objects/quota_max_bytes, 0 removes it) or free space in the pool")
    cluster_flags = ((cluster.mon_command("osd dump") or {}).get("flags") or "").split(",")
    if "full" in flags or "full" in cluster_flags:
        return (f"pool {pool!r} accepts no writes: the cluster is full (an OSD reached the full ratio); "
                "add capacity or free space")
    return None


def explain_blocked_write(cluster: CephCluster, pool: str, error: CephRbdError) -> CephRbdError:
    """Turn a timeout or no-space error on a write to ``pool`` into one naming a full pool's quota.

    librbd waits for a full pool until its timeout rather than failing at once, so a
    timed-out write is checked against the pool's flags. Other errors, or a pool that
    is not full (or cannot be read), leave the error as it is.
    """
    if not isinstance(error, (UnreachableError, NoSpaceError)):
        return error
    try:
        reason = full_pool_reason(cluster, pool)
    except CephRbdError:
        return error
    if reason is None:
        return error
    return NoSpaceError(f"{reason} ({error.msg})", **dict(error.details, pool=pool))


def explain_permission_error(cluster: CephCluster, error: CephRbdError) -> CephRbdError:
    """Name the client whose caps refused an operation after connecting (other errors unchanged)."""
    if not isinstance(error, PermissionDeniedError):
        return error
    user = getattr(cluster.handle, "rados_id", None)
    client = f"client.{user}" if user else "the cephx user"
    return PermissionDeniedError(
        f"{client} is not allowed to do this, its caps do not cover it ({error.msg}); an RBD user needs "
        "mon 'profile rbd' and osd 'profile rbd pool=<pool>' for every pool it uses", **error.details)


def explain_pool_error(cluster: CephCluster, pool: str, error: CephRbdError) -> CephRbdError:
    """A write error on ``pool`` explained: missing caps, or a full pool (checked only then).

    When the monitors are gone too, the full-pool check waits its own timeout.
    """
    if isinstance(error, PermissionDeniedError):
        return explain_permission_error(cluster, error)
    return explain_blocked_write(cluster, pool, error)
