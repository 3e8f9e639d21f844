# SPDX-License-Identifier: GPL-3.0-or-later
"""rbd_pool against the real cluster (3 memstore OSDs): each pool kind, changes, bad input, deletion."""

from __future__ import annotations

import pytest

from .cephstate import (
    create_image,
    create_pool,
    delete_pool,
    erasure_profile,
    mon,
    pool_detail,
    pool_settings,
    rbd_namespaces,
    remove_crush_rule,
    remove_erasure_profile,
    set_monitor_option,
)
from .harness import run_module, run_playbook, write_playbook


@pytest.fixture
def pool_name(ceph, unique_name):
    """A pool name the test may create; the pool is deleted afterwards whatever happens."""
    name = unique_name("pool")
    yield name
    delete_pool(ceph, name)


def converge(args, expect_changed=True):
    """check -> apply -> check again -> apply again; return the applied result.

    The check-mode prediction must equal what the apply returns (except the id of a new
    pool and the usage counters), and the second round must change nothing.
    """
    check = run_module("rbd_pool", args, check=True)
    assert not check.failed, check.msg
    assert check.changed is expect_changed
    applied = run_module("rbd_pool", args)
    assert not applied.failed, applied.msg
    assert applied.changed is expect_changed
    predicted = dict(check.diff["after"], id=applied["pool"]["id"])
    assert predicted == applied.diff["after"]
    for again in (run_module("rbd_pool", args, check=True), run_module("rbd_pool", args)):
        assert not again.failed, again.msg
        assert again.changed is False
        assert again.diff["before"] == again.diff["after"] == applied.diff["after"]
    return applied


def test_standard_replicated_pool_create_change_and_delete(ceph, pool_name):
    # The storage spec's volumes pool (PG count kept small for the test machine).
    args = {"name": pool_name, "pg_num": 16, "size": 3, "min_size": 2, "application": "rbd"}
    first = run_module("rbd_pool", args, check=True)
    assert first.changed and first.diff["before"] == {}
    assert pool_detail(ceph, pool_name) is None, "check mode created the pool"

    created = converge(args)
    pool = created["pool"]
    detail = pool_detail(ceph, pool_name)
    assert pool["id"] == detail["pool_id"]
    assert (detail["size"], detail["min_size"], detail["pg_num_target"]) == (3, 2, 16)
    assert list(detail["application_metadata"]) == ["rbd"]
    assert "selfmanaged_snaps" in detail["flags_names"] and pool["rbd_initialized"] is True
    assert (pool["size"], pool["min_size"], pool["pg_num"], pool["applications"]) == (3, 2, 16, ["rbd"])

    # Change size, min_size, pg_num and the quotas; settings left unset stay as they are.
    change = {"name": pool_name, "size": 2, "min_size": 1, "pg_num": 32,
              "quota_max_bytes": "1G", "quota_max_objects": 500}
    predicted = run_module("rbd_pool", change, check=True)
    assert predicted.changed
    assert pool_settings(ceph, pool_name)["size"] == 3, "check mode changed the pool"
    changed = run_module("rbd_pool", change)
    assert changed.changed and changed.diff["after"] == predicted.diff["after"]
    detail = pool_detail(ceph, pool_name)
    assert (detail["size"], detail["min_size"]) == (2, 1)
    assert (detail["pg_num_target"], detail["pg_placement_num_target"]) == (32, 32)
    assert (detail["quota_max_bytes"], detail["quota_max_objects"]) == (1 << 30, 500)
    assert changed["pool"]["pg_num"] == 32
    again = run_module("rbd_pool", change)
    assert not again.failed and again.changed is False

    # An unrelated run with only the name changes nothing: unset options are never touched.
    untouched = run_module("rbd_pool", {"name": pool_name})
    assert untouched.changed is False
    assert pool_detail(ceph, pool_name)["size"] == 2

    # size alone: Ceph resets min_size to its default for the new size, and check mode says so.
    resized = run_module("rbd_pool", {"name": pool_name, "size": 3}, check=True)
    applied = run_module("rbd_pool", {"name": pool_name, "size": 3})
    assert resized.diff["after"] == applied.diff["after"]
    assert (applied["pool"]["size"], applied["pool"]["min_size"]) == (3, 2)

    # quota 0 removes a quota.
    removed = run_module("rbd_pool", {"name": pool_name, "quota_max_bytes": 0})
    assert removed.changed and pool_detail(ceph, pool_name)["quota_max_bytes"] == 0

    # Delete: check, delete, delete again.
    check = run_module("rbd_pool", {"name": pool_name, "state": "absent"}, check=True)
    assert check.changed and check["pool"] is None and pool_detail(ceph, pool_name) is not None
    gone = run_module("rbd_pool", {"name": pool_name, "state": "absent"})
    assert gone.changed and gone["pool"] is None and gone.diff["after"] == {}
    assert pool_detail(ceph, pool_name) is None
    again = run_module("rbd_pool", {"name": pool_name, "state": "absent"})
    assert not again.failed and again.changed is False


