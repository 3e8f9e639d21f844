# SPDX-License-Identifier: GPL-3.0-or-later
"""rbd_snapshot against the real cluster: lifecycle, golden-image clones, rollback, refusals.

Images, clones and data are made with librbd in this process (cephstate helpers),
so these tests depend on rbd_snapshot alone.
"""

from __future__ import annotations

import pytest

from .cephstate import (
    clone_image,
    create_image,
    flatten_image,
    image_held_open,
    image_names,
    image_parent,
    image_size,
    image_snapshots,
    read_image,
    remove_image,
    resize_image,
    scratch_rbd_pool,
    write_image,
)
from .harness import run_module, run_playbook, write_playbook

MIB = 1024 * 1024
TENANT = "tenant-a"


@pytest.fixture(scope="module")
def pool(ceph):
    """One RBD pool (with namespace tenant-a) for the tests of this file."""
    with scratch_rbd_pool(ceph, "snap-tests", namespaces=(TENANT,)) as name:
        yield name


@pytest.fixture
def image(ceph, pool, unique_name):
    """A fresh 8 MiB image in the pool."""
    name = unique_name("img")
    create_image(ceph, pool, name, 8 * MIB)
    return name


def snapshot_args(pool, image, name, **options):
    return dict(pool=pool, image=image, name=name, **options)


def test_snapshot_and_protection_lifecycle(ceph, pool, image):
    args = snapshot_args(pool, image, "daily")

    check = run_module("rbd_snapshot", args, check=True)
    assert not check.failed, check.msg
    assert check.changed and check["actions"] == ["create"]
    assert check["snapshot"] == {"name": "daily", "id": None, "size": 8 * MIB, "protected": False,
                                 "timestamp": None, "children": []}
    assert check.diff == {"before": {}, "after": check["snapshot"]}
    assert image_snapshots(ceph, pool, image) == {}

    created = run_module("rbd_snapshot", args)
    assert created.changed and created["actions"] == ["create"]
    real = image_snapshots(ceph, pool, image)
    assert real == {"daily": {"id": created["snapshot"]["id"], "size": 8 * MIB, "protected": False}}
    snap = created["snapshot"]
    assert snap["timestamp"].endswith("Z") and snap["children"] == [] and snap["protected"] is False
    assert created.diff == {"before": {}, "after": snap}

    for check_mode in (True, False):
        again = run_module("rbd_snapshot", args, check=check_mode)
        assert not again.changed and again["actions"] == []
        assert again["snapshot"] == snap
        assert again.diff["before"] == again.diff["after"] == snap

    protect_check = run_module("rbd_snapshot", dict(args, protected=True), check=True)
    assert protect_check.changed and protect_check["actions"] == ["protect"]
    assert protect_check.diff == {"before": snap, "after": dict(snap, protected=True)}
    assert image_snapshots(ceph, pool, image)["daily"]["protected"] is False

    protected = run_module("rbd_snapshot", dict(args, protected=True))
    assert protected.changed and protected["snapshot"] == dict(snap, protected=True)
    assert image_snapshots(ceph, pool, image)["daily"]["protected"] is True
    assert not run_module("rbd_snapshot", dict(args, protected=True)).changed

    unprotected = run_module("rbd_snapshot", dict(args, protected=False))
    assert unprotected.changed and unprotected["actions"] == ["unprotect"]
    assert unprotected.diff == {"before": dict(snap, protected=True), "after": snap}
    assert image_snapshots(ceph, pool, image)["daily"]["protected"] is False
    assert not run_module("rbd_snapshot", dict(args, protected=False)).changed

    # A protected snapshot without children is unprotected, then removed.
    assert run_module("rbd_snapshot", dict(args, protected=True)).changed
    delete_check = run_module("rbd_snapshot", dict(args, state="absent"), check=True)
    assert delete_check.changed and delete_check["actions"] == ["unprotect", "remove"]
    assert delete_check["snapshot"] is None
    assert delete_check.diff == {"before": dict(snap, protected=True), "after": {}}
    assert "daily" in image_snapshots(ceph, pool, image)

    deleted = run_module("rbd_snapshot", dict(args, state="absent"))
    assert deleted.changed and deleted["actions"] == ["unprotect", "remove"]
    assert deleted["snapshot"] is None
    assert image_snapshots(ceph, pool, image) == {}

    deleted_again = run_module("rbd_snapshot", dict(args, state="absent"))
    assert not deleted_again.failed and not deleted_again.changed
    assert deleted_again.diff == {"before": {}, "after": {}}


