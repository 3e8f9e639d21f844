# SPDX-License-Identifier: GPL-3.0-or-later
"""Security suite, Ceph side (issue 11): a cephx key never on a command line, in output or in a diff.

While every run that handles a key, a thread samples every process's command line
(/proc/*/cmdline). Keys reach the modules the way users give them: ``key:`` from a
vars file (AWX credential) or CEPH_KEY in the environment, never as a CLI argument.
"""

from __future__ import annotations

import pytest

from .cephstate import admin_key, image_names, mon, scratch_rbd_pool
from .harness import FQCN, run_module, run_playbook, write_playbook
from .hypervisor_helpers import CmdlineWatcher


@pytest.fixture(scope="module")
def pool(ceph):
    with scratch_rbd_pool(ceph, "sec-test") as name:
        yield name


@pytest.fixture(scope="module")
def user_key(ceph, pool):
    entity = "client.sec-test"
    key = mon(ceph, "auth get-or-create", entity=entity,
              caps=["mon", "profile rbd", "osd", f"profile rbd pool={pool}", "mgr", f"profile rbd pool={pool}"])[0]["key"]
    yield key
    mon(ceph, "auth rm", entity=entity)


def assert_not_leaked(secrets: list[str], *texts: str) -> None:
    for secret in secrets:
        for text in texts:
            assert secret not in text


def test_keys_never_on_a_command_line_in_verbose_output_or_in_diff(testenv, ceph, pool, user_key, tmp_path):
    admin = admin_key(testenv)
    secrets = [admin, user_key]
    no_keyring = {"CEPH_KEYRING": ""}
    playbook = write_playbook(tmp_path, [
        {"name": "volumes as the rbd user", f"{FQCN}.rbd_image": {
            "pool": pool, "user": "sec-test", "key": "{{ ceph_user_key }}", "size": "8M",
            "images": [{"name": "vol-sec-1"}, {"name": "vol-sec-2", "qos": {"iops_limit": 100}}]}},
        {"name": "one more as admin", f"{FQCN}.rbd_image": {
            "pool": pool, "user": "admin", "key": "{{ ceph_admin_key }}", "name": "vol-sec-4", "size": "16M"}},
        {"name": "pools as admin", f"{FQCN}.rbd_pool_info": {
            "name": pool, "user": "admin", "key": "{{ ceph_admin_key }}"}},
    ])
    extra_vars = {"ceph_user_key": user_key, "ceph_admin_key": admin}
    with CmdlineWatcher(secrets) as sampler:
        applied = run_playbook(playbook, extra_vars=extra_vars, env=dict(no_keyring, ANSIBLE_VERBOSITY="4"))
        checked = run_playbook(playbook, extra_vars=extra_vars, check=True,
                               env=dict(no_keyring, ANSIBLE_VERBOSITY="4"))
        module_runs = [
            run_module("rbd_image", {"pool": pool, "name": "vol-sec-3", "size": "8M", "user": "sec-test"},
                       env=dict(no_keyring, CEPH_KEY=user_key), verbosity=4),
            run_module("rbd_image", {"pool": pool, "name": "vol-sec-3", "state": "absent"},
                       env=dict(no_keyring, CEPH_KEY=admin), verbosity=4, check=True),
            run_module("rbd_snapshot", {"pool": pool, "image": "vol-sec-2", "name": "s1"},
                       env=dict(no_keyring, CEPH_KEY=admin), verbosity=4),
            run_module("rbd_image_info", {"pool": pool, "user": "sec-test"}, env=dict(no_keyring, CEPH_KEY=user_key), verbosity=4),
        ]
    print(f"FIGURE key sampling: {sampler.samples} samples of /proc/*/cmdline, {len(sampler.hits)} hits")
    assert sampler.samples > 10
    assert sampler.hits == []
    assert applied["_rc"] == 0, applied.msg
    assert [bool(t.get("changed")) for t in applied.tasks] == [True, True, False]
    assert [t.get("msg") for t in checked.tasks if t.get("failed")] == []
    for result in module_runs:
        assert not result.failed, result.msg
    assert image_names(ceph, pool) == ["vol-sec-1", "vol-sec-2", "vol-sec-3", "vol-sec-4"]
    for result in [applied, checked] + module_runs:
        assert_not_leaked(secrets, result.stdout, result.stderr)
    assert applied.tasks[1]["diff"], "the create step shows a diff"
    assert "configured module search path" in applied.stdout  # the verbose header: really verbose
