# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading pools: settings from the OSD map, usage from ``df``, RBD namespaces; the pool a
change of ``pool_changes`` is applied to (:class:`PoolTarget`)."""

from __future__ import annotations

from itertools import islice
from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import CephCluster
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.crush import (
    POOL_TYPES,
    create_erasure_profile,
    crush_rules_by_id,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    CephRbdError,
    PermissionDeniedError,
    binding_call,
)

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
        # None until the mgr reports the pool (a second or so after its creation): 0 would
        # read as "full".
        "max_avail_bytes": stats.get("max_avail"),
        "percent_used": round(float(stats.get("percent_used", 0.0)) * 100, 2),
    }


def pool_usage(cluster: CephCluster) -> dict[str, dict[str, Any]]:
    """Per-pool usage from ``df detail``, by pool name."""
    df = cluster.mon_command("df", detail="detail") or {}
    return {entry["name"]: entry.get("stats", {}) for entry in df.get("pools", [])}


@binding_call("list the RBD namespaces of pool {pool!r}")
def _namespace_list(ioctx: Any, pool: str) -> list[str]:
    return list(rbd.RBD().namespace_list(ioctx))


def rbd_namespaces(cluster: CephCluster, pool: str) -> list[str]:
    """RBD namespaces of a pool (empty for a pool that is not initialised for RBD)."""
    return _namespace_list(cluster.ioctx(pool), pool)


@binding_call("list the images of pool {pool!r}")
def _image_names(ioctx: Any, pool: str) -> list[str]:
    return rbd.RBD().list(ioctx)


@binding_call("list the objects of pool {pool!r}")
def _count_data_objects(ioctx: Any, pool: str, limit: int) -> int:
    """Objects in every namespace but RBD's own bookkeeping, counted up to ``limit``."""
    ioctx.set_namespace(rados.LIBRADOS_ALL_NSPACES)
    data_objects = (obj for obj in ioctx.list_objects() if obj.key not in RBD_POOL_METADATA_OBJECTS)
    return sum(1 for _obj in islice(data_objects, limit))


@binding_call("initialise pool {pool!r} for RBD")
def _pool_init(ioctx: Any, pool: str) -> None:
    rbd.RBD().pool_init(ioctx, False)


@binding_call("create RBD namespace {namespace!r} in pool {pool!r}")
def _namespace_create(ioctx: Any, pool: str, namespace: str) -> None:
    rbd.RBD().namespace_create(ioctx, namespace)


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
        return {name: str(cluster.conf_get(name)) for name in names}


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
        for namespace in [""] + list(pool["namespaces"]):
            listed = _image_names(cluster.ioctx(name, namespace), name)
            images += [f"{namespace}/{image}" if namespace else image for image in listed]
    with cluster.uncached_ioctx(name) as ioctx:
        objects = _count_data_objects(ioctx, name, OBJECT_COUNT_LIMIT)
    return {"images": sorted(images), "objects": objects}


class PoolTarget:
    """What a pool change (``pool_changes``) is applied to: one pool of the cluster."""

    def __init__(self, cluster: CephCluster, name: str) -> None:
        self.cluster = cluster
        self.name = name

    def mon_command(self, prefix: str, **args: Any) -> Any:
        return self.cluster.mon_command(prefix, **args)

    def init_rbd(self) -> None:
        _pool_init(self.cluster.ioctx(self.name), self.name)

    def create_namespace(self, namespace: str) -> None:
        _namespace_create(self.cluster.ioctx(self.name), self.name, namespace)

    def create_erasure_profile(self, profile: dict[str, Any]) -> None:
        create_erasure_profile(self.cluster, profile)

    def delete(self) -> None:
        delete_pool(self.cluster, self.name)


def apply_pool_changes(cluster: CephCluster, name: str, changes: list[Any]) -> None:
    """Apply changes of ``pool_changes`` in order to pool ``name``; after a partial failure
    the error's ``done`` lists what was done (the task then reports ``changed``)."""
    target, done = PoolTarget(cluster, name), []
    for change in changes:
        try:
            change.apply(target)
        except CephRbdError as error:
            if done:
                error.details.setdefault("done", done)
            raise
        done.append(change.describe(name))


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
