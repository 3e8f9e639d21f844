#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: rbd_pool
short_description: Create, change and delete Ceph pools for RBD (replicated or erasure-coded)
version_added: 0.1.0
description:
  - Ensures a Ceph pool exists with the given replication, placement, PG, compression,
    quota and application settings, initialised for RBD and holding the given RBD namespaces;
    or ensures it does not exist.
  - Options left unset are never changed on an existing pool. Only a new pool gets the
    cluster's defaults (C(osd_pool_default_size), C(osd_pool_default_pg_num) ...) for them.
  - Changes are applied one at a time through monitor commands and librbd, never a command
    line tool, and reported in the result's O(name) pool dict and in C(diff).
  - Check mode predicts exactly what an apply does, including Ceph's own side effects
    (setting O(size) resets C(min_size) to the cluster default for that size unless
    O(min_size) is given; changing O(pg_num) moves C(pgp_num) along when both were equal).
  - Erasure-coded pools use an erasure-code profile, either an existing one (never changed) or one
    created from O(erasure_k), O(erasure_m) and O(erasure_failure_domain).
author:
  - limiquantix contributors (@limiquantix)
options:
  name:
    description:
      - Name of the pool. Must not be empty nor contain C(/), C(@), C(:), whitespace or NUL.
    type: str
    required: true
  state:
    description:
      - V(present) creates or changes the pool; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  pool_type:
    description:
      - Kind of a new pool. An existing pool's type cannot be changed (that is an error).
      - When not set, a new pool is V(replicated).
    type: str
    choices: [replicated, erasure]
  pg_num:
    description:
      - Number of placement groups (a positive integer).
      - Since Ceph Nautilus a changed pg_num is reached gradually; the pool reports and
        compares the target value.
    type: int
  pgp_num:
    description:
      - Number of placement groups used for placement; at most O(pg_num).
      - When not set, Ceph moves it along with O(pg_num) if both were equal, and leaves it otherwise.
    type: int
  pg_autoscale_mode:
    description:
      - Mode of the PG autoscaler for this pool.
    type: str
    choices: ['on', 'off', 'warn']
  target_size_ratio:
    description:
      - Expected share of the cluster's capacity, a hint for the PG autoscaler.
    type: float
  size:
    description:
      - Number of replicas of a replicated pool. An erasure-coded pool's size is k+m of its profile.
      - Ceph sets C(min_size) to its default for the new size when size changes; give
        O(min_size) as well to keep a value of your own.
    type: int
  min_size:
    description:
      - Replicas needed to serve I/O; at most O(size).
    type: int
  crush_rule:
    description:
      - Name of the CRUSH rule that places the pool (see M(limiquantix.ceph_rbd.ceph_crush_rule)).
        It must exist and be of the pool's kind (replicated or erasure).
      - A new erasure-coded pool without a rule gets one named after the pool, made by Ceph
        from the profile.
    type: str
  compression_mode:
    description:
      - BlueStore compression mode of the pool.
    type: str
    choices: [none, passive, aggressive, force]
  compression_algorithm:
    description:
      - BlueStore compression algorithm of the pool.
    type: str
    choices: [snappy, zlib, zstd, lz4]
  erasure_profile:
    description:
      - Erasure-code profile of a new erasure-coded pool (Ceph's V(default) profile when not set).
      - When the profile exists it is used as it is; when O(erasure_k), O(erasure_m) or
        O(erasure_failure_domain) are given they must match it (a profile is never changed).
      - When it does not exist, it is created from O(erasure_k) and O(erasure_m) (both required).
      - The profile of an existing pool cannot be changed (that is an error).
    type: str
  erasure_k:
    description:
      - Data chunks (k) of the erasure-code profile O(erasure_profile) to create or check.
    type: int
  erasure_m:
    description:
      - Coding chunks (m) of the erasure-code profile O(erasure_profile) to create or check.
    type: int
  erasure_failure_domain:
    description:
      - CRUSH failure domain (C(crush-failure-domain)) of the erasure-code profile
        O(erasure_profile) to create or check, for example V(host) or V(osd).
      - Ceph's default V(host) when creating a profile without it.
    type: str
  allow_ec_overwrites:
    description:
      - Allow partial overwrites on an erasure-coded pool; needed to use it as an RBD data pool.
      - Ceph cannot turn overwrites off again once on, so V(false) on such a pool is an error.
    type: bool
  application:
    description:
      - The application the pool is dedicated to. It is enabled when missing, and any other
        application enabled on the pool is disabled.
    type: str
    default: rbd
  init:
    description:
      - Initialise the pool for RBD (what C(rbd pool init) does) when O(application=rbd)
        and it is not yet initialised. Ignored for other applications.
    type: bool
    default: true
  quota_max_bytes:
    description:
      - Byte quota of the pool, in bytes or with a binary unit (V(500G), V(2T)). V(0) removes the quota.
    type: raw
  quota_max_objects:
    description:
      - Object quota of the pool. V(0) removes the quota.
    type: int
  namespaces:
    description:
      - RBD namespaces that must exist in the pool (created when missing). Namespaces not
        listed are left alone, never deleted. Needs O(application=rbd) and a replicated pool
        (namespaces keep their metadata in omap, which erasure-coded pools lack).
    type: list
    elements: str
  force:
    description:
      - With O(state=absent), delete the pool even when it holds RBD images or other objects.
        Without it such a pool is not deleted and the task fails, naming what the pool holds.
    type: bool
    default: false
  rbd_stats:
    description:
      - Whether the mgr's prometheus module exports per-image RBD metrics (C(ceph_rbd_*)) for
        every namespace of this pool. V(true) adds the pool to C(mgr/prometheus/rbd_stats_pools),
        V(false) removes it and its C(pool/namespace) entries. Entries of other pools are kept,
        also when several runs change different pools at the same time (the setting is read
        again after a write and the change redone when another writer replaced it).
      - When not set, the setting is left alone. Deleting a pool (O(state=absent)) removes its
        entries. A C(*) entry (every pool) covers the pool; V(false) is then an error.
      - The prometheus module must be enabled for metrics to appear
        (M(limiquantix.ceph_rbd.ceph_mgr_module)); see C(docs/monitoring.md).
    type: bool
notes:
  - Deleting needs the monitors' C(mon_allow_pool_delete) to be true; when it is not, the task
    fails and says so. In check mode that setting is read from the configuration the monitor
    last reported to the manager.
  - C(diff) shows the pool's settings before and after; usage counters (stored, used, objects,
    max_avail, percent_used) are left out of it because they change on their own.
  - After a change the pool is read again and returned as the cluster holds it. When another
    client changed a requested quota, C(size) or C(min_size) meanwhile (two runs at once), the
    task warns that the value did not stick; its own writes succeeded, so it does not fail.
