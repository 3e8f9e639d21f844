# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading pools: settings from the OSD map, usage from ``df``, RBD namespaces."""

from __future__ import annotations

from itertools import islice
from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import CephCluster
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.crush import crush_rules_by_id
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.deadline import explain_unreachable
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    CephRbdError,
    NoSpaceError,
    PermissionDeniedError,
    UnreachableError,
    translated_errors,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.pool_plan import POOL_TYPES

try:
    import rados
    import rbd
except ImportError:  # the module reports missing bindings before calling in here
    rados = None
    rbd = None


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
        # Since Nautilus pg_num/pgp_num move towards their targets gradually: report
        # the targets, which are what a change sets and what the pool converges to.
        "pg_num": detail.get("pg_num_target", detail.get("pg_num")),
        "pgp_num": detail.get("pg_placement_num_target", detail.get("pg_placement_num")),
        "pg_autoscale_mode": detail.get("pg_autoscale_mode"),
        # Ceph keeps the ratio as a 32-bit float (0.1 reads back as 0.10000000149...).
        "target_size_ratio": round(float(options.get("target_size_ratio", 0.0)), 6),
        "crush_rule": rule_names.get(detail.get("crush_rule"), str(detail.get("crush_rule"))),
        "erasure_profile": detail.get("erasure_code_profile") or None,
        "allow_ec_overwrites": "ec_overwrites" in flags,
        "compression_mode": options.get("compression_mode", "none"),
        "compression_algorithm": options.get("compression_algorithm") or None,
        "applications": sorted((detail.get("application_metadata") or {}).keys()),
        "quota_max_bytes": detail.get("quota_max_bytes", 0),
        "quota_max_objects": detail.get("quota_max_objects", 0),
        "namespaces": sorted(namespaces) if namespaces is not None else [],
        # What `rbd pool init` leaves: the rbd application and self-managed snapshots.
        "rbd_initialized": "rbd" in (detail.get("application_metadata") or {}) and "selfmanaged_snaps" in flags,
        "stored_bytes": stats.get("stored", 0),
        "used_bytes": stats.get("bytes_used", 0),
        "objects": stats.get("objects", 0),
        "max_avail_bytes": stats.get("max_avail", 0),
        "percent_used": round(float(stats.get("percent_used", 0.0)) * 100, 2),
    }


def pool_usage(cluster: CephCluster) -> dict[str, dict[str, Any]]:
    """Per-pool usage from ``df detail``, by pool name."""
    df = cluster.mon_command("df", detail="detail") or {}
    return {entry["name"]: entry.get("stats", {}) for entry in df.get("pools", [])}


def rbd_namespaces(cluster: CephCluster, pool: str) -> list[str]:
    """RBD namespaces of a pool (empty for a pool that is not initialised for RBD)."""
    with translated_errors(f"list the RBD namespaces of pool {pool!r}"):
        return list(rbd.RBD().namespace_list(cluster.ioctx(pool)))


