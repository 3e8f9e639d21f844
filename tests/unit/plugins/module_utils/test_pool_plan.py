# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    InUseError,
    InvalidInputError,
    NotFoundError,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.crush import rule_summary
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils import pool_plan
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.pool_changes import pool_change_from_dict
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.pool_plan import (
    check_erasure_min_size,
    check_existing,
    check_profile,
    check_rule,
    default_min_size,
    desired_pool,
    refuse_deleting_contents,
    settings_view,
    wanted_profile,
)


# The plans are typed changes (pool_changes); these tests read and write them as plain data.
def creation(*args):
    create, state = pool_plan.creation(*args)
    return create.as_dict(), state


def plan_changes(*args):
    return [change.as_dict() for change in pool_plan.plan_changes(*args)]


def predict_all(state, changes, defaults):
    return pool_plan.predict_all(state, [pool_change_from_dict(change) for change in changes], defaults)


DEFAULTS = {"size": 3, "min_size": 0, "pg_num": 32, "pg_autoscale_mode": "on", "crush_rule": "replicated_rule"}

EXISTING = {
    "name": "vols", "id": 4, "type": "replicated", "size": 3, "min_size": 2, "pg_num": 32, "pgp_num": 32,
    "pg_autoscale_mode": "off", "target_size_ratio": 0.1, "crush_rule": "replicated_rule",
    "erasure_profile": None, "allow_ec_overwrites": False, "compression_mode": "none",
    "compression_algorithm": None, "applications": ["rbd"], "quota_max_bytes": 0, "quota_max_objects": 0,
    "namespaces": ["a"], "rbd_initialized": True, "stored_bytes": 5, "used_bytes": 15, "objects": 1,
    "max_avail_bytes": 100, "percent_used": 0.0,
}


def params(**given):
    base = {"name": "vols", "application": "rbd", "init": True}
    base.update(given)
    return base


def test_unset_options_are_left_out_of_the_desired_state():
    assert desired_pool(params()) == {"application": "rbd", "init": True}


@pytest.mark.parametrize("name, message", [
    ("a/b", "must not contain '/'"), ("x@y", "must not contain '@'"), ("", "must not be empty"),
])
def test_invalid_pool_names_are_refused(name, message):
    with pytest.raises(InvalidInputError, match=message):
        desired_pool(params(name=name))


@pytest.mark.parametrize("value", [0, -8, True])
def test_pg_num_must_be_a_positive_integer(value):
    with pytest.raises(InvalidInputError, match="pg_num must be a positive integer"):
        desired_pool(params(pg_num=value))


def test_min_size_greater_than_size_is_refused():
    with pytest.raises(InvalidInputError, match=r"min_size \(3\) must not be greater than size \(2\)"):
        desired_pool(params(size=2, min_size=3))


def test_min_size_is_checked_against_the_existing_size():
    with pytest.raises(InvalidInputError, match=r"min_size \(4\) must not be greater than size \(3\)"):
        check_existing("vols", desired_pool(params(min_size=4)), EXISTING)


def test_quota_takes_binary_units_and_namespaces_are_sorted_and_unique():
    wanted = desired_pool(params(quota_max_bytes="2T", namespaces=["b", "a", "b"]))
    assert wanted["quota_max_bytes"] == 2 * 1024 ** 4
    assert wanted["namespaces"] == ["a", "b"]


def test_namespaces_need_the_rbd_application():
    with pytest.raises(InvalidInputError, match="need application 'rbd'"):
        desired_pool(params(application="rgw", namespaces=["a"]))


def test_erasure_options_need_an_erasure_pool_and_a_profile_name():
    with pytest.raises(InvalidInputError, match="needs pool_type 'erasure'"):
        desired_pool(params(erasure_k=2))
    with pytest.raises(InvalidInputError, match="also name it with erasure_profile"):
        desired_pool(params(pool_type="erasure", erasure_k=2))
    with pytest.raises(InvalidInputError, match="do not set size"):
        desired_pool(params(pool_type="erasure", size=3))


def test_pool_type_and_profile_of_an_existing_pool_cannot_change():
    with pytest.raises(InvalidInputError, match="pool_type cannot be changed to erasure"):
        check_existing("vols", desired_pool(params(pool_type="erasure")), EXISTING)
    ec_pool = dict(EXISTING, type="erasure", erasure_profile="k2m1", allow_ec_overwrites=True)
    wanted = desired_pool(params(pool_type="erasure", erasure_profile="k4m2"))
    with pytest.raises(InvalidInputError, match="profile of an existing pool cannot be changed"):
        check_existing("vols", wanted, ec_pool)
    with pytest.raises(InvalidInputError, match="cannot turn them off"):
        check_existing("vols", desired_pool(params(allow_ec_overwrites=False)), ec_pool)


