#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ceph_crush_rule
short_description: Create or remove a replicated CRUSH rule (root, failure domain, device class)
version_added: 0.1.0
description:
  - Ensures a replicated CRUSH rule that takes devices under a root, optionally of one device
    class (V(ssd), V(hdd), V(nvme) ...), and places each replica in a different failure domain.
    Pools choose it with O(limiquantix.ceph_rbd.rbd_pool#module:crush_rule), for example to
    make an SSD tier and an HDD tier.
  - Ceph cannot change a rule in place. A rule that exists with another root, failure domain
    or device class is an error, never silently replaced; use another name.
  - A rule that a pool uses is never removed; the task fails and names the pools.
  - Works through monitor commands; runs no command line tool.
author:
  - limiquantix contributors (@limiquantix)
options:
  name:
    description:
      - Name of the rule. Must not be empty nor contain C(/), C(@), C(:), whitespace or NUL.
    type: str
    required: true
  state:
    description:
      - V(present) creates the rule; V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  root:
    description:
      - The CRUSH bucket the rule takes devices from.
    type: str
    default: default
  failure_domain:
    description:
      - The CRUSH bucket type that holds at most one replica, for example V(host), V(rack) or V(osd).
    type: str
    default: host
  device_class:
    description:
      - Only use devices of this class (V(ssd), V(hdd), V(nvme) ...). It must exist in the CRUSH map.
      - When not set, devices of every class are used.
    type: str
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
  - module: limiquantix.ceph_rbd.rbd_pool
"""

EXAMPLES = r"""
- name: SSD tier rule, one replica per host
  limiquantix.ceph_rbd.ceph_crush_rule:
    name: replicated-ssd
    device_class: ssd
    failure_domain: host

- name: HDD tier rule
  limiquantix.ceph_rbd.ceph_crush_rule:
    name: replicated-hdd
    device_class: hdd

- name: Remove a rule no pool uses any more
  limiquantix.ceph_rbd.ceph_crush_rule:
    name: replicated-old
    state: absent
"""

RETURN = r"""
rule:
  description:
    - The rule after the task (in check mode, as it would be; C(id) null for a rule not yet
      created); null when it does not exist.
  returned: always
  type: dict
  contains:
    name:
      description: Rule name.
      type: str
      returned: success
      sample: replicated-ssd
    id:
      description: Rule id.
      type: int
      returned: success
      sample: 1
    type:
      description: V(replicated) or V(erasure).
      type: str
      returned: success
      sample: replicated
    root:
      description: The CRUSH bucket the rule takes devices from.
      type: str
      returned: success
      sample: default
    failure_domain:
      description: The bucket type holding at most one replica.
      type: str
      returned: success
      sample: host
    device_class:
      description: Device class the rule is limited to; null for every class.
      type: str
      returned: success
      sample: ssd
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import (
    CephCluster,
    ceph_connection_argument_spec,
    cluster_connection,
    forget_blank_secrets,
    missing_ceph_bindings,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.crush import (
    create_replicated_rule,
    device_classes,
    get_crush_rule,
    refuse_rule_in_use,
    remove_crush_rule,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    CephRbdError,
    InvalidInputError,
    NotFoundError,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.validation import validate_name


def wanted_rule(params: dict[str, Any]) -> dict[str, Any]:
    """The rule as the options describe it (id unknown until created)."""
    return {
        "name": params["name"],
        "id": None,
        "type": "replicated",
        "root": validate_name(params["root"], "root"),
        "failure_domain": validate_name(params["failure_domain"], "failure_domain"),
        "device_class": validate_name(params["device_class"], "device_class") if params["device_class"] else None,
    }


def check_same_rule(existing: dict[str, Any], wanted: dict[str, Any]) -> None:
    """Refuse a rule that exists with other settings (Ceph cannot change a rule)."""
    keys = ("type", "root", "failure_domain", "device_class")
    different = [f"{key} is {existing[key]!r} not {wanted[key]!r}" for key in keys if existing[key] != wanted[key]]
    if different:
        raise InvalidInputError(
            f"CRUSH rule {wanted['name']!r} exists with other settings ({', '.join(different)}); a rule "
            "cannot be changed in place: use another name (and move pools to it), then remove the old one"
        )


def ensure_present(cluster: CephCluster, wanted: dict[str, Any], before: dict[str, Any] | None,
                   check_mode: bool) -> tuple[bool, dict[str, Any]]:
    if before is not None:
        check_same_rule(before, wanted)
        return False, before
    classes = device_classes(cluster) if wanted["device_class"] else []
    if wanted["device_class"] and wanted["device_class"] not in classes:
        raise NotFoundError(
            f"device class {wanted['device_class']!r} does not exist in the CRUSH map "
            f"(classes: {', '.join(classes) or 'none'})"
        )
    if check_mode:
        return True, wanted
    create_replicated_rule(cluster, wanted["name"], wanted["root"], wanted["failure_domain"], wanted["device_class"])
    return True, get_crush_rule(cluster, wanted["name"])


def ensure_absent(cluster: CephCluster, before: dict[str, Any] | None, check_mode: bool) -> bool:
    if before is None:
        return False
    if check_mode:
        refuse_rule_in_use(cluster, before)
    else:
        remove_crush_rule(cluster, before)
    return True


def main() -> None:
    spec = ceph_connection_argument_spec()
    spec.update(
        name={"type": "str", "required": True},
        state={"type": "str", "choices": ["present", "absent"], "default": "present"},
        root={"type": "str", "default": "default"},
        failure_domain={"type": "str", "default": "host"},
        device_class={"type": "str"},
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    forget_blank_secrets(module)
    missing = missing_ceph_bindings(need_rbd=False)
    if missing:
        module.fail_json(msg=missing_required_lib(missing[0]), exception=missing[1])

    params = module.params
    try:
        name = validate_name(params["name"], "rule name")
        wanted = wanted_rule(params)
        with cluster_connection(params) as cluster:
            before = get_crush_rule(cluster, name)
            if params["state"] == "present":
                changed, after = ensure_present(cluster, wanted, before, module.check_mode)
            else:
                changed, after = ensure_absent(cluster, before, module.check_mode), None
    except CephRbdError as error:
        module.fail_json(msg=str(error), **error.details)
    module.exit_json(changed=changed, rule=after, diff={"before": before or {}, "after": after or {}})


if __name__ == "__main__":
    main()
