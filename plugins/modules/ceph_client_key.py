#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ceph_client_key
short_description: Ensure a cephx client with exact caps, rotate its key
version_added: 0.1.0
description:
  - Ensures a cephx client (for example C(client.libvirt)) exists with exactly the caps given,
    or removes it.
  - C(ceph auth caps) replaces all caps of a client; this module therefore always computes
    the complete caps wanted (from O(caps), or from O(pools)) and sets them only when they differ.
  - With O(rotate=true) the client gets a new key, generated in Python and handed to the
    monitors through librados memory (C(auth import)), never on a command line.
    Key and caps change in one step, so there is no moment without the client.
  - The key is never part of the result unless O(return_key=true); the result always holds
    the key's fingerprint, so plays can compare keys without seeing them.
  - Runs mon commands through the librados bindings; runs no command line tool.
author:
  - limiquantix contributors (@limiquantix)
options:
  name:
    description:
      - The cephx client, as its id (V(libvirt)) or full entity name (V(client.libvirt)).
    type: str
    required: true
  state:
    description:
      - V(present) creates the client or sets its caps; V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  caps:
    description:
      - The complete caps of the client, by service (C(mon), C(osd), C(mgr), C(mds)).
        Services left out get no caps.
      - Mutually exclusive with O(pools).
      - When neither O(caps) nor O(pools) is given, the client gets C(profile rbd) on
        C(mon), C(osd) and C(mgr) for every pool.
    type: dict
  pools:
    description:
      - Pools (or V(pool/namespace)) the client may use as an RBD client. Builds the caps
        C(mon) V(profile rbd), C(osd) V(profile rbd pool=a, profile rbd pool=b) and C(mgr) the same.
      - Mutually exclusive with O(caps).
    type: list
    elements: str
  rotate:
    description:
      - Give the client a new key. Running clients keep their authenticated sessions;
        new connections need the new key (see the key rotation guide in C(docs/hypervisors.md)).
      - Always changes; only with O(state=present).
    type: bool
    default: false
  return_key:
    description:
      - Return the client's key as RV(key). The whole task result is then hidden in the
        output (as with C(no_log=true)), at any verbosity; the registered variable holds it.
      - Leave it V(false) when the fingerprint is enough.
    type: bool
    default: false
extends_documentation_fragment:
  - limiquantix.ceph_rbd.connection
  - limiquantix.ceph_rbd.attributes
  - limiquantix.ceph_rbd.attributes.CEPH_GROUP
attributes:
  check_mode:
    support: full
    details:
      - A rotation in check mode cannot know the new key; RV(client.key_fingerprint) is then null.
  diff_mode:
    support: full
    details:
      - The diff holds the entity, caps and key fingerprint before and after, never the key.
"""

EXAMPLES = r"""
- name: The platform's libvirt client, RBD access to the volume and image pools
  limiquantix.ceph_rbd.ceph_client_key:
    name: libvirt
    pools:
      - limiquantix-volumes
      - limiquantix-images

- name: Exact caps (all of them are replaced)
  limiquantix.ceph_rbd.ceph_client_key:
    name: client.backup
    caps:
      mon: profile rbd
      osd: profile rbd-read-only pool=limiquantix-volumes

- name: Fetch the key for the hypervisors (the result is hidden in the output)
  limiquantix.ceph_rbd.ceph_client_key:
    name: libvirt
    pools: [limiquantix-volumes]
    return_key: true
  register: libvirt_client
  delegate_to: "{{ groups['ceph_admin'][0] }}"
  run_once: true

- name: Rotate the key
  limiquantix.ceph_rbd.ceph_client_key:
    name: libvirt
    pools: [limiquantix-volumes]
    rotate: true

- name: Remove a client
  limiquantix.ceph_rbd.ceph_client_key:
    name: old-client
    state: absent
"""

RETURN = r"""
client:
  description: The client after the task (predicted in check mode); null when absent.
  returned: always
  type: dict
  contains:
    entity:
      description: Full entity name.
      type: str
      returned: success
      sample: client.libvirt
    caps:
      description: Caps by service.
      type: dict
      returned: success
      sample:
        mon: profile rbd
        osd: profile rbd pool=limiquantix-volumes
        mgr: profile rbd pool=limiquantix-volumes
    key_fingerprint:
      description:
        - First 16 hex digits of the SHA-256 of the base64 key. Compare it, for example before
          and after a rotation; it does not reveal the key.
        - Null in check mode when the key would be created or rotated.
      type: str
      returned: success
      sample: 3f2a9c0d11e4b7a5
