#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: rbd_snapshot
short_description: Create, protect, unprotect, roll back to and remove RBD image snapshots
version_added: 0.1.0
description:
  - Ensures that a snapshot of an RBD image exists or not, and whether it is protected
    (a protected snapshot cannot be removed and is what clones are made from).
  - Rolls an image back to a snapshot on request, refusing while the image is in use.
  - Refuses to remove or unprotect a snapshot that has clone children, and lists them.
  - Works through the librbd bindings; runs no command line tool.
author:
  - limiquantix contributors (@limiquantix)
options:
  pool:
    description:
      - Pool of the image.
    type: str
    required: true
  namespace:
    description:
      - RBD namespace of the image inside O(pool); V('') is the pool's default namespace.
    type: str
    default: ''
  image:
    description:
      - Name of the image.
      - The image must exist, except with O(state=absent), where a missing image
        means there is no snapshot to remove (so a play that later removed the image
        can run again).
    type: str
    required: true
  name:
    description:
      - Name of the snapshot. Must not contain C(/), C(@), C(:), whitespace or NUL.
    type: str
    required: true
  state:
    description:
      - V(present) creates the snapshot when it is missing (of the image as it is now).
      - V(absent) removes it; a protected snapshot is unprotected first. Removal fails,
        listing the clone children, when clones still depend on the snapshot.
    type: str
    choices: [present, absent]
    default: present
  protected:
    description:
      - Whether the snapshot is protected. Protect a snapshot before cloning from it.
      - V(false) unprotects it, which fails, listing the clone children, while clones
        still depend on it (flatten or remove them first).
      - When not set, protection is left as it is and a new snapshot is unprotected.
      - V(true) cannot be combined with O(state=absent).
    type: bool
  rollback:
    description:
      - Roll the image back to the snapshot, so that its data and size become the snapshot's.
      - Everything written to the image after the snapshot is lost.
      - The snapshot must already exist. Refused while the image is in use, that is while
        it has watchers (a running VM, a mapped device, any client holding it open) or
        advisory lock owners.
      - A rollback is reported as a change every time it is requested (also in check mode).
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
      - Check mode reads the image and the snapshot and applies the same refusals
        (clone children, image in use) as a real run.
      - A snapshot that would be created is predicted with C(id) and C(timestamp) null.
  diff_mode:
    support: full
    details:
      - The diff shows the snapshot before and after (an empty dict when it does not exist).
      - A rollback changes the image, not the snapshot; the diff says so in a line of text.
notes:
  - With clone format 1 (the default while the cluster allows clients older than Mimic)
    a snapshot must be protected before it can be cloned.
seealso:
  - name: RBD snapshots in the Ceph documentation
    description: Snapshots, protection, layering (clones) and flattening.
    link: https://docs.ceph.com/en/latest/rbd/rbd-snapshot/
"""

EXAMPLES = r"""
- name: Snapshot the golden image and protect it for cloning
  limiquantix.ceph_rbd.rbd_snapshot:
    pool: limiquantix-images
    image: ubuntu-24.04
    name: protected-for-cloning
    protected: true

- name: Snapshot a VM's disk before an upgrade
  limiquantix.ceph_rbd.rbd_snapshot:
    pool: limiquantix-volumes
    image: vol-7f3a2c
    name: before-upgrade

- name: Roll the (stopped) VM's disk back to that snapshot
  limiquantix.ceph_rbd.rbd_snapshot:
    pool: limiquantix-volumes
    image: vol-7f3a2c
    name: before-upgrade
    rollback: true

- name: Remove a snapshot (unprotecting it first); fails while clones depend on it
  limiquantix.ceph_rbd.rbd_snapshot:
    pool: limiquantix-images
    namespace: tenant-a
    image: ubuntu-24.04
    name: protected-for-cloning
    state: absent