def list_pools(cluster: CephCluster, name: str | None = None,
               rules_by_id: dict[int, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """All pools (or the one named) as the collection's pool dicts, sorted by name.

    ``rules_by_id``: the CRUSH rules (``crush.crush_rules_by_id``) when the caller has
    read them already; read here otherwise.
    """
    details = cluster.mon_command("osd pool ls", detail="detail") or []
    if name is not None:
        details = [d for d in details if d["pool_name"] == name]
    if not details:
        return []
    if rules_by_id is None:
        rules_by_id = crush_rules_by_id(cluster)
    rules = {rule_id: rule["rule_name"] for rule_id, rule in rules_by_id.items()}
    usage = pool_usage(cluster)
    pools = []
    for detail in details:
        is_rbd = "rbd" in (detail.get("application_metadata") or {})
        namespaces = rbd_namespaces(cluster, detail["pool_name"]) if is_rbd else []
        pools.append(describe_pool(detail, rules, usage.get(detail["pool_name"]), namespaces))
    return sorted(pools, key=lambda pool: pool["name"])


def get_pool(cluster: CephCluster, name: str,
             rules_by_id: dict[int, dict[str, Any]] | None = None) -> dict[str, Any] | None:
    """One pool dict, or None when the pool does not exist (``rules_by_id`` as for list_pools)."""
    pools = list_pools(cluster, name, rules_by_id)
    return pools[0] if pools else None


# Changing pools ----------------------------------------------------------------

# Objects RBD keeps in an initialised pool even when it holds no image.
RBD_POOL_METADATA_OBJECTS = frozenset(
    ("rbd_info", "rbd_directory", "rbd_children", "rbd_namespace", "rbd_trash", "rbd_mirroring", "rbd_task")
)

OBJECT_COUNT_LIMIT = 1000

_DEFAULT_OPTIONS = {
    "size": "osd_pool_default_size",
    "min_size": "osd_pool_default_min_size",
    "pg_num": "osd_pool_default_pg_num",
    "pg_autoscale_mode": "osd_pool_default_pg_autoscale_mode",
    "crush_rule": "osd_pool_default_crush_rule",
}


def _monitor_config(cluster: CephCluster) -> dict[str, str]:
    """The running configuration of the leading monitor (as reported to the mgr).

    Falls back to the client's own configuration when the mgr cannot tell.
    """
    leader = (cluster.mon_command("quorum_status") or {}).get("quorum_leader_name")
    try:
        entries = cluster.mgr_command("config show", who=f"mon.{leader}") or []
        return {entry["name"]: str(entry["value"]) for entry in entries}
    except CephRbdError:
        names = list(_DEFAULT_OPTIONS.values()) + ["mon_allow_pool_delete"]
        with translated_errors("read the Ceph configuration"):
            return {name: str(cluster.handle.conf_get(name)) for name in names}


def pool_defaults(cluster: CephCluster, rules: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The monitors' defaults for a new pool; crush_rule as a rule name.

    ``rules``: CRUSH rules by id (type 1 = replicated).
    """
    config = _monitor_config(cluster)
    rule_id = int(config.get(_DEFAULT_OPTIONS["crush_rule"], "-1"))
    if rule_id < 0:
        replicated = sorted(rid for rid, rule in rules.items() if rule.get("type") == 1)
        rule_id = replicated[0] if replicated else -1
    return {
        "size": int(config.get(_DEFAULT_OPTIONS["size"], "3")),
        "min_size": int(config.get(_DEFAULT_OPTIONS["min_size"], "0")),
        "pg_num": int(config.get(_DEFAULT_OPTIONS["pg_num"], "32")),
        "pg_autoscale_mode": config.get(_DEFAULT_OPTIONS["pg_autoscale_mode"], "on"),
        "crush_rule": rules[rule_id]["rule_name"] if rule_id in rules else str(rule_id),
    }


def monitors_allow_pool_delete(cluster: CephCluster) -> bool:
    """``mon_allow_pool_delete`` as the leading monitor last reported it to the mgr."""
    return _monitor_config(cluster).get("mon_allow_pool_delete", "false").lower() == "true"


def pool_contents(cluster: CephCluster, pool: dict[str, Any]) -> dict[str, Any]:
    """RBD images (``namespace/name`` inside a namespace) and other objects a pool holds.

    ``pool`` is the pool dict; RBD's own bookkeeping objects are not counted, and
    counting stops at OBJECT_COUNT_LIMIT (a big pool is not listed to the end).
    """
    name = pool["name"]
    images: list[str] = []
    if "rbd" in pool["applications"]:
        with translated_errors(f"list the images of pool {name!r}"):
            for namespace in [""] + list(pool["namespaces"]):
                listed = rbd.RBD().list(cluster.ioctx(name, namespace))
                images += [f"{namespace}/{image}" if namespace else image for image in listed]
    with translated_errors(f"list the objects of pool {name!r}"):
        ioctx = cluster.handle.open_ioctx(name)
        try:
            ioctx.set_namespace(rados.LIBRADOS_ALL_NSPACES)
            data_objects = (obj for obj in ioctx.list_objects() if obj.key not in RBD_POOL_METADATA_OBJECTS)
            objects = sum(1 for _obj in islice(data_objects, OBJECT_COUNT_LIMIT))
        finally:
            ioctx.close()
    return {"images": sorted(images), "objects": objects}


def _set_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def apply_pool_change(cluster: CephCluster, name: str, change: dict[str, Any]) -> None:
    """Carry out one change planned by ``pool_plan`` (create, set, application, init, quota, namespace)."""
    action = change["action"]
    if action == "create":
        cluster.mon_command("osd pool create", **change["args"])
    elif action == "set":
        cluster.mon_command("osd pool set", pool=name, var=change["var"], val=_set_value(change["value"]))
    elif action == "enable_application":
        cluster.mon_command("osd pool application enable", pool=name, app=change["application"],
                            yes_i_really_mean_it=True)
    elif action == "disable_application":
        cluster.mon_command("osd pool application disable", pool=name, app=change["application"],
                            yes_i_really_mean_it=True)
    elif action == "init":
        with translated_errors(f"initialise pool {name!r} for RBD"):
            rbd.RBD().pool_init(cluster.ioctx(name), False)
    elif action == "set_quota":
        cluster.mon_command("osd pool set-quota", pool=name, field=change["field"], val=str(change["value"]))
    elif action == "create_namespace":
        with translated_errors(f"create RBD namespace {change['namespace']!r} in pool {name!r}"):
            rbd.RBD().namespace_create(cluster.ioctx(name), change["namespace"])
    else:
        raise ValueError(f"unknown pool change {action!r}")


def delete_pool(cluster: CephCluster, name: str) -> None:
    """Delete a pool; a refusal because of ``mon_allow_pool_delete`` says how to allow it."""
    cluster.forget_ioctx(name)
    try:
        cluster.mon_command("osd pool delete", pool=name, pool2=name, yes_i_really_really_mean_it=True)
    except PermissionDeniedError as error:
        raise PermissionDeniedError(deletion_disabled_message(name), errno=1) from error
    except CephRbdError as error:
        if "mon_allow_pool_delete" in str(error):
            raise PermissionDeniedError(deletion_disabled_message(name), errno=1) from error
        raise


def deletion_disabled_message(name: str) -> str:
    return (
        f"the monitors refuse to delete pool {name!r}: pool deletion is disabled; set "
        "mon_allow_pool_delete to true (e.g. `ceph config set mon mon_allow_pool_delete true`), "
        "run again, and set it back to false afterwards"
    )


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
    return explain_unreachable(cluster, explain_blocked_write(cluster, pool, error), pool)
