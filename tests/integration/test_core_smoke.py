# SPDX-License-Identifier: GPL-3.0-or-later
"""A short smoke of each module family, the roles' filters and one playbook.

`make test-oldest-core` runs this file (and the unit tests) under the oldest ansible-core
that meta/runtime.yml's requires_ansible claims, in a virtualenv of its own; the regular
integration run covers it under the newest. Each test asserts the result and the state
read back.
"""

from __future__ import annotations

import uuid

import ansible
import pytest

from .cephstate import image_names, image_size, scratch_rbd_pool
from .harness import COLLECTION_ROOT, run_module, run_playbook, write_playbook

MiB = 1024 ** 2


@pytest.fixture(scope="module")
def pool(ceph):
    with scratch_rbd_pool(ceph, f"smoke-{ansible.__version__.replace('.', '-')}") as name:
        yield name


def test_the_ansible_core_under_test_is_the_one_running_the_modules(tmp_path):
    play = write_playbook(tmp_path, [{"ansible.builtin.debug": {"msg": "{{ ansible_version.full }}"}}])
    result = run_playbook(play)
    assert result["_rc"] == 0
    assert result["msg"] == ansible.__version__


def test_ceph_family_rbd_image_check_apply_idempotent_delete(ceph, pool):
    args = {"pool": pool, "name": "vol-smoke", "size": "8M"}
    check = run_module("rbd_image", args, check=True)
    assert check.changed and not check.failed, check.msg
    assert image_names(ceph, pool) == []
    applied = run_module("rbd_image", args)
    assert applied.changed and not applied.failed, applied.msg
    assert image_size(ceph, pool, "vol-smoke") == 8 * MiB
    again = run_module("rbd_image", args)
    assert not again.changed and not again.failed, again.msg
    gone = run_module("rbd_image", dict(args, state="absent"))
    assert gone.changed and not gone.failed, gone.msg
    assert image_names(ceph, pool) == []
    bad = run_module("rbd_image", dict(args, size="8 GB"))
    assert bad.failed and "unknown unit" in bad.msg
    assert image_names(ceph, pool) == []


def test_libvirt_family_libvirt_secret_check_apply_idempotent_delete(testenv):
    import libvirt  # pylint: disable=import-outside-toplevel

    secret_uuid = str(uuid.uuid4())
    args = {"uuid": secret_uuid, "usage_name": f"smoke {secret_uuid}",
            "value": "AQAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAA=="}
    conn = libvirt.open(testenv["LIBVIRT_DEFAULT_URI"])
    try:
        check = run_module("libvirt_secret", args, check=True)
        assert check.changed and not check.failed, check.msg
        applied = run_module("libvirt_secret", args)
        assert applied.changed and not applied.failed, applied.msg
        assert conn.secretLookupByUUIDString(secret_uuid).usageID() == f"smoke {secret_uuid}"
        again = run_module("libvirt_secret", args)
        assert not again.changed and not again.failed, again.msg
        gone = run_module("libvirt_secret", {"uuid": secret_uuid, "state": "absent"})
        assert gone.changed and not gone.failed, gone.msg
        assert secret_uuid not in conn.listSecrets()
    finally:
        if secret_uuid in conn.listSecrets():
            conn.secretLookupByUUIDString(secret_uuid).undefine()
        conn.close()


def test_playbook_volumes_yml_and_the_collections_filters(ceph, pool, tmp_path):
    variables = {"volumes_target": "localhost", "volumes_pool": pool,
                 "volumes": [{"name": "vol-pb-1", "size": "8M"}, {"name": "vol-pb-2", "size": "1G"}]}
    applied = run_playbook(COLLECTION_ROOT / "playbooks" / "volumes.yml", extra_vars=variables)
    assert applied["_rc"] == 0, applied.stdout[-3000:]
    assert image_names(ceph, pool) == ["vol-pb-1", "vol-pb-2"]
    [now] = [task for task in applied.tasks if task["_task"] == "Volumes now"]
    assert now["msg"] == ["vol-pb-1: 8 MiB", "vol-pb-2: 1 GiB"]  # the modules' units (human_size)
    again = run_playbook(COLLECTION_ROOT / "playbooks" / "volumes.yml", extra_vars=variables)
    assert again["_rc"] == 0 and not [t["_task"] for t in again.tasks if t.get("changed")]
    play = write_playbook(tmp_path, [{"ansible.builtin.debug": {"msg": [
        "{{ 1073741824 | limiquantix.ceph_rbd.human_size }}",
        "{{ ['[v2:10.0.0.1:3300/0,v1:10.0.0.1:6789/0]'] | limiquantix.ceph_rbd.ceph_mon_host }}"]}}])
    shown = run_playbook(play)
    assert shown["_rc"] == 0 and shown["msg"] == ["1 GiB", "[v2:10.0.0.1:3300,v1:10.0.0.1:6789]"]
    removed = run_playbook(COLLECTION_ROOT / "playbooks" / "volumes.yml", extra_vars=dict(
        variables, volumes=[{"name": "vol-pb-1", "state": "absent"}, {"name": "vol-pb-2", "state": "absent"}]))
    assert removed["_rc"] == 0 and image_names(ceph, pool) == []
