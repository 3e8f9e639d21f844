#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: libvirt_rbd_access_check
short_description: Check that this hypervisor's QEMU could open RBD disks (live-migration pre-flight)
version_added: 0.2.0
description:
  - Opens each RBD disk of O(disks) the way this host's QEMU would, read-only and with a short
    timeout, and fails listing every reason it could not, each naming this host, the VM and
    the disk. Run it on the target of a live migration before moving
    (M(limiquantix.ceph_rbd.libvirt_domain_migrate)); QEMU would otherwise find out only in the
    middle of the migration, after librbd's 5-minute connect timeout.
  - "As QEMU does: the cephx user is the disk's C(auth_user); the key is the value this host's
    libvirt secret (named by the disk) holds now, whatever wrote it (this collection or
    C(virsh secret-set-value)); the monitors are the disk's, else those of O(conf)."
  - "Reported: the secret is not defined here or has no value; the key, ceph.conf or monitors
    reach no cluster (wrong key, wrong monitors, unreachable) within O(timeout); the cluster
    reached is not O(fsid); an image does not exist; an image lacks the exclusive-lock feature."
  - A private secret's value is not given back by libvirt's API; it is read from the file where
    libvirtd keeps it (O(secrets_dir)), so run the module as root (C(become)). The key stays in
    the module's memory, never on a command line nor in the result.
  - Changes nothing.
author:
  - limiquantix contributors (@limiquantix)
options:
  disks:
    description:
      - The disks to check, as M(limiquantix.ceph_rbd.libvirt_domain_migrate) or
        M(limiquantix.ceph_rbd.libvirt_rbd_disk_info) return them, each a dict with C(pool),
        C(image) (both required), C(namespace), C(target) (for messages), C(mon_hosts) (empty to
        use O(conf)'s monitors), C(auth_user), and C(secret_uuid) or C(secret_usage). Other keys
        are ignored.
    type: list
    elements: dict
    required: true
  domain:
    description:
      - Name of the VM the disks belong to, for messages.
    type: str
    default: ''
  fsid:
    description:
      - The cluster the disks must be in (for a migration, the fsid the source reaches).
        Another cluster is reported.
    type: str
  conf:
    description:
      - This host's ceph.conf, the one its QEMU reads.
    type: path
    default: /etc/ceph/ceph.conf
  cluster:
    description:
      - Ceph cluster name.
    type: str
    default: ceph
  timeout:
    description:
      - Seconds to wait for the cluster before reporting that it cannot be reached.
    type: int
    default: 10
  secrets_dir:
    description:
      - Where this host's libvirtd keeps secret values (for private secrets).
    type: path
    default: /etc/libvirt/secrets
seealso:
  - module: limiquantix.ceph_rbd.libvirt_domain_migrate
  - module: limiquantix.ceph_rbd.libvirt_secret
extends_documentation_fragment:
  - limiquantix.ceph_rbd.connection.LIBVIRT
  - limiquantix.ceph_rbd.attributes.INFO_MODULE
  - limiquantix.ceph_rbd.attributes.LIBVIRT_GROUP
"""

EXAMPLES = r"""
- name: The disks of vm-123 on its hypervisor (check mode moves nothing)
  limiquantix.ceph_rbd.libvirt_domain_migrate:
    domain: vm-123
    target_uri: qemu+ssh://root@hv-2/system
  check_mode: true
  delegate_to: hv-1
  become: true
  register: planned

- name: Can hv-2's QEMU open them?
  limiquantix.ceph_rbd.libvirt_rbd_access_check:
    domain: vm-123
    disks: "{{ planned.disks }}"
  delegate_to: hv-2
  become: true
"""

RETURN = r"""
host:
  description: This host's name, as its libvirt reports it.
  returned: always
  type: str
  sample: hv-2
fsid:
  description: The fsid of the cluster reached, null when none was reached.
  returned: always
  type: str
  sample: 4f2ab020-930d-48fd-b49c-8fe62d14bd9f
disks:
  description: The disks opened, with their image features.
  returned: always
  type: list
  elements: dict
  sample: [{target: vda, pool: volumes, namespace: '', image: vol-1, features: [exclusive-lock, layering]}]
remedies:
  description: What to do about the problems, each once.
  returned: always
  type: list
  elements: str
  sample: ["give hv-2 the libvirt secret with the current key of client.libvirt: playbooks/hypervisors.yml --limit hv-2 (role libvirt_secret)"]
problems:
  description: Why this host's QEMU could not open the disks; empty when it could (else the task fails).
  returned: always
  type: list
  elements: str
  sample: ["hv-2: VM 'vm-123' disk vda (volumes/vol-1): libvirt secret 5a0c... is not defined on hv-2"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import CephRbdError
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_connection import (
    libvirt_connection,
    libvirt_connection_argument_spec,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_migration import host_name
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_secrets import SECRETS_DIR
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.migration_access import (
    AccessRequest,
    check_access,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.migration_plan import normalize_disks
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.module_runner import CEPH, LIBVIRT, run_module


def read(module: AnsibleModule) -> dict:
    params = module.params
    with libvirt_connection(params["uri"]) as conn:
        host = host_name(conn, params["uri"])
        report = check_access(conn, AccessRequest(
            host=host, domain=params["domain"], disks=normalize_disks(params["disks"]), conf=params["conf"],
            cluster=params["cluster"], fsid=params["fsid"], timeout=params["timeout"],
            secrets_dir=params["secrets_dir"]))
    if report["problems"]:
        raise CephRbdError("; ".join(report["problems"]) + ". To fix: " + "; ".join(report["remedies"]), **report)
    return dict(report, changed=False)


def main() -> None:
    argument_spec = libvirt_connection_argument_spec()
    argument_spec.update(
        disks={"type": "list", "elements": "dict", "required": True},
        domain={"type": "str", "default": ""}, fsid={"type": "str"},
        conf={"type": "path", "default": "/etc/ceph/ceph.conf"}, cluster={"type": "str", "default": "ceph"},
        timeout={"type": "int", "default": 10}, secrets_dir={"type": "path", "default": SECRETS_DIR},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    failed, result = run_module(module, read, CEPH + LIBVIRT)
    (module.fail_json if failed else module.exit_json)(**result)


if __name__ == "__main__":
    main()
