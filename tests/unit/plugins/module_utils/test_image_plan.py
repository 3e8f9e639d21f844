# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils import image_plan
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InUseError, InvalidInputError
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_changes import change_from_dict
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_plan import (
    clone_format,
    deletion_blockers,
    dict_changes,
    feature_changes,
    new_image_dict,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_request import (
    feature_bits,
    feature_names,
    merge_item,
    normalize_metadata,
    normalize_qos,
    normalize_request,
    normalize_requests,
    parse_clone_from,
    split_image_metadata,
    validate_features,
)


# The plans are typed changes (image_changes); these tests read and write them as plain data.
def plan_image(*args, **kwargs):
    return [change.as_dict() for change in image_plan.plan_image(*args, **kwargs)]


def deletion_plan(*args):
    return [change.as_dict() for change in image_plan.deletion_plan(*args)]


def predict_image(current, wanted, changes, *args):
    return image_plan.predict_image(current, wanted, [change_from_dict(change) for change in changes], *args)


def describe_change(spec, change):
    return image_plan.describe_change(spec, change_from_dict(change))


DEFAULTS = {"pool": "vols", "namespace": "", "state": "present"}


def request(**options):
    return normalize_request(merge_item(DEFAULTS, dict({"name": "vol-1"}, **options)))


def existing(**overrides):
    image = new_image_dict(request(size="10G"), None)
    image.update(id="abc", **overrides)
    return image


# ---------------------------------------------------------------- input


@pytest.mark.parametrize("name, text", [
    ("a/b", "must not contain '/'"), ("a@b", "must not contain '@'"), ("a:b", "must not contain ':'"),
    ("a b", "whitespace"), ("a\x00b", "NUL"),
])
def test_bad_image_names_are_refused(name, text):
    with pytest.raises(InvalidInputError, match=text):
        request(name=name, size="1G")


@pytest.mark.parametrize("size, text", [
    (0, "greater than 0"), (-1, "must not be negative"), ("10Q", "unknown unit"), ("1.5G", "is not a size"),
])
def test_bad_sizes_are_refused(size, text):
    with pytest.raises(InvalidInputError, match=text):
        request(size=size)


def test_sizes_use_binary_units():
    assert request(size="10G")["size"] == 10 * 1024 ** 3


def test_unknown_feature_is_refused_listing_the_known_ones():
    with pytest.raises(InvalidInputError, match="unknown feature 'turbo': choose from layering"):
        validate_features(["layering", "turbo"])


def test_feature_dependencies_are_checked():
    with pytest.raises(InvalidInputError, match="'fast-diff' needs 'object-map'"):
        validate_features(["layering", "exclusive-lock", "fast-diff"])
    with pytest.raises(InvalidInputError, match="'object-map' needs 'exclusive-lock'"):
        validate_features(["object-map", "fast-diff"])
    with pytest.raises(InvalidInputError, match="'object-map' goes with 'fast-diff'"):
        validate_features(["layering", "exclusive-lock", "object-map"])


def test_layout_features_cannot_be_requested_directly():
    with pytest.raises(InvalidInputError, match="set data_pool"):
        validate_features(["data-pool"])


def test_feature_bits_round_trip():
    assert feature_bits(["layering", "exclusive-lock", "object-map", "fast-diff"]) == 29
    assert feature_names(29 | 128) == ["data-pool", "exclusive-lock", "fast-diff", "layering", "object-map"]


@pytest.mark.parametrize("object_size", ["3M", "64M", "2K"])
def test_object_size_must_be_a_power_of_two_in_range(object_size):
    with pytest.raises(InvalidInputError, match="power of two"):
        request(size="1G", object_size=object_size)


def test_stripe_unit_must_divide_the_object_size():
    with pytest.raises(InvalidInputError, match="must divide object_size"):
        request(size="1G", stripe_unit="3M")


def test_clone_from_string_and_dict():
    assert parse_clone_from("images/tenant/golden@base") == {
        "pool": "images", "namespace": "tenant", "image": "golden", "snapshot": "base"}
    assert parse_clone_from({"pool": "images", "image": "golden", "snapshot": "base"})["namespace"] == ""
    with pytest.raises(InvalidInputError, match="names no snapshot"):
        parse_clone_from("images/golden")
    with pytest.raises(InvalidInputError, match="needs 'snapshot'"):
        parse_clone_from({"pool": "images", "image": "golden"})


def test_qos_keys_values_and_sizes():
    assert normalize_qos({"iops_limit": 100, "rbd_qos_bps_limit": "10M", "read_iops_burst": "5"}) == {
        "iops_limit": 100, "bps_limit": 10 * 1024 ** 2, "read_iops_burst": 5}
    with pytest.raises(InvalidInputError, match="unknown qos setting 'iops'"):
        normalize_qos({"iops": 1})
    with pytest.raises(InvalidInputError, match="whole number"):
        normalize_qos({"iops_limit": -1})


def test_metadata_refuses_config_keys_and_nested_values():
    assert normalize_metadata({"tenant": "acme", "n": 3}) == {"tenant": "acme", "n": "3"}
    with pytest.raises(InvalidInputError, match="reserves"):
        normalize_metadata({"conf_rbd_cache": "false"})
    with pytest.raises(InvalidInputError, match="string or a number"):
        normalize_metadata({"a": {"b": 1}})


def test_batch_items_take_task_defaults_and_errors_name_the_item():
    requests = normalize_requests(dict(DEFAULTS, size="1G", qos={"iops_limit": 1}),
                                  [{"name": "a"}, {"name": "b", "size": "2G", "qos": {}}])
    assert [r["size"] for r in requests] == [1024 ** 3, 2 * 1024 ** 3]
    assert [r["qos"] for r in requests] == [{"iops_limit": 1}, {}]
    with pytest.raises(InvalidInputError, match=r"images\[1\] \('b/c'\): image name 'b/c' must not contain '/'"):
        normalize_requests(DEFAULTS, [{"name": "a"}, {"name": "b/c"}])
    with pytest.raises(InvalidInputError, match="listed more than once"):
        normalize_requests(DEFAULTS, [{"name": "a"}, {"name": "a"}])


def test_an_empty_batch_is_nothing_to_do_and_the_single_form_needs_a_name():
    assert normalize_requests(DEFAULTS, []) == []
    with pytest.raises(InvalidInputError, match="name is required"):
        normalize_requests(DEFAULTS, None)


# ---------------------------------------------------------------- plans

def test_create_needs_a_size_unless_cloning():
    with pytest.raises(InvalidInputError, match="size is required"):
        plan_image(None, request())
    assert plan_image(None, request(size="1G")) == [{"action": "create"}]


def test_nothing_to_do_when_the_image_matches():
    assert plan_image(existing(), request(size="10G", features=["layering", "exclusive-lock",
                                                                "object-map", "fast-diff"])) == []
    assert plan_image(existing(), request()) == []


def test_grow_is_planned():
    assert plan_image(existing(), request(size="20G")) == [
        {"action": "resize", "from": 10 * 1024 ** 3, "to": 20 * 1024 ** 3}]


def test_shrink_is_refused_without_allow_shrink():
    with pytest.raises(InvalidInputError, match="shrinking it to 5 GiB destroys data.*allow_shrink"):
        plan_image(existing(), request(size="5G"))
    assert plan_image(existing(), request(size="5G", allow_shrink=True))[0]["to"] == 5 * 1024 ** 3


def test_clone_shrinking_below_the_parent_is_refused():
    with pytest.raises(InvalidInputError, match="shrinking"):
        plan_image(None, request(clone_from="img/golden@base", size="1G"), parent_size=2 * 1024 ** 3)
    assert plan_image(None, request(clone_from="img/golden@base", size="2G"), parent_size=2 * 1024 ** 3) == [
        {"action": "clone"}]


def test_feature_changes_are_ordered_for_librbd():
    assert feature_changes(["layering", "exclusive-lock"], ["layering", "exclusive-lock", "object-map", "fast-diff"]) \
        == (["object-map", "fast-diff"], [])
    assert feature_changes(["layering", "exclusive-lock", "object-map", "fast-diff"], ["layering"]) \
        == ([], ["fast-diff", "object-map", "exclusive-lock"])
    assert feature_changes(["layering", "exclusive-lock", "data-pool", "striping"], ["layering", "exclusive-lock"]) \
        == ([], [])


@pytest.mark.parametrize("current, wanted, text", [
    (["layering"], [], "'layering' cannot be disabled"),
    ([], ["layering"], "'layering' cannot be enabled"),
    (["layering"], ["layering", "deep-flatten"], "'deep-flatten' cannot be enabled"),
])
def test_immutable_features_are_refused(current, wanted, text):
    with pytest.raises(InvalidInputError, match=text):
        feature_changes(current, wanted)


def test_deep_flatten_can_be_disabled():
    assert feature_changes(["layering", "deep-flatten"], ["layering"]) == ([], ["deep-flatten"])


def test_layout_cannot_change_on_an_existing_image():
    with pytest.raises(InvalidInputError, match="object_size is 4194304, requested 8388608"):
        plan_image(existing(), request(object_size="8M"))
    with pytest.raises(InvalidInputError, match="data_pool is None, requested 'ec'"):
        plan_image(existing(), request(data_pool="ec"))


def test_qos_and_metadata_are_declarative_only_when_given():
    image = existing(qos={"iops_limit": 100, "bps_limit": 5}, metadata={"a": "1", "b": "2"})
    assert plan_image(image, request()) == []
    assert plan_image(image, request(qos={"iops_limit": 200}, metadata={})) == [
        {"action": "qos", "set": {"iops_limit": 200}, "remove": ["bps_limit"]},
        {"action": "metadata", "set": {}, "remove": ["a", "b"]},
    ]
    assert dict_changes({"a": 1}, None) == ({}, [])


def test_flatten_only_a_clone():
    parent = {"pool": "img", "namespace": "", "image": "golden", "snapshot": "base"}
    assert plan_image(existing(), request(flatten=True)) == []
    assert plan_image(existing(parent=parent), request(flatten=True)) == [{"action": "flatten"}]
    assert plan_image(None, request(clone_from="img/golden@base", flatten=True), parent_size=1) == [
        {"action": "clone"}, {"action": "flatten"}]


def test_absent_plans_remove_or_trash_and_nothing_when_missing():
    assert plan_image(None, request(state="absent")) == []
    assert plan_image(existing(), request(state="absent")) == [{"action": "remove"}]
    assert plan_image(existing(), request(state="absent", trash=True)) == [{"action": "trash"}]


# ---------------------------------------------------------------- predictions

def test_prediction_applies_every_change():
    image = existing(qos={"bps_limit": 5}, metadata={"a": "1"},
                     parent={"pool": "img", "namespace": "", "image": "g", "snapshot": "s"})
    wanted = request(size="20G", features=["layering", "exclusive-lock"], qos={"iops_limit": 9},
                     metadata={"b": "2"}, flatten=True)
    after = predict_image(image, wanted, plan_image(image, wanted))
    assert after["size"] == after["provisioned_bytes"] == 20 * 1024 ** 3
    assert after["features"] == ["exclusive-lock", "layering"]
    assert after["qos"] == {"iops_limit": 9}
    assert after["metadata"] == {"b": "2"}
    assert after["parent"] is None
    assert image["size"] == 10 * 1024 ** 3  # the current image is not modified


def test_prediction_of_a_new_image_and_of_a_clone():
    new = predict_image(None, request(size="1G", stripe_unit="1M", stripe_count=4, data_pool="ec"), [{"action": "create"}])
    assert new["id"] is None
    assert new["features"] == ["data-pool", "exclusive-lock", "fast-diff", "layering", "object-map", "striping"]
    assert (new["object_size"], new["stripe_unit"], new["stripe_count"]) == (4194304, 1048576, 4)
    clone = request(clone_from="img/golden@base")
    after = predict_image(None, clone, [{"action": "clone"}], {"size": 5, "object_size": 1 << 23})
    assert (after["size"], after["object_size"]) == (5, 1 << 23)
    assert after["parent"]["image"] == "golden"
    assert predict_image(existing(), request(state="absent"), [{"action": "remove"}]) is None


def test_split_image_metadata_separates_qos_and_config():
    assert split_image_metadata([("conf_rbd_qos_iops_limit", "100"), ("conf_rbd_cache", "false"), ("k", "v")]) \
        == ({"iops_limit": 100}, {"k": "v"})


def test_deletion_blockers_name_who_holds_the_image():
    assert deletion_blockers("p/i", [], [], []) is None
    text = deletion_blockers("p/i", ["client.4166 (127.0.0.1:0/1)"], ["client.4166 (127.0.0.1:0/1)"], ["p/child"])
    assert "image p/i is in use" in text
    assert "watchers) client.4166 (127.0.0.1:0/1)" in text
    assert "clone children p/child" in text


def test_clone_format_follows_the_setting_and_min_compat_client():
    assert clone_format("auto", "luminous") == 1
    assert clone_format("auto", "mimic") == 2
    assert clone_format("auto", "reef") == 2
    assert clone_format("2", "jewel") == 2
    assert clone_format("1", "reef") == 1


def test_describe_change_lines():
    assert describe_change("p/i", {"action": "resize", "from": 1024 ** 3, "to": 2 * 1024 ** 3}) \
        == "p/i: resize from 1 GiB to 2 GiB"
    assert describe_change("p/i", {"action": "qos", "set": {"a": 1}, "remove": ["b"]}) == "p/i: qos set a; remove b"


NOBODY = {"watchers": [], "lockers": [], "children": []}


def test_deletion_is_refused_while_in_use_even_with_force_or_trash():
    users = dict(NOBODY, watchers=["client.7 (10.0.0.1:0/1)"])
    for options in ({}, {"force": True}, {"trash": True}):
        with pytest.raises(InUseError, match=r"vols/vol-1 is in use.*client\.7"):
            deletion_plan(request(state="absent", **options), existing(), users)


def test_snapshots_are_deleted_only_with_force_and_protected_ones_unprotected():
    image = existing(snapshots=[{"name": "a", "id": 1, "size": 1, "protected": True},
                                {"name": "b", "id": 2, "size": 1, "protected": False}])
    with pytest.raises(InUseError, match="has snapshots a, b: set force: true"):
        deletion_plan(request(state="absent"), image, NOBODY)
    assert deletion_plan(request(state="absent", force=True), image, NOBODY) == [
        {"action": "remove_snapshots", "snapshots": ["a", "b"], "unprotect": ["a"]}, {"action": "remove"}]
    assert deletion_plan(request(state="absent", trash=True), image, NOBODY) == [{"action": "trash"}]


def test_a_volume_used_by_a_libvirt_domain_is_never_deleted():
    from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_plan import deletion_blockers

    message = deletion_blockers("p/vol-1", [], [], [], ["vm-1 (defined, not running)"])
    assert message == ("image p/vol-1 is in use, refusing to delete it: used by libvirt domain(s) "
                       "vm-1 (defined, not running) on this host (detach the disk first)")
    assert deletion_blockers("p/vol-1", [], [], [], []) is None
