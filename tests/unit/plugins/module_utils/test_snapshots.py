# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from datetime import datetime

import pytest

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    InUseError,
    InvalidInputError,
    NotFoundError,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils import snapshot_changes
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.snapshot_changes import SNAPSHOT_CHANGE_KINDS
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.snapshots import (
    SnapshotTarget,
    child_specs,
    describe_snapshot,
    find_user_snapshot,
    format_timestamp,
)


# The plans are typed changes (snapshot_changes); these tests read and write them as their actions.
def plan_snapshot(*args):
    return [change.describe() for change in snapshot_changes.plan_snapshot(*args)]


def predict_snapshot(before, actions, name, image_size):
    changes = [SNAPSHOT_CHANGE_KINDS[action]() for action in actions]
    return snapshot_changes.predict_snapshot(before, changes, name, image_size)


def apply_snapshot_actions(image, spec, name, actions):
    for action in actions:
        SNAPSHOT_CHANGE_KINDS[action]().apply(SnapshotTarget(image, spec, name))


IMAGE = "images/base"
SNAP = {"name": "golden", "id": 4, "size": 1024, "protected": False,
        "timestamp": "2026-11-25T19:42:24Z", "children": []}
PROTECTED = dict(SNAP, protected=True)
WITH_CHILDREN = dict(PROTECTED, children=["volumes/tenant-a/vol-2", "volumes/vol-1"])


def plan(before, state="present", protected=None, rollback=False, users=()):
    return plan_snapshot(IMAGE, "golden", before, state, protected, rollback, list(users))


def test_missing_snapshot_is_created_and_protected_when_asked():
    assert plan(None) == ["create"]
    assert plan(None, protected=False) == ["create"]
    assert plan(None, protected=True) == ["create", "protect"]


def test_existing_snapshot_needs_nothing_when_protection_matches_or_is_unset():
    assert plan(SNAP) == []
    assert plan(SNAP, protected=False) == []
    assert plan(PROTECTED, protected=True) == []
    assert plan(WITH_CHILDREN) == []


def test_protection_is_changed_both_ways():
    assert plan(SNAP, protected=True) == ["protect"]
    assert plan(PROTECTED, protected=False) == ["unprotect"]


def test_unprotecting_with_children_is_refused_and_lists_them():
    with pytest.raises(InUseError) as error:
        plan(WITH_CHILDREN, protected=False)
    assert "cannot unprotect snapshot images/base@golden" in str(error.value)
    assert "volumes/tenant-a/vol-2, volumes/vol-1" in str(error.value)
    assert error.value.details["children"] == WITH_CHILDREN["children"]


def test_removal_unprotects_first_and_missing_snapshot_needs_nothing():
    assert plan(SNAP, state="absent") == ["remove"]
    assert plan(PROTECTED, state="absent") == ["unprotect", "remove"]
    assert plan(None, state="absent") == []


def test_removal_with_children_is_refused_and_lists_them():
    with pytest.raises(InUseError) as error:
        plan(WITH_CHILDREN, state="absent")
    assert str(error.value) == (
        "cannot remove snapshot images/base@golden: it has clone children: "
        "volumes/tenant-a/vol-2, volumes/vol-1; flatten or remove them first"
    )


def test_rollback_is_always_an_action_after_protection_changes():
    assert plan(SNAP, rollback=True) == ["rollback"]
    assert plan(SNAP, protected=True, rollback=True) == ["protect", "rollback"]


def test_rollback_of_an_image_in_use_is_refused_and_names_the_users():
    users = ["127.0.0.1:0/1238 (watcher)", "client.4150 (10.0.0.5:0/77) (lock owner)"]
    with pytest.raises(InUseError) as error:
        plan(SNAP, rollback=True, users=users)
    assert "cannot roll back image images/base to snapshot golden: the image is in use by" in str(error.value)
    assert "127.0.0.1:0/1238 (watcher), client.4150" in str(error.value)
    assert error.value.details["users"] == users


def test_image_users_do_not_matter_without_rollback():
    assert plan(SNAP, protected=True, users=["127.0.0.1:0/1 (watcher)"]) == ["protect"]


def test_rollback_to_a_missing_snapshot_is_refused():
    with pytest.raises(NotFoundError, match="cannot roll back to snapshot images/base@golden: it does not exist"):
        plan(None, rollback=True)


@pytest.mark.parametrize("protected, rollback, message", [
    (True, False, "protected=true contradicts state=absent"),
    (None, True, "rollback=true needs state=present"),
])
def test_contradicting_options_are_refused(protected, rollback, message):
    with pytest.raises(InvalidInputError, match=message):
        plan(SNAP, state="absent", protected=protected, rollback=rollback)


def test_prediction_of_a_new_snapshot_has_no_id_nor_timestamp():
    assert predict_snapshot(None, ["create", "protect"], "golden", 2048) == {
        "name": "golden", "id": None, "size": 2048, "protected": True, "timestamp": None, "children": []}
    assert predict_snapshot(None, ["create"], "golden", 2048)["protected"] is False


def test_prediction_follows_protection_removal_and_rollback():
    assert predict_snapshot(SNAP, ["protect"], "golden", 1) == PROTECTED
    assert predict_snapshot(PROTECTED, ["unprotect"], "golden", 1) == SNAP
    assert predict_snapshot(PROTECTED, ["unprotect", "remove"], "golden", 1) is None
    assert predict_snapshot(SNAP, ["rollback"], "golden", 1) == SNAP
    assert predict_snapshot(None, [], "golden", 1) is None
    assert predict_snapshot(SNAP, [], "golden", 1) == SNAP


def test_children_are_named_as_image_specs_and_trash_is_marked():
    children = [
        {"pool": "volumes", "pool_namespace": "", "image": "vol-1", "id": "a1", "trash": False},
        {"pool": "volumes", "pool_namespace": "tenant-a", "image": "vol-2", "id": "b2", "trash": False},
        {"pool": "volumes", "pool_namespace": "", "image": "old", "id": "c3", "trash": True},
    ]
    assert child_specs(children) == ["volumes/old (in trash)", "volumes/tenant-a/vol-2", "volumes/vol-1"]


def test_describe_snapshot_formats_the_timestamp_in_utc():
    entry = {"id": 4, "size": 1024, "name": "golden", "namespace": 0}
    assert describe_snapshot(entry, 1, datetime(2026, 11, 25, 19, 42, 24, 512), ["b", "a"]) == dict(
        SNAP, protected=True, children=["a", "b"])
    assert format_timestamp(None) is None


def test_only_user_snapshots_are_found_by_name():
    entries = [{"id": 1, "name": "golden", "size": 1, "namespace": 3},
               {"id": 2, "name": "golden", "size": 1, "namespace": 0}]
    assert find_user_snapshot(entries, "golden")["id"] == 2
    assert find_user_snapshot(entries, "other") is None


class RecordingImage:
    """Stands in for rbd.Image: records the snapshot calls."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, method):
        return lambda name: self.calls.append((method, name))


def test_actions_are_applied_in_order_with_the_librbd_calls():
    image = RecordingImage()
    apply_snapshot_actions(image, "images/base@golden", "golden", ["create", "protect", "rollback"])
    apply_snapshot_actions(image, "images/base@golden", "golden", ["unprotect", "remove"])
    assert image.calls == [("create_snap", "golden"), ("protect_snap", "golden"), ("rollback_to_snap", "golden"),
                           ("unprotect_snap", "golden"), ("remove_snap", "golden")]