key:
  description:
    - The client's base64 cephx key.
    - Only with O(return_key=true); the task result is then hidden in the output like a
      C(no_log) task, so use the key through the registered variable only (for example in a
      keyring file written with C(no_log) and without diff).
  returned: when O(return_key=true) and O(state=present), not in check mode for a new or rotated key
  type: str
  sample: AQBXOgdrERbuMBAAGrwK+zPhC7MU7r0AwADSmg==
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_auth import (
    create_client,
    describe_client,
    desired_caps,
    entity_name,
    generate_key,
    get_client,
    import_client,
    plan_client,
    remove_client,
    set_caps,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import (
    ceph_connection_argument_spec,
    cluster_connection,
    forget_blank_secrets,
    missing_ceph_bindings,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    CephRbdError,
    InvalidInputError,
)


def apply_actions(cluster, entity: str, actions: list[str], caps: dict[str, str], new_key: str | None) -> None:
    for action in actions:
        if action == "create":
            create_client(cluster, entity, caps)
        elif action == "set_caps":
            set_caps(cluster, entity, caps)
        elif action == "rotate":
            import_client(cluster, entity, new_key, caps)
        elif action == "remove":
            remove_client(cluster, entity)


def predicted_client(before, entity: str, actions: list[str], caps: dict[str, str]):
    """The client as check mode expects it after ``actions``."""
    if "remove" in actions or (before is None and not actions):
        return None
    if "create" in actions or "rotate" in actions:
        return describe_client(entity, caps, None)
    return describe_client(entity, caps if actions else before["caps"], before["key"])


def main() -> None:
    argument_spec = ceph_connection_argument_spec()
    argument_spec.update(
        name={"type": "str", "required": True},
        state={"type": "str", "default": "present", "choices": ["present", "absent"]},
        caps={"type": "dict"},
        pools={"type": "list", "elements": "str"},
        rotate={"type": "bool", "default": False},
        return_key={"type": "bool", "default": False, "no_log": False},
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("caps", "pools")],
    )
    forget_blank_secrets(module)
    missing = missing_ceph_bindings(need_rbd=False)
    if missing:
        module.fail_json(msg=missing_required_lib(missing[0]), exception=missing[1])

    params = module.params
    key = None
    try:
        entity = entity_name(params["name"])
        if params["rotate"] and params["state"] == "absent":
            raise InvalidInputError("rotate needs state=present")
        caps = desired_caps(params["caps"], params["pools"])
        with cluster_connection(params) as cluster:
            before = get_client(cluster, entity)
            if before is not None:
                module.no_log_values.add(before["key"])
            actions = plan_client(before, params["state"], caps, params["rotate"])
            new_key = generate_key() if "rotate" in actions else None
            if new_key:
                module.no_log_values.add(new_key)
            if actions and not module.check_mode:
                apply_actions(cluster, entity, actions, caps, new_key)
            if module.check_mode:
                after = predicted_client(before, entity, actions, caps)
            else:
                current = get_client(cluster, entity) if actions else before
                if current is not None:
                    module.no_log_values.add(current["key"])
                    key = current["key"]
                after = describe_client(entity, current["caps"], current["key"]) if current else None
    except CephRbdError as error:
        module.fail_json(msg=str(error), **error.details)

    before_view = describe_client(entity, before["caps"], before["key"]) if before else None
    result = {
        "changed": bool(actions),
        "client": after,
        "diff": {"before": before_view or {}, "after": after or {}},
    }
    if params["return_key"] and params["state"] == "present":
        if module.check_mode and before is not None and "rotate" not in actions:
            key = before["key"]
        if key:
            # The action plugin hides the whole result in the output; the registered
            # variable must hold the real key, so it cannot be a masked no_log value.
            module.no_log_values.discard(key)
            result["key"] = key
    module.exit_json(**result)


if __name__ == "__main__":
    main()
