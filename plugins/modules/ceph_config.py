#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ceph_config
short_description: Set or remove an option in the Ceph cluster's central configuration database
version_added: 0.2.0
description:
  - Ensures an option is set to a value (or not set) for a config target in the monitors'
    configuration database, what C(ceph config set) and C(ceph config rm) change. Daemons and
    clients read it at start-up and, for runtime options, at once.
  - Values are compared the way Ceph stores them, so C(4G) and C(4294967296), C(TRUE) and
    C(true), C(0.5) and C(0.500000) are the same value and a rerun changes nothing. Core options
    are normalised by Ceph's own parser (in the bindings); options of mgr modules
    (C(mgr/<module>/<option>)) by their type as the monitors describe it (C(config help)).
  - An option the cluster does not know, or a value Ceph refuses (wrong type, below the minimum,
    not one of the allowed values), is an error before anything is changed, also in check mode.
  - Works through monitor commands of the bindings; runs no command line tool.
author:
  - limiquantix contributors (@limiquantix)
options:
  who:
    description:
      - The config target (section), as C(ceph config set WHO) takes it. V(global), V(mon),
        V(mgr), V(osd), V(mds), V(client), a daemon or client name (V(osd.3),
        V(client.libvirt)), optionally with a mask (V(osd/class:ssd), V(osd/host:node1)).
      - Only the entry at exactly this target is read and changed; entries of other targets
        (for example V(global) for the same option) are left alone.
    type: str
    required: true
  name:
    description:
      - The option, for example V(osd_memory_target) or V(mgr/prometheus/server_port).
    type: str
    required: true
  value:
    description:
      - The value to set; required with O(state=present). Booleans, numbers and strings are
        accepted; sizes with units (V(4G), V(64M)) and timespans (V(1h)) where the option's type
        takes them.
    type: raw
  state:
    description:
      - V(present) sets the option at O(who); V(absent) removes that entry (the option falls back
        to a less specific target or its default).
    type: str
    choices: [present, absent]
    default: present
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
  - module: limiquantix.ceph_rbd.ceph_mgr_module
"""

EXAMPLES = r"""
- name: The Prometheus exporter listens on the storage network only
  limiquantix.ceph_rbd.ceph_config:
    who: mgr
    name: mgr/prometheus/server_addr
    value: 10.0.0.11

- name: Refresh the per-image RBD metrics every minute
  limiquantix.ceph_rbd.ceph_config:
    who: mgr
    name: mgr/prometheus/rbd_stats_pools_refresh_interval
    value: 60

- name: SSD OSDs get more memory (6G is stored as 6442450944, a rerun changes nothing)
  limiquantix.ceph_rbd.ceph_config:
    who: osd/class:ssd
    name: osd_memory_target
    value: 6G

- name: Back to the default
  limiquantix.ceph_rbd.ceph_config:
    who: osd/class:ssd
    name: osd_memory_target
    state: absent
"""

RETURN = r"""
config:
  description: The entry after the task (in check mode, as it would be).
  returned: success
  type: dict
  contains:
    who:
      description: The config target.
      type: str
      returned: success
      sample: mgr
    name:
      description: The option.
      type: str
      returned: success
      sample: mgr/prometheus/server_port
    value:
      description: The value stored at O(who), as Ceph normalises it; null when not set there.
      type: str
      returned: success
      sample: "9283"
    type:
      description: The option's type as the monitors describe it.
      type: str
      returned: success
      sample: int
    default:
      description: The option's default value.
      type: raw
      returned: success
      sample: 9283
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.central_config import (
    config_value_text,
    config_view,
    get_config_entry,
    normalize_value,
    option_help,
    parse_who,
    remove_config,
    set_config,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import (
    ceph_connection_argument_spec,
    cluster_connection,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.module_runner import RADOS, run_module


def converge(module: AnsibleModule) -> dict:
    params = module.params
    who, name = params["who"], params["name"]
    parse_who(who)
    with cluster_connection(params) as cluster:
        option = option_help(cluster, name)
        wanted = None
        if params["state"] == "present":
            wanted = normalize_value(option, config_value_text(params["value"]))
        before = get_config_entry(cluster, who, name)
        changed = before != wanted
        if changed and not module.check_mode:
            if wanted is None:
                remove_config(cluster, who, name)
            else:
                set_config(cluster, who, name, wanted)
        after = wanted if module.check_mode or not changed else get_config_entry(cluster, who, name)
    result = dict(config_view(who, name, after), type=option.get("type"), default=option.get("default"))
    return {"changed": changed, "config": result,
            "diff": {"before": config_view(who, name, before), "after": config_view(who, name, after)}}


def main() -> None:
    spec = ceph_connection_argument_spec()
    spec.update(
        who={"type": "str", "required": True},
        name={"type": "str", "required": True},
        value={"type": "raw"},
        state={"type": "str", "choices": ["present", "absent"], "default": "present"},
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True,
                           required_if=[("state", "present", ["value"])])
    failed, result = run_module(module, converge, RADOS)
    (module.fail_json if failed else module.exit_json)(**result)


if __name__ == "__main__":
    main()