def test_changing_the_application_disables_the_other_one(ceph, pool_name):
    create_pool(ceph, pool_name, pg_num=8, rbd=True)
    args = {"name": pool_name, "application": "rgw"}
    check = run_module("rbd_pool", args, check=True)
    assert check.changed and check["pool"]["applications"] == ["rgw"]
    applied = run_module("rbd_pool", args)
    assert applied.changed and applied.diff["after"] == check.diff["after"]
    assert list(pool_detail(ceph, pool_name)["application_metadata"]) == ["rgw"]
    assert run_module("rbd_pool", args).changed is False


def test_erasure_coded_data_pool(ceph, pool_name):
    profile = f"{pool_name}-k2m1"
    args = {"name": pool_name, "pool_type": "erasure", "erasure_profile": profile, "erasure_k": 2,
            "erasure_m": 1, "erasure_failure_domain": "osd", "allow_ec_overwrites": True, "pg_num": 8}
    try:
        first = run_module("rbd_pool", args, check=True)
        assert first.changed and erasure_profile(ceph, profile) is None, "check mode created the profile"
        created = converge(args)
        pool = created["pool"]
        assert (pool["type"], pool["erasure_profile"], pool["size"], pool["min_size"]) == ("erasure", profile, 3, 2)
        assert pool["allow_ec_overwrites"] is True and pool["crush_rule"] == pool_name
        detail = pool_detail(ceph, pool_name)
        assert detail["type"] == 3 and detail["erasure_code_profile"] == profile
        assert "ec_overwrites" in detail["flags_names"]
        made = erasure_profile(ceph, profile)
        assert (made["k"], made["m"], made["crush-failure-domain"]) == ("2", "1", "osd")

        # The profile of an existing pool and an existing profile are never changed.
        before = pool_settings(ceph, pool_name)
        other = run_module("rbd_pool", dict(args, erasure_profile="default", erasure_k=None, erasure_m=None,
                                            erasure_failure_domain=None))
        assert other.failed and "profile of an existing pool cannot be changed" in other.msg
        different = run_module("rbd_pool", dict(args, erasure_k=3))
        assert different.failed and "exists with other settings (k is 2 not 3)" in different.msg
        to_replicated = run_module("rbd_pool", {"name": pool_name, "pool_type": "replicated"})
        assert to_replicated.failed and "pool_type cannot be changed to replicated" in to_replicated.msg
        below_k = run_module("rbd_pool", {"name": pool_name, "min_size": 1})
        assert below_k.failed and "with k=2, m=1 must be between 2 and 3" in below_k.msg
        assert pool_settings(ceph, pool_name) == before
        assert erasure_profile(ceph, profile) == made

        gone = run_module("rbd_pool", {"name": pool_name, "state": "absent"})
        assert gone.changed and pool_detail(ceph, pool_name) is None
    finally:
        delete_pool(ceph, pool_name)
        remove_crush_rule(ceph, pool_name)
        remove_erasure_profile(ceph, profile)


