#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: libvirt_domain_migrate
short_description: Live-migrate a VM with RBD disks from this hypervisor to another
version_added: 0.2.0
description:
  - Moves the running libvirt domain O(domain) from the hypervisor the module runs on (the
    source, reached with O(uri)) to the hypervisor at O(target_uri), live, without copying
    its disks (they are RBD volumes both hosts open). The domain is defined (persistent) on
    the target and undefined on the source, as C(virsh migrate --live --persistent
    --undefinesource) does, through the libvirt Python API (C(virDomainMigrate3)).
  - Idempotent. When the domain is not running here but runs on the target, nothing is done
    (C(changed=false)).
  - "Refused before anything moves, the VM staying where it runs: a disk that is not an RBD
    network disk (a local file or device: it would have to be copied); a disk whose libvirt
    secret is not defined on the target; a domain defined here but not running; a target that
    is this host."
  - This module cannot see the value of the target's secret or whether the target reaches the
    cluster. Run M(limiquantix.ceph_rbd.libvirt_rbd_access_check) on the target first, with the
    O(domain)'s disks (this module's result in check mode); it refuses in seconds what would
    otherwise fail only after librbd's 5-minute connect timeout, in the middle of the
    migration. C(playbooks/migrate.yml) and C(playbooks/evacuate.yml) do both; see
    C(docs/migration.md).
  - The source's libvirt must reach O(target_uri) as the module's user (for C(qemu+ssh), the
    ssh key and known host of root when run with C(become)); the target's QEMU must reach the
    source's migration address (C(migration_address) in C(qemu.conf)).
author:
  - limiquantix contributors (@limiquantix)
options:
  domain:
    description:
      - Name of the domain to move.
    type: str
    required: true
  target_uri:
    description:
      - libvirt URI of the target hypervisor, for example V(qemu+ssh://root@hv-2/system).
      - It must not be the source host.
    type: str
    required: true
attributes:
  check_mode:
    support: full
    details:
      - Runs every refusal and returns the move it would make, with RV(duration) 0.
  diff_mode:
    support: none
seealso:
  - module: limiquantix.ceph_rbd.libvirt_rbd_access_check
  - module: limiquantix.ceph_rbd.libvirt_rbd_disk_info
extends_documentation_fragment:
  - limiquantix.ceph_rbd.connection.LIBVIRT
  - limiquantix.ceph_rbd.attributes
  - limiquantix.ceph_rbd.attributes.LIBVIRT_GROUP
"""

EXAMPLES = r"""
- name: Move vm-123 from hv-1 to hv-2 (the task runs on the source)
  limiquantix.ceph_rbd.libvirt_domain_migrate:
    domain: vm-123
    target_uri: qemu+ssh://root@hv-2/system
  delegate_to: hv-1
  become: true
  register: moved

- name: How long the move took
  ansible.builtin.debug:
    msg: "{{ moved.domain }}: {{ moved.source }} -> {{ moved.target }} in {{ moved.duration }} s"
"""

RETURN = r"""
domain:
  description: Name of the domain.
  returned: success
  type: str
  sample: vm-123
source:
  description: Host name of the source hypervisor (the one the module ran on).
  returned: success
  type: str
  sample: hv-1
target:
  description: Host name of the target hypervisor, as its libvirt reports it.
  returned: success
  type: str
  sample: hv-2
source_uri:
  description: The libvirt URI of the source (O(uri)).
  returned: success
  type: str
  sample: qemu:///system
target_uri:
  description: The libvirt URI of the target (O(target_uri)).
  returned: success
  type: str
  sample: qemu+ssh://root@hv-2/system
duration:
  description: Seconds the migration took; V(0) when nothing moved or in check mode.
  returned: success
  type: float
  sample: 2.41
flags:
  description: The libvirt migration flags used (or that would be used); empty when nothing moves.
  returned: success
  type: list
  elements: str
  sample: [VIR_MIGRATE_LIVE, VIR_MIGRATE_PERSIST_DEST, VIR_MIGRATE_UNDEFINE_SOURCE]
disks:
  description:
    - The domain's RBD disks, what M(limiquantix.ceph_rbd.libvirt_rbd_access_check) takes as O(limiquantix.ceph_rbd.libvirt_rbd_access_check#module:disks).
  returned: success
  type: list
  elements: dict
  contains:
    target:
      description: Target device.
      type: str
      returned: always
      sample: vda
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
      description: Monitors in the disk's source (empty when QEMU takes them from ceph.conf).
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
      description: Usage name of the secret when the disk names it by usage, else null.
      type: str
      returned: always
      sample: null
local_disks:
  description: When refused for disks not on shared storage, each such disk (target, source).
  returned: failure
  type: list
  elements: dict
  sample: [{target: vdb, source: file /var/lib/libvirt/images/scratch.qcow2}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.domain_migration import (
    MigrationRequest,
    migrate_domain,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_connection import (
    libvirt_connection_argument_spec,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.module_runner import LIBVIRT, run_module


def converge(module: AnsibleModule) -> dict:
    params = module.params
    return migrate_domain(MigrationRequest(domain=params["domain"], source_uri=params["uri"],
                                           target_uri=params["target_uri"], check_mode=module.check_mode))


def main() -> None:
    argument_spec = libvirt_connection_argument_spec()
    argument_spec.update(domain={"type": "str", "required": True}, target_uri={"type": "str", "required": True})
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    failed, result = run_module(module, converge, LIBVIRT)
    (module.fail_json if failed else module.exit_json)(**result)


if __name__ == "__main__":
    main()
