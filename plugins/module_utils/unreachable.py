# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Why a Ceph operation timed out, from the monitors: the cluster paused, OSDs down, a pool's
PGs without an OSD to serve them.

A paused cluster or down OSDs block reads and writes while the monitors still answer, so a
timeout can be explained with a few monitor commands (each bounded by ``EXPLAIN_TIMEOUT``,
run while the task's spent deadline does not hold them back). ceph_connection's
``cluster_connection`` explains every timeout of a Ceph operation this way, for every
module; a service that knows the pool explains it first (with that pool's PGs).
"""

from __future__ import annotations

import errno
from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    CephRbdError,
    UnreachableError,
    explaining_failure,
)

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
    """An UnreachableError (a timeout) with what the monitors know about why; others, and one
    explained already, unchanged."""
    if not isinstance(error, UnreachableError) or "reasons" in error.details:
        return error
    try:
        with explaining_failure():
            reasons = unreachable_reasons(cluster, pool)
    except CephRbdError:
        return error
    if not reasons:
        return error
    return UnreachableError(f"{error.msg}: {'; '.join(reasons)}", **dict(error.details, reasons=reasons))


def explain_ceph_timeout(cluster: Any, error: CephRbdError) -> CephRbdError:
    """A Ceph operation's timeout (errno ETIMEDOUT) explained; any other error unchanged (a
    libvirt one raised within a Ceph connection, for example, is not the cluster's)."""
    if error.details.get("errno") != errno.ETIMEDOUT:
        return error
    return explain_unreachable(cluster, error)
