# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import json

import pytest

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.attachment_records import (
    attachment_blocker,
    attachment_key,
    attachment_value,
    images_in_use,
    parse_attachments,
    plan_attachment_record,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InUseError, InvalidInputError
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_plan import deletion_plan, dict_changes
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_request import (
    normalize_metadata,
    split_image_metadata,
)

UUID_1 = "5b0c4d1e-1111-4a57-9b32-8f1d2c3e4a51"
UUID_2 = "5b0c4d1e-2222-4a57-9b32-8f1d2c3e4a51"


def record(host, domain, uuid):
    return attachment_key(uuid), attachment_value(host, domain, uuid)


def state(*records):
    return {"id": "abc123", "records": parse_attachments(records)}


def test_records_are_read_from_metadata_and_other_keys_are_ignored():
    entries = [("owner", "team-a"), record("hv2", "vm-2", UUID_2), record("hv1", "vm-1", UUID_1),
               ("conf_rbd_qos_iops_limit", "100")]
    assert [(r["host"], r["domain"], r["uuid"]) for r in parse_attachments(entries)] == [
        ("hv1", "vm-1", UUID_1), ("hv2", "vm-2", UUID_2)]


def test_an_unreadable_record_still_blocks_a_deletion():
    records = parse_attachments([(attachment_key(UUID_1), "not json"), (attachment_key(UUID_2), "[1]")])
    assert len(records) == 2
    assert "(unreadable record)" in attachment_blocker(records) and UUID_1 in attachment_blocker(records)


def test_the_blocker_names_host_and_domain_and_the_way_out():
    text = attachment_blocker(parse_attachments([record("hv-2", "vm-1001", UUID_1)]))
    assert "domain vm-1001 on host hv-2" in text and "libvirt_rbd_disk state: absent" in text
    assert attachment_blocker([]) is None and attachment_blocker(None) is None


def test_a_record_value_is_json_without_surprises():
    hostile = 'vm"\n[client.admin]\\'
    assert json.loads(attachment_value("hv1", hostile, UUID_1)) == {"host": "hv1", "domain": hostile, "uuid": UUID_1}


def test_attaching_records_once_and_a_changed_host_is_rewritten():
    change = plan_attachment_record(state(), "hv1", "vm-1", UUID_1, attached=True)
    assert change["set"] == dict([record("hv1", "vm-1", UUID_1)]) and change["remove"] == []
    assert plan_attachment_record(state(record("hv1", "vm-1", UUID_1)), "hv1", "vm-1", UUID_1, True) is None
    migrated = plan_attachment_record(state(record("hv1", "vm-1", UUID_1)), "hv2", "vm-1", UUID_1, True)
    assert migrated["set"] == dict([record("hv2", "vm-1", UUID_1)])


def test_detaching_removes_only_this_domains_record():
    current = state(record("hv1", "vm-1", UUID_1), record("hv2", "vm-2", UUID_2))
    change = plan_attachment_record(current, "hv1", "vm-1", UUID_1, attached=False)
    assert change == {"set": {}, "remove": [attachment_key(UUID_1)], "host": "hv1", "domain": "vm-1"}
    assert plan_attachment_record(current, "hv3", "vm-3", UUID_1.replace("1111", "3333"), False) is None


def test_a_redefined_domain_of_the_same_name_on_the_same_host_replaces_the_stale_record():
    current = state(record("hv1", "vm-1", UUID_1), record("hv2", "vm-1", UUID_2))
    change = plan_attachment_record(current, "hv1", "vm-1", "new-uuid", attached=True)
    assert change["set"] == dict([record("hv1", "vm-1", "new-uuid")])
    assert change["remove"] == [attachment_key(UUID_1)]  # hv2's vm-1 is another domain


def test_a_missing_domain_clears_the_records_naming_it_on_this_host_only():
    current = state(record("hv1", "vm-1", UUID_1), record("hv2", "vm-1", UUID_2))
    change = plan_attachment_record(current, "hv1", "vm-1", "", attached=False)
    assert change["remove"] == [attachment_key(UUID_1)] and change["set"] == {}
    assert plan_attachment_record(None, "hv1", "vm-1", "", attached=False) is None


def test_images_in_use_predicts_a_detach():
    disks = [
        {"target": "vdb", "pool": "p", "namespace": "", "image": "a", "scopes": ["live", "config"]},
        {"target": "vdc", "pool": "p", "namespace": "", "image": "b", "scopes": ["config"]},
        {"target": "vdd", "pool": "p", "namespace": "", "image": "a", "scopes": ["config"]},
    ]
    assert images_in_use(disks) == {("p", "", "a"), ("p", "", "b")}
    assert images_in_use(disks, "vdc", ["config"]) == {("p", "", "a")}
    assert images_in_use(disks, "vdb", ["live"]) == {("p", "", "a"), ("p", "", "b")}
    assert images_in_use(disks[:1], "vdb", ["live", "config"]) == set()


def test_reserved_keys_are_neither_user_metadata_nor_settable():
    qos, metadata = split_image_metadata([("owner", "a"), record("hv1", "vm-1", UUID_1), ("limiquantix.x", "y")])
    assert metadata == {"owner": "a"} and qos == {}
    assert dict_changes(metadata, {}) == ({}, ["owner"])  # declarative metadata never removes a record
    with pytest.raises(InvalidInputError, match="reserves for its own records"):
        normalize_metadata({"limiquantix.attached/x": "1"})
    assert normalize_metadata({"limiquantix": "1", "my.limiquantix.key": "2"}) == {
        "limiquantix": "1", "my.limiquantix.key": "2"}


def test_a_recorded_attachment_refuses_deletion_and_trash():
    current = {"snapshots": []}
    users = {"watchers": [], "lockers": [], "children": [],
             "attachments": parse_attachments([record("hv2", "vm-7", UUID_1)])}
    for trash in (False, True):
        request = {"pool": "p", "namespace": "", "name": "vol-7", "trash": trash, "force": True}
        with pytest.raises(InUseError, match="domain vm-7 on host hv2"):
            deletion_plan(request, current, users)
    free = dict(users, attachments=[])
    plan = deletion_plan({"pool": "p", "namespace": "", "name": "v", "trash": False, "force": False}, current, free)
    assert [change.as_dict() for change in plan] == [{"action": "remove"}]
