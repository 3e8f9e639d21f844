# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write errors explained in the operator's terms: missing caps, a full pool or its quota,
a timeout with what the monitors know about why the OSDs do not answer (unreachable.py).

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
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.unreachable import explain_unreachable


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