def test_tenant_pool_with_quota_and_namespaces(ceph, pool_name):
    args = {"name": pool_name, "pg_num": 8, "quota_max_bytes": "10G", "quota_max_objects": 1000,
            "namespaces": ["tenant-a", "tenant-b"], "compression_mode": "aggressive",
            "compression_algorithm": "zstd", "target_size_ratio": 0.1, "pg_autoscale_mode": "warn"}
    created = converge(args)
    assert created["pool"]["namespaces"] == ["tenant-a", "tenant-b"]
    assert rbd_namespaces(ceph, pool_name) == ["tenant-a", "tenant-b"]
    detail = pool_detail(ceph, pool_name)
    assert (detail["quota_max_bytes"], detail["quota_max_objects"]) == (10 << 30, 1000)
    assert detail["options"]["compression_mode"] == "aggressive"
    assert detail["options"]["compression_algorithm"] == "zstd"
    assert abs(detail["options"]["target_size_ratio"] - 0.1) < 1e-6
    assert detail["pg_autoscale_mode"] == "warn"
    assert created["pool"]["target_size_ratio"] == 0.1

    # Adding a namespace and removing the object quota; namespaces not listed are kept.
    change = {"name": pool_name, "quota_max_objects": 0, "namespaces": ["tenant-c"]}
    check = run_module("rbd_pool", change, check=True)
    assert check.changed and rbd_namespaces(ceph, pool_name) == ["tenant-a", "tenant-b"]
    applied = run_module("rbd_pool", change)
    assert applied.changed and applied.diff["after"] == check.diff["after"]
    assert rbd_namespaces(ceph, pool_name) == ["tenant-a", "tenant-b", "tenant-c"]
    assert pool_detail(ceph, pool_name)["quota_max_objects"] == 0
    assert run_module("rbd_pool", change).changed is False

    # A pool holding an image is not deleted without force.
    create_image(ceph, pool_name, "vol-1", 4 << 20, namespace="tenant-a")
    before = pool_settings(ceph, pool_name)
    refused = run_module("rbd_pool", {"name": pool_name, "state": "absent"})
    assert refused.failed
    assert "holds 1 RBD image(s) (tenant-a/vol-1)" in refused.msg and "force: true" in refused.msg
    assert pool_settings(ceph, pool_name) == before
    forced = run_module("rbd_pool", {"name": pool_name, "state": "absent", "force": True})
    assert forced.changed and pool_detail(ceph, pool_name) is None


def test_refused_deletion_names_the_monitor_setting(ceph, pool_name):
    create_pool(ceph, pool_name, pg_num=8)
    set_monitor_option(ceph, "mon_allow_pool_delete", "false")
    try:
        refused = run_module("rbd_pool", {"name": pool_name, "state": "absent"})
    finally:
        set_monitor_option(ceph, "mon_allow_pool_delete", "true")
    assert refused.failed
    assert "mon_allow_pool_delete" in refused.msg and "deletion is disabled" in refused.msg
    assert pool_detail(ceph, pool_name) is not None


BAD_INPUT = [
    ({"name": "a/b"}, "pool name 'a/b' must not contain '/'"),
    ({"name": "x@y"}, "pool name 'x@y' must not contain '@'"),
    ({"name": ""}, "pool name must not be empty"),
    ({"min_size": 3}, "min_size (3) must not be greater than size (2)"),
    ({"size": 3, "min_size": 4, "pg_num": 16}, "min_size (4) must not be greater than size (3)"),
    ({"pg_num": 0, "size": 3}, "pg_num must be a positive integer, got 0"),
    ({"pg_num": -8}, "pg_num must be a positive integer, got -8"),
    ({"pg_num": "many"}, "argument 'pg_num' is of type str"),
    ({"crush_rule": "no-such-rule", "size": 3}, "CRUSH rule 'no-such-rule' does not exist"),
    ({"pool_type": "erasure"}, "pool_type cannot be changed to erasure"),
    ({"quota_max_bytes": "10GB"}, "has an unknown unit 'GB'"),
]


def test_bad_input_is_refused_and_changes_nothing(ceph, pool_name, tmp_path):
    create_pool(ceph, pool_name, pg_num=8)
    mon(ceph, "osd pool set", pool=pool_name, var="size", val="2")
    before = pool_settings(ceph, pool_name)
    # One playbook runs every bad request (one ansible start-up instead of one per case).
    tasks = [{"name": f"bad input {number}", "limiquantix.ceph_rbd.rbd_pool": dict({"name": pool_name}, **args),
              "ignore_errors": True}
             for number, (args, _message) in enumerate(BAD_INPUT)]
    result = run_playbook(write_playbook(tmp_path, tasks))
    assert len(result.tasks) == len(BAD_INPUT)
    for task, (args, message) in zip(result.tasks, BAD_INPUT):
        assert task.get("failed"), (args, task)
        assert message in task.get("msg", ""), (args, task.get("msg"))
    assert pool_settings(ceph, pool_name) == before


def test_unknown_erasure_profile_creates_nothing(ceph, pool_name):
    result = run_module("rbd_pool", {"name": pool_name, "pool_type": "erasure", "erasure_profile": "no-such-profile"})
    assert result.failed
    assert "erasure-code profile 'no-such-profile' does not exist" in result.msg
    assert pool_detail(ceph, pool_name) is None and erasure_profile(ceph, "no-such-profile") is None
