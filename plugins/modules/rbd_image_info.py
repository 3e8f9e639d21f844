#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: rbd_image_info
short_description: List RBD images (volumes) with their size, layout, parent, users, usage, QoS and metadata
version_added: 0.1.0
description:
  - Returns every image of a pool and namespace (or the one named) with the same fields
    that M(limiquantix.ceph_rbd.rbd_image) returns, including provisioned and used bytes and watchers.
  - Opens each image read-only, so reading registers no watcher and never blocks a VM.
  - Reads through the librados/librbd bindings; runs no command line tool.
author:
  - limiquantix contributors (@limiquantix)
options:
  pool:
    description:
      - The pool to list.
    type: str
    required: true
  namespace:
    description:
      - The RBD namespace in O(pool); empty for the default namespace. A missing namespace is an error.
    type: str
    default: ''
  name:
    description:
      - Only return the image with this name. An unknown name returns an empty list, not an error.
    type: str
  with_usage:
    description:
      - Compute C(used_bytes) of each image with diff-iterate over the object map (fast with the
        V(fast-diff) feature, slower without, when the objects are listed; data is never read).
      - Set V(false) to list many images quickly; C(used_bytes) is then null.
    type: bool
    default: true
  with_io_rates:
    description:
      - Add each image's client I/O rates (C(io_rates)) from the mgr's C(rbd_support) perf
        queries (C(rbd perf image stats)), averaged by the mgr over its last reports.
      - The first request starts the mgr's query for the pool or namespace; an image gets rates
        about 10 s after it sees I/O, and only while it does. An idle image, or one asked about
        for the first time, has C(io_rates) null. The query ends when nobody asks for a while.
      - Needs the mgr's C(rbd_support) module (always on since Ceph 15) and mgr caps
        (C(profile rbd)); when the mgr cannot answer, C(io_rates) is null and a warning says why.
      - Ceph exports the same counters, cumulated, as Prometheus metrics (C(ceph_rbd_*)) for the
        pools in C(mgr/prometheus/rbd_stats_pools); see O(limiquantix.ceph_rbd.rbd_pool#module:rbd_stats).
    type: bool
    default: false
extends_documentation_fragment:
  - limiquantix.ceph_rbd.connection
  - limiquantix.ceph_rbd.attributes.INFO_MODULE
  - limiquantix.ceph_rbd.attributes.CEPH_GROUP
seealso:
  - module: limiquantix.ceph_rbd.rbd_image
"""

EXAMPLES = r"""
- name: Show a volume with its usage and who has it open
  limiquantix.ceph_rbd.rbd_image_info:
    pool: limiquantix-volumes
    name: vol-1f0c2a
  register: volume

- name: Per-volume I/O per second of a pool (ask twice, the first request starts the mgr's query)
  limiquantix.ceph_rbd.rbd_image_info:
    pool: limiquantix-volumes
    with_usage: false
    with_io_rates: true
  register: volume_rates

- name: Fail when a VM still has the volume open
  ansible.builtin.assert:
    that: volume.images[0].watchers | length == 0
    fail_msg: "vol-1f0c2a is open by {{ volume.images[0].watchers | join(', ') }}"

- name: List a tenant's volumes quickly (no usage)
  limiquantix.ceph_rbd.rbd_image_info:
    pool: limiquantix-volumes
    namespace: tenant-acme
    with_usage: false
  register: tenant_volumes
"""

RETURN = r"""
images:
  description: The images, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    pool:
      description: Pool name.
      type: str
      returned: always
      sample: limiquantix-volumes
    namespace:
      description: RBD namespace (empty for the default namespace).
      type: str
      returned: always
      sample: ''
    name:
      description: Image name.
      type: str
      returned: always
      sample: vol-1f0c2a
    id:
      description: Image id.
      type: str
      returned: always
      sample: 10a2b3c4d5e6
    size:
      description: Size in bytes.
      type: int
      returned: always
      sample: 21474836480
    features:
      description: Enabled features, sorted.
      type: list
      elements: str
      returned: always
      sample: [exclusive-lock, fast-diff, layering, object-map]
    object_size:
      description: Object size in bytes.
      type: int
      returned: always
      sample: 4194304
    stripe_unit:
      description: Stripe unit in bytes.
      type: int
      returned: always
      sample: 4194304
    stripe_count:
      description: Stripe count.
      type: int
      returned: always
      sample: 1
    data_pool:
      description: Erasure-coded data pool; null when data is stored in O(pool).
      type: str
      returned: always
      sample: null
    parent:
      description:
        - The clone parent (C(pool), C(namespace), C(image), C(snapshot)); null when the image is no clone.
        - With C(trash=true) when the parent image is in the RBD trash (the key is present only then).
          The name is the one it had; an image of that name made since is another image.
      type: dict
      returned: always
      sample:
        pool: limiquantix-images
        namespace: ''
        image: ubuntu-24.04
        snapshot: golden
    snapshots:
      description: The image's snapshots, oldest first, each with C(name), C(id), C(size), C(protected).
      type: list
      elements: dict
      returned: always
      sample:
        - name: before-upgrade
          id: 4
          size: 21474836480
          protected: false
    watchers:
      description: Addresses of the clients that have the image open .
      type: list
      elements: str
      returned: always
      sample: [10.0.0.21:0/2195237530]
    provisioned_bytes:
      description: Provisioned size in bytes (the image size).
      type: int
      returned: always
      sample: 21474836480
    used_bytes:
      description: Bytes of allocated objects of the image itself (not its parent); null when O(with_usage=false).
      type: int
      returned: always
      sample: 1048576
    qos:
      description: QoS settings set on the image (without the C(rbd_qos_) prefix).
      type: dict
      returned: always
      sample:
        iops_limit: 2000
    metadata:
      description: Image metadata (without C(conf_*) config overrides).
      type: dict
      returned: always
      sample:
        tenant: acme
    source:
      description:
        - The import record that M(limiquantix.ceph_rbd.rbd_image) wrote after its last finished import
          of a disk image file (its O(limiquantix.ceph_rbd.rbd_image#module:source) option), with the file's
          content C(digest) (V(sha256-nonzero-64k:<hex>), defined in the collection's C(docs/snapshots.md)),
          its C(format) and its C(size) in bytes. Null for an image never imported into, or
          whose last import did not finish.
      type: dict
      returned: always
      sample:
        digest: sha256-nonzero-64k:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
        format: raw
        size: 10737418240
    io_rates:
      description:
        - Client I/O per second from the mgr (see O(with_io_rates)); null when the mgr has no
          rates for the image (idle, or the first request).
        - Keys C(write_ops_per_sec), C(read_ops_per_sec), C(write_bytes_per_sec),
          C(read_bytes_per_sec), C(write_latency_ns), C(read_latency_ns) (average per operation).
      type: dict
      returned: when O(with_io_rates=true)
      sample:
        write_ops_per_sec: 12.0
        read_ops_per_sec: 0.0
        write_bytes_per_sec: 786432.0
        read_bytes_per_sec: 0.0
        write_latency_ns: 1578617.617
        read_latency_ns: 0.0
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import (
    ceph_connection_argument_spec,
    cluster_connection,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import CephRbdError
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_reads import list_images
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.io_rates import image_io_rates
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.module_runner import CEPH, run_module
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.validation import validate_name


def read(module: AnsibleModule) -> dict:
    params = module.params
    validate_name(params["pool"], "pool name")
    validate_name(params["namespace"], "namespace", allow_empty=True)
    if params["name"] is not None:
        validate_name(params["name"], "image name")
    with cluster_connection(params) as cluster:
        images = list_images(cluster, params["pool"], params["namespace"], params["name"], params["with_usage"])
        if params["with_io_rates"]:
            add_io_rates(module, cluster, images)
    return {"changed": False, "images": images}


def add_io_rates(module: AnsibleModule, cluster, images: list) -> None:
    """Each image's I/O rates from the mgr (None when it has none); a warning when the mgr cannot answer."""
    try:
        rates = image_io_rates(cluster, module.params["pool"], module.params["namespace"])
    except CephRbdError as error:
        module.warn(f"no per-image I/O rates from the mgr: {error}")
        rates = {}
    for image in images:
        image["io_rates"] = rates.get(image["name"])


def main() -> None:
    argument_spec = ceph_connection_argument_spec()
    argument_spec.update(
        pool={"type": "str", "required": True},
        namespace={"type": "str", "default": ""},
        name={"type": "str"},
        with_usage={"type": "bool", "default": True},
        with_io_rates={"type": "bool", "default": False},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    failed, result = run_module(module, read, CEPH)
    (module.fail_json if failed else module.exit_json)(**result)


if __name__ == "__main__":
    main()
