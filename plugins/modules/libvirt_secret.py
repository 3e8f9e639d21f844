#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: libvirt_secret
short_description: Ensure a libvirt secret (for example a Ceph cephx key) with a fixed UUID and value
version_added: 0.1.0
description:
  - Defines a libvirt secret with a fixed UUID and usage, private by default, and sets its value.
    Use the same UUID on every hypervisor, otherwise live migration fails.
  - Idempotent even for private secrets, whose value libvirt refuses to read back. The
    module keeps a salted fingerprint of the value (PBKDF2-SHA256 salted with the UUID) at the
    end of the secret's description and compares against it; a new value (key rotation) is
    applied in place, without undefining the secret. See C(docs/hypervisors.md).
  - When it runs as root against this host's libvirtd (O(uri) without a host, such as
    V(qemu:///system)), a private value is compared with the one libvirtd keeps in
    C(/etc/libvirt/secrets), so a value changed behind the collection's back (C(virsh
    secret-set-value)) is seen and set right; otherwise the fingerprint is compared.
  - Never undefines or redefines a secret that running domains use unless O(force=true).
  - The private and ephemeral flags and the usage of an existing secret cannot be changed
    by libvirt; the module refuses such a change unless O(force=true), which undefines and
    redefines the secret.
  - Uses the libvirt Python API; runs no command line tool.
author:
  - limiquantix contributors (@limiquantix)
options:
  uuid:
    description:
      - UUID of the secret. Required with O(state=present).
      - With O(state=absent), the secret to remove; when not set, the one with O(usage_name).
    type: str
  usage_name:
    description:
      - The usage name, for example V(client.libvirt secret). Required with O(state=present).
      - For O(usage_type=volume) this is the volume's path, for V(iscsi) the target.
    type: str
  usage_type:
    description:
      - The usage type of the secret.
    type: str
    choices: [ceph, iscsi, volume, tls, vtpm]
    default: ceph
  description:
    description:
      - Human readable description. The module appends the value fingerprint to it.
      - When not set, an existing secret keeps its description.
    type: str
  value:
    description:
      - The secret's value, base64 encoded. For O(usage_type=ceph), the cephx key as
        C(ceph auth get-key) prints it (checked to be a cephx key).
      - Mutually exclusive with O(value_from_keyring). When neither is set, an existing
        value is kept.
    type: str
  value_from_keyring:
    description:
      - Read the value from a Ceph keyring file on the managed node (read in Python, never
        passed to a command).
    type: dict
    suboptions:
      path:
        description: Path of the keyring file.
        type: path
        required: true
      entity:
        description: Entity whose key to read, V(client.libvirt) or V(libvirt).
        type: str
        required: true
  private:
    description:
      - Whether libvirt refuses to give the value back to clients. Cannot change on an
        existing secret (see O(force)).
    type: bool
    default: true
  ephemeral:
    description:
      - Whether libvirt keeps the secret in memory only. Cannot change on an existing secret.
    type: bool
    default: false
  state:
    description:
      - V(present) defines the secret and sets its value; V(absent) undefines it.
    type: str
    choices: [present, absent]
    default: present
  force:
    description:
      - Undefine and redefine an existing secret whose usage, private or ephemeral flag
        differs (needs O(value) or O(value_from_keyring) for a private secret), and undefine
        a secret that running domains use. Running QEMU processes keep their Ceph sessions.
    type: bool
    default: false
seealso:
  - module: limiquantix.ceph_rbd.ceph_client_key
  - name: The libvirt_secret role
    description: The secret on every hypervisor, from the client's keyring.
    link: https://github.com/limiquantix/ceph_rbd/tree/main/docs/hypervisors.md
  - name: libvirt secret XML format
    description: The C(<secret>) element and its C(ceph) usage type.
    link: https://libvirt.org/formatsecret.html