def test_bad_input_is_refused_and_changes_nothing(ceph, pool, image, tmp_path):
    connection = {}
    tasks = [
        {"name": f"bad name {bad}", "ignore_errors": True,
         "limiquantix.ceph_rbd.rbd_snapshot": dict(connection, pool=pool, image=image, name=bad)}
        for bad in ("a/b", "a@b", "a:b")
    ] + [
        {"name": "missing image", "ignore_errors": True,
         "limiquantix.ceph_rbd.rbd_snapshot": {"pool": pool, "image": "no-such-image", "name": "s"}},
        {"name": "missing image, absent", "ignore_errors": True,
         "limiquantix.ceph_rbd.rbd_snapshot": {"pool": pool, "image": "no-such-image", "name": "s",
                                               "state": "absent"}},
        {"name": "rollback to a missing snapshot", "ignore_errors": True,
         "limiquantix.ceph_rbd.rbd_snapshot": {"pool": pool, "image": image, "name": "s", "rollback": True}},
        {"name": "rollback while removing", "ignore_errors": True,
         "limiquantix.ceph_rbd.rbd_snapshot": {"pool": pool, "image": image, "name": "s", "rollback": True,
                                               "state": "absent"}},
    ]
    images_before = image_names(ceph, pool)
    result = run_playbook(write_playbook(tmp_path, tasks))
    slash, at, colon, missing, missing_absent, no_snapshot, contradiction = result.tasks

    assert slash["failed"] and slash["msg"] == "snapshot name 'a/b' must not contain '/'"
    assert at["failed"] and at["msg"] == "snapshot name 'a@b' must not contain '@'"
    assert colon["failed"] and colon["msg"] == "snapshot name 'a:b' must not contain ':'"
    assert missing["failed"] and missing["msg"] == f"image {pool}/no-such-image does not exist"
    assert not missing_absent.get("failed") and not missing_absent["changed"]
    assert missing_absent["snapshot"] is None
    assert no_snapshot["failed"]
    assert no_snapshot["msg"] == f"cannot roll back to snapshot {pool}/{image}@s: it does not exist"
    assert contradiction["failed"] and "rollback=true needs state=present" in contradiction["msg"]

    assert image_snapshots(ceph, pool, image) == {}
    assert image_names(ceph, pool) == images_before