extends_documentation_fragment:
  - limiquantix.ceph_rbd.connection
  - limiquantix.ceph_rbd.attributes
  - limiquantix.ceph_rbd.attributes.CEPH_GROUP
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
seealso:
  - module: limiquantix.ceph_rbd.rbd_pool_info
  - module: limiquantix.ceph_rbd.ceph_crush_rule
"""

EXAMPLES = r"""
- name: The platform's volumes pool (storage spec)
  limiquantix.ceph_rbd.rbd_pool:
    name: limiquantix-volumes
    pg_num: 128
    size: 3
    min_size: 2
    application: rbd

- name: SSD tier placed by a rule on SSD devices
  block:
    - name: Replicated rule on SSDs, one replica per host
      limiquantix.ceph_rbd.ceph_crush_rule:
        name: replicated-ssd
        device_class: ssd
        failure_domain: host

    - name: Pool on that rule
      limiquantix.ceph_rbd.rbd_pool:
        name: limiquantix-ssd
        pg_num: 64
        size: 3
        min_size: 2
        crush_rule: replicated-ssd

- name: Erasure-coded data pool for large volumes (images keep metadata in a replicated pool)
  limiquantix.ceph_rbd.rbd_pool:
    name: limiquantix-ec-data
    pool_type: erasure
    erasure_profile: limiquantix-k4m2
    erasure_k: 4
    erasure_m: 2
    erasure_failure_domain: host
    allow_ec_overwrites: true
    pg_num: 64

- name: Tenant pool with a quota and one namespace per project
  limiquantix.ceph_rbd.rbd_pool:
    name: tenant-acme
    pg_num: 32
    quota_max_bytes: 2T
    quota_max_objects: 0
    namespaces:
      - project-web
      - project-db

- name: Volumes pool with per-volume Prometheus metrics
  limiquantix.ceph_rbd.rbd_pool:
    name: limiquantix-volumes
    rbd_stats: true

- name: Delete a pool that still holds images
  limiquantix.ceph_rbd.rbd_pool:
    name: scratch
    state: absent
    force: true