extends_documentation_fragment:
  - limiquantix.ceph_rbd.connection.LIBVIRT
  - limiquantix.ceph_rbd.attributes
  - limiquantix.ceph_rbd.attributes.LIBVIRT_GROUP
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff holds the secret's fields and value fingerprint, never the value.
"""

EXAMPLES = r"""
- name: The Ceph secret of client.libvirt, same UUID on every hypervisor
  limiquantix.ceph_rbd.libvirt_secret:
    uuid: a5d4c91e-1234-5678-90ab-cdef12345678
    usage_name: client.libvirt secret
    description: Ceph client.libvirt key
    value: "{{ ceph_libvirt_key }}"

- name: Same, reading the key from the hypervisor's keyring
  limiquantix.ceph_rbd.libvirt_secret:
    uuid: a5d4c91e-1234-5678-90ab-cdef12345678
    usage_name: client.libvirt secret
    value_from_keyring:
      path: /etc/ceph/ceph.client.libvirt.keyring
      entity: client.libvirt

- name: Remove the secret (refused while running domains use it)
  limiquantix.ceph_rbd.libvirt_secret:
    uuid: a5d4c91e-1234-5678-90ab-cdef12345678
    state: absent
"""

RETURN = r"""
secret:
  description: The secret after the task (predicted in check mode); null when absent.
  returned: always
  type: dict
  contains:
    uuid:
      description: UUID of the secret.
      type: str
      returned: success
      sample: a5d4c91e-1234-5678-90ab-cdef12345678
    usage_type:
      description: Usage type.
      type: str
      returned: success
      sample: ceph
    usage_name:
      description: Usage name (volume path for V(volume), target for V(iscsi)).
      type: str
      returned: success
      sample: client.libvirt secret
    description:
      description: The description without the fingerprint marker.
      type: str
      returned: success
      sample: Ceph client.libvirt key
    private:
      description: Whether the value cannot be read back.
      type: bool
      returned: success
      sample: true
    ephemeral:
      description: Whether the secret lives in memory only.
      type: bool
      returned: success
      sample: false
    value_fingerprint:
      description:
        - The salted fingerprint of the value kept in the description (32 hex digits);
          null when the module never set the value. Equal on hypervisors that hold the same value.
      type: str
      returned: success
      sample: 8a1f0c3e5b7d9f2146a8c0e2b4d6f801
    used_by:
      description:
        - Names of the domains whose disks use this secret, in their running definition or their
          persistent configuration (a running domain counts as running for O(force)).
      type: list
      elements: str
      returned: success
      sample: [vm-web-1]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_auth import (
    decode_key,
    read_key_from_keyring,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    AlreadyExistsError,
    InvalidInputError,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_connection import (
    libvirt_connection,
    libvirt_connection_argument_spec,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_secrets import (
    SECRETS_DIR,
    decode_value,
    define_secret,
    describe_secret,
    domains_using_secret,
    get_secret,
    join_description,
    plan_secret,
    read_value,
    refuse_if_running_users,
    set_value,
    split_description,
    undefine_secret,
    uuid_for_usage,
    value_fingerprint,
    is_local_uri,
    value_matches,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.module_runner import LIBVIRT, run_module
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.validation import validate_uuid


def wanted_value(module: AnsibleModule) -> bytes | None:
    """Raw bytes of the value to store (validated), None when no value is given."""
    params = module.params
    text = params["value"]
    what = "value"
    if params["value_from_keyring"]:
        source = params["value_from_keyring"]
        text = read_key_from_keyring(source["path"], source["entity"])
        module.no_log_values.add(text)
        what = f"the key in {source['path']}"
    if text is None:
        return None
    if params["usage_type"] == "ceph":
        return decode_key(text, what)
    return decode_value(text, what)


def converge_present(module: AnsibleModule, conn, secret_uuid: str, raw: bytes | None):
    """Plan and (unless check mode) apply; return (actions, before, after) stored dicts."""
    params = module.params
    before = get_secret(conn, secret_uuid)
    owner = uuid_for_usage(conn, params["usage_type"], params["usage_name"])
    if owner is not None and owner != secret_uuid:
        raise AlreadyExistsError(
            f"the usage {params['usage_type']} {params['usage_name']!r} is already used by "
            f"libvirt secret {owner}; a usage belongs to one secret only"
        )
    user_description, stored_fingerprint = split_description(before["description"] if before else None)
    if params["description"] is not None:
        user_description = params["description"]
    secrets_dir = SECRETS_DIR if is_local_uri(params["uri"]) else None
    matches = value_matches(conn, before, secret_uuid, raw, stored_fingerprint, secrets_dir)
    digest = stored_fingerprint["digest"] if stored_fingerprint else None
    if raw is not None and not matches:
        digest = value_fingerprint(secret_uuid, raw)
    wanted = {
        "uuid": secret_uuid,
        "usage_type": params["usage_type"],
        "usage_name": params["usage_name"],
        "description": join_description(user_description, digest),
        "private": params["private"],
        "ephemeral": params["ephemeral"],
    }
    users = domains_using_secret(conn, before) if before else []
    running = [u["name"] for u in users if u["running"]]
    actions = plan_secret(before, wanted, matches, params["force"], running)
    if actions and not module.check_mode:
        if "undefine" in actions and raw is None:
            raw = read_value(conn, secret_uuid)
        for action in actions:
            if action == "undefine":
                undefine_secret(conn, secret_uuid)
            elif action == "define":
                define_secret(conn, wanted)
            elif action == "set_value" and raw is not None:
                set_value(conn, secret_uuid, raw)
    if module.check_mode:
        after = wanted
    else:
        after = get_secret(conn, secret_uuid) if actions else before
    return actions, (before, users), (after, users)


def converge_absent(module: AnsibleModule, conn, secret_uuid: str | None):
    params = module.params
    if secret_uuid is None:
        secret_uuid = uuid_for_usage(conn, params["usage_type"], params["usage_name"])
    before = get_secret(conn, secret_uuid) if secret_uuid else None
    if before is None:
        return [], (None, []), (None, [])
    users = domains_using_secret(conn, before)
    if not params["force"]:
        refuse_if_running_users(secret_uuid, [u["name"] for u in users if u["running"]], "undefine")
    if not module.check_mode:
        undefine_secret(conn, secret_uuid)
    return ["undefine"], (before, users), (None, [])


def converge(module: AnsibleModule) -> dict:
    params = module.params
    secret_uuid = validate_uuid(params["uuid"], "uuid") if params["uuid"] else None
    if params["usage_name"] is not None and not params["usage_name"].strip():
        raise InvalidInputError("usage_name must not be empty")
    with libvirt_connection(params["uri"]) as conn:
        if params["state"] == "present":
            actions, before, after = converge_present(module, conn, secret_uuid, wanted_value(module))
        else:
            actions, before, after = converge_absent(module, conn, secret_uuid)
    before_view = describe_secret(*before) if before[0] else None
    after_view = describe_secret(*after) if after[0] else None
    return {"changed": bool(actions), "secret": after_view,
            "diff": {"before": before_view or {}, "after": after_view or {}}}


def main() -> None:
    argument_spec = libvirt_connection_argument_spec()
    argument_spec.update(
        uuid={"type": "str"},
        usage_name={"type": "str"},
        usage_type={"type": "str", "default": "ceph", "choices": ["ceph", "iscsi", "volume", "tls", "vtpm"]},
        description={"type": "str"},
        value={"type": "str", "no_log": True},
        value_from_keyring={"type": "dict", "no_log": False, "options": {
            "path": {"type": "path", "required": True},
            "entity": {"type": "str", "required": True},
        }},
        private={"type": "bool", "default": True},
        ephemeral={"type": "bool", "default": False},
        state={"type": "str", "default": "present", "choices": ["present", "absent"]},
        force={"type": "bool", "default": False},
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("value", "value_from_keyring")],
        required_if=[("state", "present", ("uuid", "usage_name"))],
        required_one_of=[("uuid", "usage_name")],
    )
    failed, result = run_module(module, converge, LIBVIRT)
    (module.fail_json if failed else module.exit_json)(**result)


if __name__ == "__main__":
    main()
