# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write errors explained in the operator's terms: missing caps, a full pool or its quota,
a timeout with what the monitors know about why the OSDs do not answer.

librbd reports a write to a full pool as a timeout (it waits) and missing caps as a
bare "permission denied"; the services pass such errors through here once they failed.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import CephCluster
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    CephRbdError,
    NoSpaceError,
    PermissionDeniedError,
    UnreachableError,
    explaining_failure,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.pools import pool_usage


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
        with explaining_failure():  # asking why is no new work: past a spent deadline too
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
    user = cluster.user
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
    return explain_unreachable(cluster, explain_blocked_write(cluster, pool, error), pool)


# Seconds the explanation queries may take: the monitors answer while the OSDs do not.
EXPLAIN_TIMEOUT = 5


# Beyond this many PGs a pool's PGs are not looked up one by one.
MAX_PGS_MAPPED = 256


def pool_pgs_without_osd(cluster: Any, dump: dict[str, Any], pool: str) -> list[str]:
    """The PGs of ``pool`` whose acting set has no OSD up (from the monitors' OSD map)."""
    detail = next((p for p in dump.get("pools", []) if p.get("pool_name") == pool), None)
    if detail is None or detail.get("pg_num", 0) > MAX_PGS_MAPPED:
        return []
    up = {osd["osd"] for osd in dump.get("osds", []) if osd.get("up")}
    stuck = []
    for number in range(detail["pg_num"]):
        pgid = f"{detail['pool']}.{number:x}"
        mapping = cluster.mon_command("pg map", pgid=pgid, _timeout=EXPLAIN_TIMEOUT) or {}
        if not set(mapping.get("acting") or []) & up:
            stuck.append(f"pg {pgid} (acting {mapping.get('acting') or []})")
    return stuck


def unreachable_reasons(cluster: Any, pool: str | None = None) -> list[str]:
    """Why the OSDs may not answer, from the monitors: pause flags, down OSDs, inactive PGs."""
    reasons = []
    dump = cluster.mon_command("osd dump", _timeout=EXPLAIN_TIMEOUT) or {}
    flags = set(str(dump.get("flags") or "").split(","))
    paused = sorted(flags & {"pauserd", "pausewr"})
    if paused:
        reasons.append(f"the cluster is paused (osd flags {','.join(paused)}; 'ceph osd unpause' resumes it)")
    down = [f"osd.{osd['osd']}" for osd in dump.get("osds", []) if not osd.get("up")]
    if down:
        reasons.append(f"OSDs down: {', '.join(down)}")
    if down and pool is not None:
        stuck = pool_pgs_without_osd(cluster, dump, pool)
        if stuck:
            shown = ", ".join(stuck[:8]) + (" ..." if len(stuck) > 8 else "")
            reasons.append(f"{len(stuck)} PGs of pool {pool!r} have no OSD up to serve them "
                           f"(inactive): {shown}")
    health = cluster.mon_command("health", detail="detail", _timeout=EXPLAIN_TIMEOUT) or {}
    for name in ("PG_AVAILABILITY", "OSD_DOWN"):
        check = (health.get("checks") or {}).get(name)
        if not check:
            continue
        message = (check.get("summary") or {}).get("message", name)
        pgs = [d.get("message", "") for d in check.get("detail") or []]
        if pool is not None and name == "PG_AVAILABILITY":
            pool_id = next((p["pool"] for p in dump.get("pools", []) if p.get("pool_name") == pool), None)
            pgs = [m for m in pgs if pool_id is not None and m.startswith(f"pg {pool_id}.")]
            if pgs:
                message += f"; in pool {pool!r}: " + "; ".join(pgs[:3]) + (" ..." if len(pgs) > 3 else "")
        if name == "PG_AVAILABILITY" or not down:
            reasons.append(message)
    return reasons


def explain_unreachable(cluster: Any, error: CephRbdError, pool: str | None = None) -> CephRbdError:
    """An UnreachableError (a timeout) with what the monitors know about why; others unchanged."""
    if not isinstance(error, UnreachableError):
        return error
    try:
        with explaining_failure():
            reasons = unreachable_reasons(cluster, pool)
    except CephRbdError:
        return error
    if not reasons:
        return error
    return UnreachableError(f"{error.msg}: {'; '.join(reasons)}", **dict(error.details, reasons=reasons))