"""

RETURN = r"""
snapshot:
  description:
    - The snapshot after the task; null when it does not exist.
    - In check mode, the predicted snapshot (C(id) and C(timestamp) null for a new one).
  returned: always
  type: dict
  contains:
    name:
      description: Snapshot name.
      type: str
      returned: success
      sample: protected-for-cloning
    id:
      description: Snapshot id (unique within the image).
      type: int
      returned: success
      sample: 4
    size:
      description: Size in bytes of the image when the snapshot was taken.
      type: int
      returned: success
      sample: 10737418240
    protected:
      description: Whether the snapshot is protected.
      type: bool
      returned: success
      sample: true
    timestamp:
      description: When the snapshot was taken, ISO 8601 in UTC.
      type: str
      returned: success
      sample: "2026-11-25T19:42:24Z"
    children:
      description:
        - Clones made from the snapshot, as C(pool/image) or C(pool/namespace/image), sorted.
        - A clone in the RBD trash is listed with C( (in trash)) appended.
      type: list
      elements: str
      returned: success
      sample:
        - limiquantix-volumes/vol-7f3a2c
        - limiquantix-volumes/tenant-a/vol-91bd04
actions:
  description:
    - What was done (or, in check mode, would be done), in order.
    - Any of V(create), V(protect), V(unprotect), V(rollback), V(remove).
  returned: always
  type: list
  elements: str
  sample:
    - create
    - protect
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.warnings import warn

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import (
    CephCluster,
    ceph_connection_argument_spec,
    cluster_connection,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.lock_recovery import release_dead_owner
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.module_runner import CEPH, run_module
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.rbd_common import (
    image_exists,
    image_spec,
    open_image,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.snapshot_changes import (
    RollbackToSnapshot,
    plan_snapshot,
    predict_snapshot,
    validate_snapshot_request,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.snapshots import (
    SnapshotTarget,
    image_users,
    read_snapshot,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.validation import validate_name


def validate_params(params: dict) -> None:
    """Check every name and option combination before touching the cluster."""
    validate_name(params["pool"], "pool name")
    validate_name(params["namespace"], "namespace", allow_empty=True)
    validate_name(params["image"], "image name")
    validate_name(params["name"], "snapshot name")
    validate_snapshot_request(params["state"], params["protected"], params["rollback"])


def converge(cluster: CephCluster, params: dict, check_mode: bool) -> tuple:
    """Read, plan and (unless in check mode) apply; return (before, after, changes)."""
    pool, namespace, name = params["pool"], params["namespace"], params["name"]
    image_ref = image_spec(pool, namespace, params["image"])
    if params["state"] == "absent" and not image_exists(cluster, pool, namespace, params["image"]):
        return None, None, []
    with open_image(cluster, pool, namespace, params["image"]) as image:
        before = read_snapshot(image, name)
        users = image_users(image) if params["rollback"] else []
        image_size = image.size()
    changes = plan_snapshot(image_ref, name, before, params["state"], params["protected"],
                            params["rollback"], users)
    if not changes or check_mode:
        return before, predict_snapshot(before, changes, name, image_size), changes
    note = release_dead_owner(cluster, pool, namespace, params["image"])
    if note:
        warn(note)
    with open_image(cluster, pool, namespace, params["image"], read_only=False) as image:
        target = SnapshotTarget(image, f"{image_ref}@{name}", name)
        for change in changes:
            change.apply(target)
        after = read_snapshot(image, name)
    return before, after, changes


def rollback_note(image_ref: str, name: str, check_mode: bool) -> str:
    """The diff's line of text for a rollback, which changes the image, not the snapshot."""
    verb = "would be" if check_mode else "was"
    return f"image {image_ref} {verb} rolled back to snapshot {name}: its data and size are the snapshot's\n"


def run(module: AnsibleModule) -> dict:
    params = module.params
    validate_params(params)
    with cluster_connection(params) as cluster:
        before, after, changes = converge(cluster, params, module.check_mode)
    diff = {"before": before or {}, "after": after or {}}
    if RollbackToSnapshot() in changes:
        image_ref = image_spec(params["pool"], params["namespace"], params["image"])
        diff["prepared"] = rollback_note(image_ref, params["name"], module.check_mode)
    actions = [change.describe() for change in changes]
    return {"changed": bool(changes), "snapshot": after, "actions": actions, "diff": diff}


def main() -> None:
    argument_spec = ceph_connection_argument_spec()
    argument_spec.update(
        pool={"type": "str", "required": True},
        namespace={"type": "str", "default": ""},
        image={"type": "str", "required": True},
        name={"type": "str", "required": True},
        state={"type": "str", "default": "present", "choices": ["present", "absent"]},
        protected={"type": "bool"},
        rollback={"type": "bool", "default": False},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    failed, result = run_module(module, run, CEPH)
    (module.fail_json if failed else module.exit_json)(**result)


if __name__ == "__main__":
    main()
