#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: rbd_pool_info
short_description: List Ceph pools with their settings, usage and RBD namespaces
version_added: 0.1.0
description:
  - Returns every pool of the cluster (or the one named) with its replication, placement,
    quota and compression settings, its usage, and its RBD namespaces.
  - Also returns each pool's client I/O rates and the cluster's fsid and health, so a play can
    stop early on an unhealthy cluster.
  - Reads through the librados bindings; runs no command line tool.
author:
  - limiquantix contributors (@limiquantix)
options:
  name:
    description:
      - Only return the pool with this name. An unknown name returns an empty list, not an error.
    type: str
seealso:
  - module: limiquantix.ceph_rbd.rbd_pool
  - module: limiquantix.ceph_rbd.rbd_image_info
extends_documentation_fragment:
  - limiquantix.ceph_rbd.connection
  - limiquantix.ceph_rbd.attributes.INFO_MODULE
  - limiquantix.ceph_rbd.attributes.CEPH_GROUP
"""

EXAMPLES = r"""
- name: Show every pool
  limiquantix.ceph_rbd.rbd_pool_info:
  register: ceph_pools

- name: Read the volumes pool with the libvirt user's key from an AWX credential
  limiquantix.ceph_rbd.rbd_pool_info:
    name: limiquantix-volumes
    user: libvirt
    key: "{{ ceph_libvirt_key }}"
    mon_host:
      - 10.0.0.1:6789
      - 10.0.0.2:6789
  register: volumes_pool

- name: Stop when the cluster is not healthy
  ansible.builtin.assert:
    that: ceph_pools.cluster.health != 'HEALTH_ERR'
    fail_msg: "Ceph is {{ ceph_pools.cluster.health }}: {{ ceph_pools.cluster.checks | to_json }}"
"""

RETURN = r"""
pools:
  description: The pools, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Pool name.
      type: str
      returned: always
      sample: limiquantix-volumes
    id:
      description: Pool id.
      type: int
      returned: always
      sample: 2
    type:
      description: V(replicated) or V(erasure).
      type: str
      returned: always
      sample: replicated
    size:
      description: Number of replicas (k+m for an erasure-coded pool).
      type: int
      returned: always
      sample: 3
    min_size:
      description: Replicas needed to serve I/O.
      type: int
      returned: always
      sample: 2
    pg_num:
      description: Number of placement groups (the target the cluster moves to, see C(pg_num_target)).
      type: int
      returned: always
      sample: 128
    pgp_num:
      description: Number of placement groups used for placement (the target).
      type: int
      returned: always
      sample: 128
    pg_autoscale_mode:
      description: PG autoscaler mode, V(on), V(off) or V(warn).
      type: str
      returned: always
      sample: "off"
    target_size_ratio:
      description: Expected share of the cluster for the autoscaler (0 when unset).
      type: float
      returned: always
      sample: 0.0
    crush_rule:
      description: Name of the CRUSH rule.
      type: str
      returned: always
      sample: replicated_rule
    erasure_profile:
      description: Erasure-code profile of an erasure-coded pool; null for a replicated pool.
      type: str
      returned: always
      sample: null
    allow_ec_overwrites:
      description: Whether an erasure-coded pool allows overwrites (needed for RBD data pools).
      type: bool
      returned: always
      sample: false
    compression_mode:
      description: BlueStore compression mode (V(none) when unset).
      type: str
      returned: always
      sample: none
    compression_algorithm:
      description: Compression algorithm; null when unset.
      type: str
      returned: always
      sample: null
    applications:
      description: Applications enabled on the pool.
      type: list
      elements: str
      returned: always
      sample: [rbd]
    quota_max_bytes:
      description: Byte quota (0 means none).
      type: int
      returned: always
      sample: 0
    quota_max_objects:
      description: Object quota (0 means none).
      type: int
      returned: always
      sample: 0
    namespaces:
      description: RBD namespaces (empty for pools without the rbd application).
      type: list
      elements: str
      returned: always
      sample: [tenant-a]
    rbd_initialized:
      description: Whether the pool is initialised for RBD (rbd application and self-managed snapshots).
      type: bool
      returned: always
      sample: true
    stored_bytes:
      description: Bytes stored by clients (before replication).
      type: int
      returned: always
      sample: 1073741824
    used_bytes:
      description: Raw bytes used (after replication).
      type: int
      returned: always
      sample: 3221225472
    objects:
      description: Number of objects.
      type: int
      returned: always
      sample: 256
    max_avail_bytes:
      description:
        - Bytes that can still be stored before the pool is full.
        - Null until the mgr has reported the pool, in the first second or so after its creation
          (never 0 for "not known yet", since 0 means full).
      type: int
      returned: always
      sample: 2040066432
    percent_used:
      description: Percentage of the pool's capacity in use.
      type: float
      returned: always
      sample: 1.5
    io_rates:
      description:
        - Client I/O of the pool per second, as C(ceph osd pool stats) shows it (averaged by the
          mgr over its last few seconds of reports; all 0 while the pool is idle).
      type: dict
      returned: always
      contains:
        read_ops_per_sec:
          description: Read operations per second.
          type: int
          returned: always
          sample: 0
        write_ops_per_sec:
          description: Write operations per second.
          type: int
          returned: always
          sample: 9
        read_bytes_per_sec:
          description: Bytes read per second.
          type: int
          returned: always
          sample: 170
        write_bytes_per_sec:
          description: Bytes written per second.
          type: int
          returned: always
          sample: 655216
cluster:
  description: Identity and health of the cluster.
  returned: always
  type: dict
  contains:
    fsid:
      description: The cluster's fsid.
      type: str
      returned: always
      sample: 66f43be6-e049-4a52-8aea-12c7bfe30363
    health:
      description: V(HEALTH_OK), V(HEALTH_WARN) or V(HEALTH_ERR).
      type: str
      returned: always
      sample: HEALTH_OK
    checks:
      description: Failing health checks by name, each with C(severity) and C(message).
      type: dict
      returned: always
      sample:
        OSD_DOWN:
          severity: HEALTH_WARN
          message: 1 osds down
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import (
    ceph_connection_argument_spec,
    cluster_connection,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.health import cluster_summary
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.io_rates import describe_pool_rates, pool_io_rates
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.module_runner import CEPH, run_module
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.pools import list_pools
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.validation import validate_name


def read(module: AnsibleModule) -> dict:
    name = module.params["name"]
    if name is not None:
        validate_name(name, "pool name")
    with cluster_connection(module.params) as cluster:
        pools = list_pools(cluster, name)
        rates = pool_io_rates(cluster)
        for pool in pools:
            pool["io_rates"] = rates.get(pool["name"], describe_pool_rates(None))
        summary = cluster_summary(cluster)
    return {"changed": False, "pools": pools, "cluster": summary}


def main() -> None:
    argument_spec = ceph_connection_argument_spec()
    argument_spec.update(name={"type": "str"})
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    failed, result = run_module(module, read, CEPH)
    (module.fail_json if failed else module.exit_json)(**result)


if __name__ == "__main__":
    main()