"""

RETURN = r"""
pool:
  description:
    - The pool after the task (in check mode, as it would be); null when it does not exist.
    - In check mode a pool that would be created has C(id) and C(max_avail_bytes) null.
  returned: always
  type: dict
  contains:
    name:
      description: Pool name.
      type: str
      returned: success
      sample: limiquantix-volumes
    id:
      description: Pool id.
      type: int
      returned: success
      sample: 2
    type:
      description: V(replicated) or V(erasure).
      type: str
      returned: success
      sample: replicated
    size:
      description: Number of replicas (k+m for an erasure-coded pool).
      type: int
      returned: success
      sample: 3
    min_size:
      description: Replicas needed to serve I/O.
      type: int
      returned: success
      sample: 2
    pg_num:
      description: Number of placement groups (the target the cluster moves to).
      type: int
      returned: success
      sample: 128
    pgp_num:
      description: Number of placement groups used for placement (the target).
      type: int
      returned: success
      sample: 128
    pg_autoscale_mode:
      description: PG autoscaler mode, V(on), V(off) or V(warn).
      type: str
      returned: success
      sample: "off"
    target_size_ratio:
      description: Expected share of the cluster for the autoscaler (0 when unset).
      type: float
      returned: success
      sample: 0.0
    crush_rule:
      description: Name of the CRUSH rule.
      type: str
      returned: success
      sample: replicated_rule
    erasure_profile:
      description: Erasure-code profile of an erasure-coded pool; null for a replicated pool.
      type: str
      returned: success
      sample: null
    allow_ec_overwrites:
      description: Whether an erasure-coded pool allows overwrites.
      type: bool
      returned: success
      sample: false
    compression_mode:
      description: BlueStore compression mode (V(none) when unset).
      type: str
      returned: success
      sample: none
    compression_algorithm:
      description: Compression algorithm; null when unset.
      type: str
      returned: success
      sample: null
    applications:
      description: Applications enabled on the pool.
      type: list
      elements: str
      returned: success
      sample: [rbd]
    quota_max_bytes:
      description: Byte quota (0 means none).
      type: int
      returned: success
      sample: 0
    quota_max_objects:
      description: Object quota (0 means none).
      type: int
      returned: success
      sample: 0
    namespaces:
      description: RBD namespaces.
      type: list
      elements: str
      returned: success
      sample: [tenant-a]
    rbd_initialized:
      description: Whether the pool is initialised for RBD (rbd application and self-managed snapshots).
      type: bool
      returned: success
      sample: true
    rbd_stats:
      description: Whether per-image metrics of the pool are exported (only when O(rbd_stats) is set).
      type: bool
      returned: when O(rbd_stats) is set
      sample: true
    stored_bytes:
      description: Bytes stored by clients (before replication).
      type: int
      returned: success
      sample: 0
    used_bytes:
      description: Raw bytes used (after replication).
      type: int
      returned: success
      sample: 0
    objects:
      description: Number of objects.
      type: int
      returned: success
      sample: 0
    max_avail_bytes:
      description:
        - Bytes that can still be stored before the pool is full.
        - Null until the mgr has reported the pool, in the first second or so after its creation
          (never 0 for "not known yet", since 0 means full).
      type: int
      returned: success
      sample: 2040066432
    percent_used:
      description: Percentage of the pool's capacity in use.
      type: float
      returned: success
      sample: 0.0
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import (
    CephCluster,
    ceph_connection_argument_spec,
    cluster_connection,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.crush import (
    crush_rules_by_id,
    get_erasure_profile,
    rule_summaries,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import PermissionDeniedError
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.module_runner import CEPH, run_module
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.pool_changes import (
    CreateErasureProfile,
    DeletePool,
    PoolChange,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.pool_plan import (
    check_erasure_min_size,
    check_existing,
    check_profile,
    check_rule,
    creation,
    desired_pool,
    plan_changes,
    predict_all,
    refuse_deleting_contents,
    settings_not_kept,
    settings_view,
    wanted_profile,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.pools import (
    OBJECT_COUNT_LIMIT,
    apply_pool_changes,
    deletion_disabled_message,
    get_pool,
    monitors_allow_pool_delete,
    pool_contents,
    pool_defaults,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.rbd_stats import converge_rbd_stats, with_rbd_stats
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.validation import validate_name


def argument_spec() -> dict[str, dict[str, Any]]:
    spec = ceph_connection_argument_spec()
    spec.update(
        name={"type": "str", "required": True},
        state={"type": "str", "choices": ["present", "absent"], "default": "present"},
        pool_type={"type": "str", "choices": ["replicated", "erasure"]},
        pg_num={"type": "int"},
        pgp_num={"type": "int"},
        pg_autoscale_mode={"type": "str", "choices": ["on", "off", "warn"]},
        target_size_ratio={"type": "float"},
        size={"type": "int"},
        min_size={"type": "int"},
        crush_rule={"type": "str"},
        compression_mode={"type": "str", "choices": ["none", "passive", "aggressive", "force"]},
        compression_algorithm={"type": "str", "choices": ["snappy", "zlib", "zstd", "lz4"]},
        erasure_profile={"type": "str"},
        erasure_k={"type": "int"},
        erasure_m={"type": "int"},
        erasure_failure_domain={"type": "str"},
        allow_ec_overwrites={"type": "bool"},
        application={"type": "str", "default": "rbd"},
        init={"type": "bool", "default": True},
        quota_max_bytes={"type": "raw"},
        quota_max_objects={"type": "int"},
        namespaces={"type": "list", "elements": "str"},
        force={"type": "bool", "default": False},
        rbd_stats={"type": "bool"},
    )
    return spec


def plan_present(cluster: CephCluster, params: dict[str, Any], wanted: dict[str, Any],
                 before: dict[str, Any] | None,
                 raw_rules: dict[int, dict[str, Any]]) -> tuple[list[PoolChange], dict[str, Any]]:
    """Changes that make the pool as wanted, and the pool they leave (``raw_rules``: the CRUSH
    rules by id)."""
    name = params["name"]
    rules = rule_summaries(raw_rules)
    defaults = pool_defaults(cluster, raw_rules)
    if before is not None:
        check_existing(name, wanted, before)
    pool_type = wanted.get("pool_type") or (before or {}).get("type") or "replicated"
    if "crush_rule" in wanted:
        check_rule(wanted["crush_rule"], rules, pool_type)
    changes: list[PoolChange] = []
    profile = None
    if pool_type == "erasure" and (before is None or wanted_profile(params) or "min_size" in wanted):
        profile_name = wanted.get("erasure_profile") or (before or {}).get("erasure_profile") or "default"
        existing = get_erasure_profile(cluster, profile_name)
        to_create = check_profile(profile_name, existing, wanted_profile(params))
        if to_create:
            changes.append(CreateErasureProfile(profile=to_create))
        profile = existing or to_create
        check_erasure_min_size(wanted, profile)
    if before is None:
        create, state = creation(name, wanted, defaults, profile)
        check_existing(name, wanted, state)
        changes.append(create)
    else:
        state = before
    rest = plan_changes(state, wanted, defaults)
    return changes + rest, predict_all(state, rest, defaults)


def plan_absent(cluster: CephCluster, before: dict[str, Any] | None, force: bool,
                check_mode: bool) -> list[PoolChange]:
    """The deletion, refused for a pool holding data unless forced."""
    if before is None:
        return []
    if not force:
        refuse_deleting_contents(before["name"], pool_contents(cluster, before), OBJECT_COUNT_LIMIT)
    if check_mode and not monitors_allow_pool_delete(cluster):
        raise PermissionDeniedError(deletion_disabled_message(before["name"]))
    return [DeletePool()]


def converge(module: AnsibleModule) -> dict[str, Any]:
    params = module.params
    name = validate_name(params["name"], "pool name")
    wanted = desired_pool(params) if params["state"] == "present" else None
    with cluster_connection(params) as cluster:
        rules_by_id = crush_rules_by_id(cluster)
        before = get_pool(cluster, name, rules_by_id)
        if wanted is None:
            changes = plan_absent(cluster, before, params["force"], module.check_mode)
            after = None
        else:
            changes, after = plan_present(cluster, params, wanted, before, rules_by_id)
        if changes and not module.check_mode:
            apply_pool_changes(cluster, name, changes)
            after = get_pool(cluster, name)  # rules read again: an EC pool brings a rule of its own
            for message in settings_not_kept(wanted or {}, after):
                module.warn(message)
        stats = None
        if wanted is None or params["rbd_stats"] is not None:  # a deleted pool leaves no entry behind
            stats = converge_rbd_stats(cluster, name, params["rbd_stats"] if wanted else None, module.check_mode)
    views = {"before": settings_view(before), "after": settings_view(after)}
    if wanted is not None and stats is not None:
        after = with_rbd_stats(after, stats["after"], name)
        views = {"before": with_rbd_stats(views["before"], stats["before"], name),
                 "after": with_rbd_stats(views["after"], stats["after"], name)}
    return {"changed": bool(changes) or bool(stats and stats["changed"]), "pool": after, "diff": views}


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    failed, result = run_module(module, converge, CEPH)
    (module.fail_json if failed else module.exit_json)(**result)


if __name__ == "__main__":
    main()