def test_golden_image_flow_clones_share_the_base_data(ceph, pool, unique_name):
    base = unique_name("golden")
    create_image(ceph, pool, base, 8 * MIB, namespace=TENANT)
    os_blocks = {0: b"BOOT" * 1024, 5 * MIB: b"ROOTFS" * 700}
    for offset, data in os_blocks.items():
        write_image(ceph, pool, base, data, offset, namespace=TENANT)
    args = snapshot_args(pool, base, "protected-for-cloning", namespace=TENANT, protected=True)

    made = run_module("rbd_snapshot", args)
    assert made.changed and made["actions"] == ["create", "protect"]
    assert image_snapshots(ceph, pool, base, TENANT)["protected-for-cloning"]["protected"] is True

    volumes = sorted([unique_name("vol"), unique_name("vol")])
    for volume in volumes:
        clone_image(ceph, pool, base, "protected-for-cloning", volume, namespace=TENANT)
        resize_image(ceph, pool, volume, 16 * MIB, namespace=TENANT)
    children = [f"{pool}/{TENANT}/{volume}" for volume in volumes]

    for volume in volumes:
        assert image_parent(ceph, pool, volume, TENANT) == f"{pool}/{TENANT}/{base}@protected-for-cloning"
        assert image_size(ceph, pool, volume, TENANT) == 16 * MIB
        for offset, data in os_blocks.items():
            assert read_image(ceph, pool, volume, len(data), offset, TENANT) == data
        assert read_image(ceph, pool, volume, 4096, 12 * MIB, TENANT) == bytes(4096)
    # Copy on write: a clone's own writes stay in the clone.
    write_image(ceph, pool, volumes[0], b"GUEST" * 100, 0, TENANT)
    assert read_image(ceph, pool, base, 4096, 0, TENANT) == os_blocks[0][:4096]
    assert read_image(ceph, pool, volumes[1], 4096, 0, TENANT) == os_blocks[0][:4096]

    listed = run_module("rbd_snapshot", args)
    assert not listed.changed and listed["snapshot"]["children"] == children

    removal_check = run_module("rbd_snapshot", dict(args, protected=None, state="absent"), check=True)
    assert removal_check.failed and "it has clone children" in removal_check.msg
    removal = run_module("rbd_snapshot", dict(args, protected=None, state="absent"))
    assert removal.failed and not removal.changed
    assert removal.msg == (f"cannot remove snapshot {pool}/{TENANT}/{base}@protected-for-cloning: "
                           f"it has clone children: {', '.join(children)}; flatten or remove them first")
    assert removal["children"] == children
    unprotect = run_module("rbd_snapshot", dict(args, protected=False))
    assert unprotect.failed
    assert unprotect.msg.startswith(f"cannot unprotect snapshot {pool}/{TENANT}/{base}@protected-for-cloning: "
                                    f"it has clone children: {', '.join(children)}")
    assert image_snapshots(ceph, pool, base, TENANT)["protected-for-cloning"]["protected"] is True
    assert read_image(ceph, pool, base, len(os_blocks[0]), 0, TENANT) == os_blocks[0]

    # Later: flatten the volumes, then retire the base.
    for volume in volumes:
        flatten_image(ceph, pool, volume, TENANT)
        assert image_parent(ceph, pool, volume, TENANT) is None
    retired = run_module("rbd_snapshot", dict(args, protected=None, state="absent"))
    assert retired.changed and retired["actions"] == ["unprotect", "remove"]
    assert image_snapshots(ceph, pool, base, TENANT) == {}
    remove_image(ceph, pool, base, TENANT)
    assert image_names(ceph, pool, TENANT) == volumes
    assert read_image(ceph, pool, volumes[1], len(os_blocks[5 * MIB]), 5 * MIB, TENANT) == os_blocks[5 * MIB]


def test_rollback_restores_the_data_and_is_refused_while_the_image_is_in_use(ceph, pool, image):
    pattern_a, pattern_b = b"A" * 8192, b"B" * 8192
    write_image(ceph, pool, image, pattern_a, MIB)
    taken = run_module("rbd_snapshot", snapshot_args(pool, image, "before-upgrade"))
    assert taken.changed
    write_image(ceph, pool, image, pattern_b, MIB)
    rollback = snapshot_args(pool, image, "before-upgrade", rollback=True)

    with image_held_open(ceph, pool, image):
        refused = run_module("rbd_snapshot", rollback)
    assert refused.failed and not refused.changed
    assert refused.msg.startswith(f"cannot roll back image {pool}/{image} to snapshot before-upgrade: "
                                  "the image is in use by ")
    assert refused["users"] and refused["users"][0].endswith("(watcher)")
    assert read_image(ceph, pool, image, 8192, MIB) == pattern_b
    assert image_snapshots(ceph, pool, image) == {"before-upgrade": {
        "id": taken["snapshot"]["id"], "size": 8 * MIB, "protected": False}}

    with image_held_open(ceph, pool, image) as held:
        held.lock_exclusive("maintenance")
    try:
        locked = run_module("rbd_snapshot", rollback)
    finally:
        with image_held_open(ceph, pool, image) as held:
            held.unlock("maintenance")
    assert locked.failed and "(lock owner)" in locked.msg
    assert read_image(ceph, pool, image, 8192, MIB) == pattern_b

    check = run_module("rbd_snapshot", rollback, check=True)
    assert check.changed and check["actions"] == ["rollback"]
    assert check.diff["prepared"].startswith(f"image {pool}/{image} would be rolled back to snapshot before-upgrade")
    assert check.diff["before"] == check.diff["after"] == taken["snapshot"]
    assert read_image(ceph, pool, image, 8192, MIB) == pattern_b

    rolled = run_module("rbd_snapshot", rollback)
    assert rolled.changed and rolled["actions"] == ["rollback"]
    assert rolled["snapshot"] == taken["snapshot"]
    assert read_image(ceph, pool, image, 8192, MIB) == pattern_a
    assert "before-upgrade" in image_snapshots(ceph, pool, image)