def test_an_existing_profile_is_used_and_never_changed():
    existing = {"name": "k2m1", "k": 2, "m": 1, "failure_domain": "osd"}
    assert check_profile("k2m1", existing, {"k": 2, "m": 1, "failure_domain": "osd"}) is None
    assert check_profile("k2m1", existing, {}) is None
    with pytest.raises(InvalidInputError, match="k is 2 not 4"):
        check_profile("k2m1", existing, {"k": 4})


def test_a_missing_profile_is_created_from_k_and_m_or_refused():
    created = check_profile("k4m2", None, wanted_profile({"erasure_k": 4, "erasure_m": 2}))
    assert created == {"name": "k4m2", "k": 4, "m": 2, "failure_domain": "host"}
    with pytest.raises(NotFoundError, match="profile 'nope' does not exist"):
        check_profile("nope", None, {})


def test_unknown_or_wrong_kind_of_crush_rule_is_refused():
    rules = {"replicated_rule": {"type": "replicated"}, "ec": {"type": "erasure"}}
    check_rule("replicated_rule", rules, "replicated")
    with pytest.raises(NotFoundError, match="CRUSH rule 'ssd' does not exist"):
        check_rule("ssd", rules, "replicated")
    with pytest.raises(InvalidInputError, match="a replicated pool needs a replicated rule"):
        check_rule("ec", rules, "replicated")


def test_new_replicated_pool_gets_the_cluster_defaults_for_unset_options():
    create, state = creation("vols", desired_pool(params(pg_num=128, size=3)), DEFAULTS, None)
    assert create == {"action": "create", "args": {
        "pool": "vols", "pool_type": "replicated", "pg_num": 128, "pgp_num": 128, "size": 3}}
    assert (state["size"], state["min_size"], state["crush_rule"], state["pg_autoscale_mode"]) == (
        3, 2, "replicated_rule", "on")
    assert state["applications"] == [] and state["id"] is None


def test_new_erasure_pool_takes_size_from_the_profile_and_a_rule_named_after_it():
    wanted = desired_pool(params(pool_type="erasure", erasure_profile="k2m1", pg_num=8))
    create, state = creation("ec", wanted, DEFAULTS, {"k": 2, "m": 1})
    assert create["args"]["erasure_code_profile"] == "k2m1"
    assert "size" not in create["args"]
    assert (state["size"], state["min_size"], state["crush_rule"]) == (3, 2, "ec")
    _create, state = creation("ec", wanted, DEFAULTS, {"k": 4, "m": 2})
    assert (state["size"], state["min_size"]) == (6, 5)


def test_new_pool_plan_enables_rbd_initialises_and_sets_the_rest_in_order():
    wanted = desired_pool(params(pg_num=32, size=3, min_size=1, quota_max_objects=10, namespaces=["t1"]))
    _create, state = creation("vols", wanted, DEFAULTS, None)
    changes = plan_changes(state, wanted, DEFAULTS)
    assert changes == [
        {"action": "set", "var": "min_size", "value": 1},
        {"action": "enable_application", "application": "rbd"},
        {"action": "init"},
        {"action": "set_quota", "field": "max_objects", "value": 10},
        {"action": "create_namespace", "namespace": "t1"},
    ]
    after = predict_all(state, changes, DEFAULTS)
    assert after["applications"] == ["rbd"] and after["rbd_initialized"] is True
    assert after["namespaces"] == ["t1"] and after["quota_max_objects"] == 10 and after["min_size"] == 1


def test_existing_pool_matching_the_request_needs_no_change():
    wanted = desired_pool(params(size=3, min_size=2, pg_num=32, target_size_ratio=0.1000000015, namespaces=["a"]))
    assert plan_changes(EXISTING, wanted, DEFAULTS) == []


def test_unset_options_are_never_changed_on_an_existing_pool():
    changes = plan_changes(dict(EXISTING, size=2, min_size=1, quota_max_bytes=7), desired_pool(params()), DEFAULTS)
    assert changes == []


def test_size_change_resets_min_size_as_ceph_does_unless_min_size_is_given():
    after = predict_all(EXISTING, plan_changes(EXISTING, desired_pool(params(size=2)), DEFAULTS),
                        dict(DEFAULTS, min_size=0))
    assert (after["size"], after["min_size"]) == (2, 1)
    changes = plan_changes(EXISTING, desired_pool(params(size=2, min_size=2)), DEFAULTS)
    assert changes == [{"action": "set", "var": "size", "value": 2},
                       {"action": "set", "var": "min_size", "value": 2}]


def test_pgp_num_follows_pg_num_when_they_were_equal():
    changes = plan_changes(EXISTING, desired_pool(params(pg_num=64)), DEFAULTS)
    assert changes == [{"action": "set", "var": "pg_num", "value": 64}]
    assert predict_all(EXISTING, changes, DEFAULTS)["pgp_num"] == 64


