#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ceph_mgr_module
short_description: Enable or disable a Ceph manager module (prometheus, iostat ...)
version_added: 0.2.0
description:
  - Ensures a module of the Ceph manager is enabled or disabled, what C(ceph mgr module
    enable/disable) change, for example the V(prometheus) exporter.
  - An unknown module, disabling an always-on module, or enabling a module the mgr cannot run
    (its Python dependencies are missing, for example C(python3-cherrypy3) for V(prometheus))
    is an error that names the reason, also in check mode.
  - Enabling is recorded in the mgr map at once; the active mgr loads the module within seconds.
    Set the module's options first (M(limiquantix.ceph_rbd.ceph_config), C(mgr/<module>/<option>)),
    so that it starts with them.
  - Works through monitor commands of the bindings; runs no command line tool.
author:
  - limiquantix contributors (@limiquantix)
options:
  name:
    description:
      - Name of the mgr module.
    type: str
    required: true
  state:
    description:
      - V(enabled) or V(disabled).
    type: str
    choices: [enabled, disabled]
    default: enabled
  force:
    description:
      - Enable a module even when the mgr reports that it cannot run (C(--force)).
    type: bool
    default: false
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
  - module: limiquantix.ceph_rbd.ceph_config
"""

EXAMPLES = r"""
- name: Prometheus exporter on the storage network, port 9283
  limiquantix.ceph_rbd.ceph_config:
    who: mgr
    name: "mgr/prometheus/{{ item.key }}"
    value: "{{ item.value }}"
  loop: "{{ {'server_addr': '10.0.0.11', 'server_port': 9283} | dict2items }}"

- name: Enable the exporter
  limiquantix.ceph_rbd.ceph_mgr_module:
    name: prometheus

- name: Disable the iostat module
  limiquantix.ceph_rbd.ceph_mgr_module:
    name: iostat
    state: disabled
"""

RETURN = r"""
module:
  description: The mgr module after the task (in check mode, as it would be).
  returned: success
  type: dict
  contains:
    name:
      description: Module name.
      type: str
      returned: success
      sample: prometheus
    enabled:
      description: Whether the module is enabled.
      type: bool
      returned: success
      sample: true
    always_on:
      description: Whether Ceph keeps the module on whatever the setting.
      type: bool
      returned: success
      sample: false
    can_run:
      description: Whether the mgr can run the module (false when its dependencies are missing).
      type: bool
      returned: success
      sample: true
    error:
      description: Why the mgr cannot run a disabled module; empty otherwise.
      type: str
      returned: success
      sample: ""
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import (
    ceph_connection_argument_spec,
    cluster_connection,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.mgr_modules import (
    change_module,
    list_mgr_modules,
    module_view,
    plan_module,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.module_runner import RADOS, run_module


def converge(module: AnsibleModule) -> dict:
    params = module.params
    name, enabled = params["name"], params["state"] == "enabled"
    with cluster_connection(params) as cluster:
        modules = list_mgr_modules(cluster)
        before = modules.get(name)
        action = plan_module(modules, name, enabled, params["force"])
        if action and not module.check_mode:
            change_module(cluster, name, action, params["force"])
            after = module_view(list_mgr_modules(cluster).get(name))
        else:
            after = module_view(before, enabled if action else None)
    return {"changed": bool(action), "module": after, "diff": {"before": module_view(before), "after": after}}


def main() -> None:
    spec = ceph_connection_argument_spec()
    spec.update(
        name={"type": "str", "required": True},
        state={"type": "str", "choices": ["enabled", "disabled"], "default": "enabled"},
        force={"type": "bool", "default": False},
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    failed, result = run_module(module, converge, RADOS)
    (module.fail_json if failed else module.exit_json)(**result)


if __name__ == "__main__":
    main()
