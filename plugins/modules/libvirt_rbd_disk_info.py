#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: libvirt_rbd_disk_info
short_description: List the RBD disks of libvirt domains
version_added: 0.1.0
description:
  - Returns each domain of a libvirt host (or the one named) with its state and its RBD
    network disks (pool, namespace, image, monitors, cephx user, secret, cache, I/O limits),
    read from the running definition when the domain runs, else from its persistent config.
  - Use it to find which volumes a hypervisor's domains use, for example before deleting a
    volume or to check live-migration requirements (C(playbooks/migration_check.yml)).
  - Reads through the libvirt Python API; runs no command line tool.
author:
  - limiquantix contributors (@limiquantix)
options:
  domain:
    description:
      - Only return this domain. An unknown name fails the task.
    type: str
seealso:
  - module: limiquantix.ceph_rbd.libvirt_rbd_disk
  - module: limiquantix.ceph_rbd.rbd_image_info
extends_documentation_fragment:
  - limiquantix.ceph_rbd.connection.LIBVIRT
  - limiquantix.ceph_rbd.attributes.INFO_MODULE
  - limiquantix.ceph_rbd.attributes.LIBVIRT_GROUP
"""

EXAMPLES = r"""
- name: Which volumes do the domains of this hypervisor use?
  limiquantix.ceph_rbd.libvirt_rbd_disk_info:
  register: hv_disks

- name: List pool/image per domain
  ansible.builtin.debug:
    msg: "{{ item.name }}: {{ item.disks | map(attribute='image') | list }}"
  loop: "{{ hv_disks.domains }}"
  loop_control:
    label: "{{ item.name }}"

- name: The disks of one VM
  limiquantix.ceph_rbd.libvirt_rbd_disk_info:
    domain: vm-123
    uri: qemu:///system
  register: vm_disks
"""

RETURN = r"""
domains:
  description: The domains, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Domain name.
      type: str
      returned: always
      sample: vm-123
    running:
      description: Whether the domain runs.
      type: bool
      returned: always
      sample: true
    persistent:
      description: Whether the domain has a persistent config.
      type: bool
      returned: always
      sample: true
    disks:
      description: The domain's RBD network disks, sorted by target.
      type: list
      elements: dict
      returned: always
      contains:
        target:
          description: Target device.
          type: str
          returned: always
          sample: vda
        bus:
          description: Bus of the target.
          type: str
          returned: always
          sample: virtio
        pool:
          description: Pool of the image.
          type: str
          returned: always
          sample: limiquantix-volumes
        namespace:
          description: RBD namespace of the image (empty for the default namespace).
          type: str
          returned: always
          sample: ''
        image:
          description: Image name.
          type: str
          returned: always
          sample: vol-1f0c2a
        mon_hosts:
          description: Monitors in the disk's source.
          type: list
          elements: str
          returned: always
          sample: ["10.0.0.1:6789"]
        auth_user:
          description: Cephx user of the disk, or null.
          type: str
          returned: always
          sample: libvirt
        secret_uuid:
          description: UUID of the libvirt secret with the user's key, or null.
          type: str
          returned: always
          sample: a5d4c91e-1234-5678-90ab-cdef12345678
        secret_usage:
          description: Usage name of the secret when the disk refers to it by usage, else null.
          type: str
          returned: always
          sample: null
        cache:
          description: Cache mode.
          type: str
          returned: always
          sample: writeback
        io:
          description: I/O mode, or null.
          type: str
          returned: always
          sample: null
        discard:
          description: Discard mode, or null.
          type: str
          returned: always
          sample: unmap
        readonly:
          description: Whether the disk is read-only.
          type: bool
          returned: always
          sample: false
        shareable:
          description: Whether the disk is shareable.
          type: bool
          returned: always
          sample: false
        serial:
          description: Serial, or null.
          type: str
          returned: always
          sample: null
        iotune:
          description: I/O limits set on the disk.
          type: dict
          returned: always
          sample: {total_iops_sec: 2000}
        qemu_spec:
          description: The qemu C(rbd:) spec of the disk (never a key).
          type: str
          returned: always
          sample: "rbd:limiquantix-volumes/vol-1f0c2a:mon_host=10.0.0.1\\:6789:id=libvirt:auth_supported=cephx"
        scopes:
          description: Where the disk is, V(live) and/or V(config).
          type: list
          elements: str
          returned: always
          sample: [live, config]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_connection import (
    libvirt_connection,
    libvirt_connection_argument_spec,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_domain import (
    domains_rbd_disks,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.module_runner import LIBVIRT, run_module


def read(module: AnsibleModule) -> dict:
    with libvirt_connection(module.params["uri"]) as conn:
        domains = domains_rbd_disks(conn, module.params["domain"])
    return {"changed": False, "domains": domains}


def main() -> None:
    argument_spec = libvirt_connection_argument_spec()
    argument_spec.update(domain={"type": "str"})
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    failed, result = run_module(module, read, LIBVIRT)
    (module.fail_json if failed else module.exit_json)(**result)


if __name__ == "__main__":
    main()