def test_pgp_num_stays_when_it_differed_from_pg_num():
    pool = dict(EXISTING, pgp_num=16)
    changes = plan_changes(pool, desired_pool(params(pg_num=64)), DEFAULTS)
    assert predict_all(pool, changes, DEFAULTS)["pgp_num"] == 16


def test_other_applications_are_disabled():
    pool = dict(EXISTING, applications=["rbd", "rgw"])
    assert plan_changes(pool, desired_pool(params()), DEFAULTS) == [
        {"action": "disable_application", "application": "rgw"}]


def test_namespaces_are_only_added():
    changes = plan_changes(EXISTING, desired_pool(params(namespaces=["b"])), DEFAULTS)
    assert changes == [{"action": "create_namespace", "namespace": "b"}]
    assert predict_all(EXISTING, changes, DEFAULTS)["namespaces"] == ["a", "b"]


def test_quota_zero_removes_a_quota():
    pool = dict(EXISTING, quota_max_bytes=1024)
    assert plan_changes(pool, desired_pool(params(quota_max_bytes=0)), DEFAULTS) == [
        {"action": "set_quota", "field": "max_bytes", "value": 0}]


def test_init_is_skipped_for_other_applications():
    pool = dict(EXISTING, applications=[], rbd_initialized=False, namespaces=[])
    assert plan_changes(pool, desired_pool(params(application="rgw")), DEFAULTS) == [
        {"action": "enable_application", "application": "rgw"}]


def test_default_min_size_follows_ceph():
    assert default_min_size(3, 0) == 2
    assert default_min_size(2, 0) == 1
    assert default_min_size(3, 2) == 2
    assert default_min_size(1, 2) == 1


def test_settings_view_drops_usage_counters():
    view = settings_view(EXISTING)
    assert "stored_bytes" not in view and "objects" not in view and view["size"] == 3
    assert settings_view(None) == {}


def test_rule_summary_reads_root_class_and_failure_domain():
    rule = {"rule_id": 2, "rule_name": "ssd", "type": 1, "steps": [
        {"op": "take", "item": -2, "item_name": "default~ssd"},
        {"op": "chooseleaf_firstn", "num": 0, "type": "host"}, {"op": "emit"}]}
    assert rule_summary(rule) == {"name": "ssd", "id": 2, "type": "replicated", "root": "default",
                                  "failure_domain": "host", "device_class": "ssd"}
    plain = dict(rule, steps=[{"op": "take", "item_name": "default"}, {"op": "choose_firstn", "type": "osd"}])
    assert rule_summary(plain)["device_class"] is None


def test_erasure_min_size_must_lie_between_k_and_k_plus_m():
    profile = {"k": 2, "m": 1}
    check_erasure_min_size({"min_size": 2}, profile)
    check_erasure_min_size({}, profile)
    with pytest.raises(InvalidInputError, match="must be between 2 and 3"):
        check_erasure_min_size({"min_size": 1}, profile)


def test_namespaces_are_refused_on_erasure_coded_pools():
    with pytest.raises(InvalidInputError, match="erasure-coded pools lack"):
        desired_pool(params(pool_type="erasure", namespaces=["a"]))
    ec_pool = dict(EXISTING, type="erasure", erasure_profile="k2m1")
    with pytest.raises(InvalidInputError, match="erasure-coded pools lack"):
        check_existing("vols", desired_pool(params(namespaces=["a"])), ec_pool)


def test_deleting_a_pool_with_images_or_objects_is_refused_naming_them():
    refuse_deleting_contents("vols", {"images": [], "objects": 0}, 1000)
    with pytest.raises(InUseError, match=r"holds 1 RBD image\(s\) \(t/vol-1\) and 5 object\(s\)"):
        refuse_deleting_contents("vols", {"images": ["t/vol-1"], "objects": 5}, 1000)
    with pytest.raises(InUseError, match=r"holds 1000 or more object\(s\); not deleted. Set force: true"):
        refuse_deleting_contents("vols", {"images": [], "objects": 1000}, 1000)


def test_settings_not_kept_names_only_requested_settings_the_pool_does_not_hold():
    from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.pool_plan import settings_not_kept

    after = {"quota_max_bytes": 2048, "quota_max_objects": 5, "size": 3, "min_size": 2, "pg_num": 8}
    assert settings_not_kept({"quota_max_bytes": 2048, "size": 3, "pg_num": 16}, after) == []
    assert settings_not_kept({"quota_max_bytes": 1024}, after) == [
        "quota_max_bytes is 2048 after this run, not the requested 1024: another client changed it "
        "meanwhile (the result shows what the cluster holds); run again to converge"]
    assert settings_not_kept({"quota_max_bytes": 1024}, None) == []
