# SPDX-License-Identifier: GPL-3.0-or-later
"""rbd_image and rbd_image_info against the real cluster.

Every step asserts the module's result and the image read back through librbd.
"""

from __future__ import annotations

import pytest

from .cephstate import (
    create_ec_pool,
    create_test_image,
    delete_pool,
    image_held_open,
    image_names,
    image_state,
    mon,
    read_image,
    scratch_rbd_pool,
    trash_names,
)
from .harness import run_module, run_playbook, write_playbook

MIB = 1024 ** 2
GIB = 1024 ** 3
DEFAULT_FEATURES = 1 | 4 | 8 | 16  # layering, exclusive-lock, object-map, fast-diff


@pytest.fixture(scope="module")
def pool(ceph):
    with scratch_rbd_pool(ceph, "img-test", namespaces=("tenant",)) as name:
        yield name


def image(args: dict, check: bool = False):
    """Run rbd_image (with --diff) and fail the test on an unexpected module failure."""
    return run_module("rbd_image", args, check=check)


def assert_cycle_step(result, changed: bool):
    assert not result.failed, result.msg
    assert result.changed is changed, result.data


def test_create_resize_features_qos_metadata_then_delete(testenv, ceph, pool):
    args = {"pool": pool, "name": "vol-cycle", "size": "64M",
            "qos": {"iops_limit": 100, "bps_limit": "10M"}, "metadata": {"tenant": "acme"}}

    check = image(args, check=True)
    assert_cycle_step(check, True)
    assert check["image"]["id"] is None and check["image"]["size"] == 64 * MIB
    assert check.diff["before"] == {} and check.diff["after"]["qos"] == {"iops_limit": 100, "bps_limit": 10 * MIB}
    assert image_state(ceph, pool, "vol-cycle") is None

    created = image(args)
    assert_cycle_step(created, True)
    real = image_state(ceph, pool, "vol-cycle")
    assert real["size"] == 64 * MIB and real["features"] == DEFAULT_FEATURES
    assert real["object_size"] == 4 * MIB
    assert real["metadata"] == {"conf_rbd_qos_iops_limit": "100", "conf_rbd_qos_bps_limit": str(10 * MIB),
                                "tenant": "acme"}
    assert created["image"]["id"] == real["id"]
    assert {k: v for k, v in created["image"].items() if k != "id"} == \
        {k: v for k, v in check["image"].items() if k != "id"}

    for check_mode in (True, False):
        again = image(args, check=check_mode)
        assert_cycle_step(again, False)
        assert again["actions"] == []

    modify = dict(args, size="128M", features=["layering", "exclusive-lock"], qos={"iops_limit": 200},
                  metadata={"owner": "ops"})
    predicted = image(modify, check=True)
    assert_cycle_step(predicted, True)
    assert image_state(ceph, pool, "vol-cycle")["size"] == 64 * MIB
    applied = image(modify)
    assert_cycle_step(applied, True)
    assert applied["image"] == predicted["image"]
    assert applied.diff["before"]["size"] == 64 * MIB and applied.diff["after"]["size"] == 128 * MIB
    real = image_state(ceph, pool, "vol-cycle")
    assert real["size"] == 128 * MIB and real["features"] == 1 | 4
    assert real["metadata"] == {"conf_rbd_qos_iops_limit": "200", "owner": "ops"}
    assert image(modify)["changed"] is False

    # Enabling the object map rebuilds it; qos {} removes every setting; metadata left out is
    # kept; allow_shrink lets the size go down.
    all_features = ["layering", "exclusive-lock", "object-map", "fast-diff"]
    enable = {"pool": pool, "name": "vol-cycle", "features": all_features, "qos": {},
              "size": "96M", "allow_shrink": True}
    result = image(enable)
    assert_cycle_step(result, True)
    assert result["actions"][:2] == [f"{pool}/vol-cycle: resize from 128 MiB to 96 MiB",
                                     f"{pool}/vol-cycle: enable features object-map, fast-diff"]
    real = image_state(ceph, pool, "vol-cycle")
    assert real["size"] == 96 * MIB
    assert real["features"] == DEFAULT_FEATURES and real["flags"] == 0
    assert real["metadata"] == {"owner": "ops"}

    delete = {"pool": pool, "name": "vol-cycle", "state": "absent"}
    check = image(delete, check=True)
    assert_cycle_step(check, True)
    assert check["image"] is None and check.diff["after"] == {}
    assert image_state(ceph, pool, "vol-cycle") is not None
    assert_cycle_step(image(delete), True)
    assert image_state(ceph, pool, "vol-cycle") is None
    assert_cycle_step(image(delete), False)


def test_bad_input_fails_clearly_and_changes_nothing(testenv, ceph, pool, tmp_path):
    create_test_image(ceph, pool, "vol-bad", 64 * MIB)
    before = image_state(ceph, pool, "vol-bad")
    cases = [
        ({"name": "a/b", "size": "1G"}, "image name 'a/b' must not contain '/'"),
        ({"name": "a@b", "size": "1G"}, "must not contain '@'"),
        ({"name": "a:b", "size": "1G"}, "must not contain ':'"),
        ({"name": "a b", "size": "1G"}, "must not contain whitespace"),
        ({"name": "a\u0000b", "size": "1G"}, "must not contain NUL"),
        ({"name": "vol-new", "size": 0}, "size must be greater than 0"),
        ({"name": "vol-new", "size": -1}, "size must not be negative"),
        ({"name": "vol-new", "size": "10Q"}, "unknown unit 'Q'"),
        ({"name": "vol-new", "size": "1G", "features": ["layering", "turbo"]}, "unknown feature 'turbo'"),
        ({"name": "vol-bad", "size": "32M"}, "shrinking it to 32 MiB destroys data beyond the new end"),
        ({"name": "vol-bad", "features": ["exclusive-lock"]}, "'layering' cannot be disabled"),
        ({"name": "vol-bad", "object_size": "8M"}, "object_size is 4194304, requested 8388608"),
        ({"name": "vol-new", "size": "1G", "data_pool": pool}, f"data_pool '{pool}' is not an erasure-coded pool"),
        ({"name": "vol-new", "clone_from": f"{pool}/vol-bad@nope"}, "snapshot 'nope' does not exist"),
        ({"name": "vol-new", "size": "1G", "namespace": "nope"}, "namespace 'nope' does not exist in pool"),
        ({"images": [{"name": "vol-new", "size": "1G"}, {"name": "vol-bad", "size": "1M"}]},
         f"images[1] ({pool}/vol-bad): image {pool}/vol-bad is 64 MiB; shrinking"),
        ({"images": [{"name": "vol-new", "size": "1G"}, {"name": "x y"}]}, "images[1] ('x y')"),
    ]
    tasks = [{"name": f"case {i}", "limiquantix.ceph_rbd.rbd_image": dict({"pool": pool}, **args),
              "ignore_errors": True} for i, (args, _text) in enumerate(cases)]
    result = run_playbook(write_playbook(tmp_path, tasks))
    assert len(result.tasks) == len(cases), result.stdout
    for task, (_args, text) in zip(result.tasks, cases):
        assert task.get("failed"), task
        assert text in task["msg"], (text, task["msg"])
        assert "Traceback" not in task["msg"]
    assert image_names(ceph, pool) == ["vol-bad"]
    assert image_state(ceph, pool, "vol-bad") == before


def test_delete_refuses_an_image_a_process_has_open_and_keeps_its_data(testenv, ceph, pool):
    create_test_image(ceph, pool, "vol-open", 16 * MIB)
    pattern = b"limiquantix" * 372
    with image_held_open(ceph, pool, "vol-open") as holder:  # read-write: a watcher, like a running VM
        holder.write(pattern, 4096)  # takes the exclusive lock too
        client = f"client.{ceph.get_instance_id()}"
        for args in ({"state": "absent"}, {"state": "absent", "force": True}, {"state": "absent", "trash": True}):
            result = image(dict({"pool": pool, "name": "vol-open"}, **args))
            assert result.failed
            assert f"image {pool}/vol-open is in use, refusing to delete it" in result.msg
            assert client in result.msg and "locked by" in result.msg
            assert image_names(ceph, pool).count("vol-open") == 1
            assert "vol-open" not in trash_names(ceph, pool)
    assert read_image(ceph, pool, "vol-open", len(pattern), offset=4096) == pattern


def test_snapshots_are_deleted_only_with_force(testenv, ceph, pool):
    create_test_image(ceph, pool, "vol-snaps", 8 * MIB, snapshot="s1")
    with image_held_open(ceph, pool, "vol-snaps") as img:
        img.protect_snap("s1")
        img.create_snap("s2")
    refused = image({"pool": pool, "name": "vol-snaps", "state": "absent"})
    assert refused.failed and "has snapshots s1, s2: set force: true" in refused.msg
    assert image_state(ceph, pool, "vol-snaps")["snapshots"] == {"s1": True, "s2": False}
    check = image({"pool": pool, "name": "vol-snaps", "state": "absent", "force": True}, check=True)
    assert check.changed and f"{pool}/vol-snaps: remove snapshots s1, s2" in check["actions"]
    assert image_state(ceph, pool, "vol-snaps") is not None
    removed = image({"pool": pool, "name": "vol-snaps", "state": "absent", "force": True})
    assert_cycle_step(removed, True)
    assert image_state(ceph, pool, "vol-snaps") is None


def test_clone_protects_for_clone_v1_then_flattens(testenv, ceph, pool):
    compat = mon(ceph, "osd dump")["require_min_compat_client"]
    assert compat == "luminous"  # the test cluster's default: librbd makes format 1 clones
    create_test_image(ceph, pool, "golden", 32 * MIB, snapshot="base", data=b"golden" * 100)
    args = {"pool": pool, "name": "vol-clone", "clone_from": f"{pool}/golden@base", "size": "48M"}

    check = image(args, check=True)
    assert_cycle_step(check, True)
    assert check["actions"][0] == f"{pool}/vol-clone: protect snapshot {pool}/golden@base (clone format 1)"
    assert check["image"]["parent"] == {"pool": pool, "namespace": "", "image": "golden", "snapshot": "base"}
    assert image_state(ceph, pool, "golden")["snapshots"] == {"base": False}

    created = image(args)
    assert_cycle_step(created, True)
    assert created["image"] == dict(check["image"], id=created["image"]["id"])
    real = image_state(ceph, pool, "vol-clone")
    assert real["parent"]["image_name"] == "golden" and real["size"] == 48 * MIB
    assert image_state(ceph, pool, "golden")["snapshots"] == {"base": True}
    assert_cycle_step(image(args), False)

    # The parent cannot go while it has a clone child.
    refused = image({"pool": pool, "name": "golden", "state": "absent", "force": True})
    assert refused.failed and f"has clone children {pool}/vol-clone" in refused.msg

    flatten = dict(args, flatten=True)
    check = image(flatten, check=True)
    assert_cycle_step(check, True)
    assert check["image"]["parent"] is None and check.diff["before"]["parent"] is not None
    assert image_state(ceph, pool, "vol-clone")["parent"] is not None
    assert_cycle_step(image(flatten), True)
    assert image_state(ceph, pool, "vol-clone")["parent"] is None
    assert_cycle_step(image(flatten), False)
    assert read_image(ceph, pool, "vol-clone", 600) == b"golden" * 100

    # A dict clone_from, flattened at once, in the batch form.
    batch = image({"pool": pool, "images": [
        {"name": "vol-clone2", "flatten": True,
         "clone_from": {"pool": pool, "image": "golden", "snapshot": "base"}}]})
    assert_cycle_step(batch, True)
    assert batch["images"][0]["parent"] is None and batch["images"][0]["changed"] is True
    assert image_state(ceph, pool, "vol-clone2")["parent"] is None
    assert image({"pool": pool, "state": "absent", "force": True,
                  "images": [{"name": "vol-clone"}, {"name": "vol-clone2"}, {"name": "golden"}]}).changed
    assert not {"vol-clone", "vol-clone2", "golden"} & set(image_names(ceph, pool))


def test_erasure_coded_data_pool(testenv, ceph, pool):
    ec_pool, plain_ec = "img-test-ec", "img-test-ec-noover"
    for name in (ec_pool, plain_ec):
        delete_pool(ceph, name)
    create_ec_pool(ceph, ec_pool)
    create_ec_pool(ceph, plain_ec, overwrites=False)
    try:
        refused = image({"pool": pool, "name": "vol-ec", "size": "16M", "data_pool": plain_ec})
        assert refused.failed and f"data_pool '{plain_ec}' does not allow overwrites" in refused.msg
        assert image_state(ceph, pool, "vol-ec") is None

        args = {"pool": pool, "name": "vol-ec", "size": "16M", "data_pool": ec_pool}
        check = image(args, check=True)
        assert_cycle_step(check, True)
        assert image_state(ceph, pool, "vol-ec") is None
        created = image(args)
        assert_cycle_step(created, True)
        assert created["image"]["data_pool"] == ec_pool and "data-pool" in created["image"]["features"]
        assert created["image"] == dict(check["image"], id=created["image"]["id"])
        real = image_state(ceph, pool, "vol-ec")
        assert real["data_pool_id"] == ceph.pool_lookup(ec_pool)
        assert_cycle_step(image(args), False)
        assert_cycle_step(image({"pool": pool, "name": "vol-ec", "state": "absent"}), True)
        assert image_state(ceph, pool, "vol-ec") is None
    finally:
        for name in (ec_pool, plain_ec):
            delete_pool(ceph, name)


def test_namespace_images_and_trash(testenv, ceph, pool):
    args = {"pool": pool, "namespace": "tenant", "name": "vol-ns", "size": "8M"}
    assert_cycle_step(image(args, check=True), True)
    created = image(args)
    assert_cycle_step(created, True)
    assert created["image"]["namespace"] == "tenant"
    assert image_names(ceph, pool, "tenant") == ["vol-ns"]
    assert "vol-ns" not in image_names(ceph, pool)
    assert_cycle_step(image(args), False)

    info = run_module("rbd_image_info", {"pool": pool, "namespace": "tenant"})
    assert not info.failed and [i["name"] for i in info["images"]] == ["vol-ns"]
    assert info["images"][0] == dict(created["image"], used_bytes=0, watchers=[])

    trash = dict(args, state="absent", trash=True)
    check = image(trash, check=True)
    assert check.changed and check["actions"] == [f"{pool}/tenant/vol-ns: trash"]
    assert image_names(ceph, pool, "tenant") == ["vol-ns"]
    assert_cycle_step(image(trash), True)
    assert image_names(ceph, pool, "tenant") == [] and trash_names(ceph, pool, "tenant") == ["vol-ns"]
    assert_cycle_step(image(trash), False)


def test_image_info_reports_usage_watchers_and_filters(testenv, ceph, pool):
    create_test_image(ceph, pool, "vol-info", 16 * MIB, data=b"x" * 4096)
    with image_held_open(ceph, pool, "vol-info") as holder:
        info = run_module("rbd_image_info", {"pool": pool, "name": "vol-info"})
        assert not info.failed, info.msg
        [vol] = info["images"]
        assert vol["provisioned_bytes"] == 16 * MIB and vol["used_bytes"] == 4 * MIB
        assert vol["watchers"] == [w["addr"] for w in holder.watchers_list()]
        assert vol["id"] == holder.id()
        quick = run_module("rbd_image_info", {"pool": pool, "name": "vol-info", "with_usage": False})
        assert quick["images"][0]["used_bytes"] is None
    assert run_module("rbd_image_info", {"pool": pool, "name": "missing"})["images"] == []
    missing_ns = run_module("rbd_image_info", {"pool": pool, "namespace": "nope"})
    assert missing_ns.failed and "namespace 'nope' does not exist" in missing_ns.msg
    assert_cycle_step(image({"pool": pool, "name": "vol-info", "state": "absent"}), True)


def test_batch_of_50_images_in_one_task(testenv, ceph, pool):
    names = [f"vol-b{i:03d}" for i in range(50)]
    batch = {"pool": pool, "namespace": "tenant", "size": "4M", "qos": {"iops_limit": 500},
             "images": [{"name": n} for n in names]}

    check = image(batch, check=True)
    assert_cycle_step(check, True)
    assert len(check["images"]) == 50 and all(i["changed"] for i in check["images"])
    assert not set(names) & set(image_names(ceph, pool, "tenant"))

    created = image(batch)
    assert_cycle_step(created, True)
    assert [i["name"] for i in created["images"]] == names
    assert set(names) <= set(image_names(ceph, pool, "tenant"))
    assert sorted(created.diff["after"]) == sorted(f"{pool}/tenant/{n}" for n in names)
    real = image_state(ceph, pool, names[-1], "tenant")
    assert real["size"] == 4 * MIB and real["metadata"] == {"conf_rbd_qos_iops_limit": "500"}

    again = image(batch)
    assert_cycle_step(again, False)
    assert again.diff == {"before": {}, "after": {}}

    # Mixed: grow 5, delete 5, create 5; the rest stay as they are.
    items = [{"name": n, "size": "8M"} for n in names[:5]]
    items += [{"name": n, "state": "absent"} for n in names[5:10]]
    items += [{"name": n} for n in names[10:]] + [{"name": f"vol-c{i}"} for i in range(5)]
    mixed = image(dict(batch, images=items))
    assert_cycle_step(mixed, True)
    assert [i["changed"] for i in mixed["images"]] == [True] * 10 + [False] * 40 + [True] * 5
    assert mixed["images"][5] == {"pool": pool, "namespace": "tenant", "name": names[5], "state": "absent",
                                  "changed": True}
    assert image_state(ceph, pool, names[0], "tenant")["size"] == 8 * MIB
    remaining = set(image_names(ceph, pool, "tenant"))
    assert not set(names[5:10]) & remaining and {f"vol-c{i}" for i in range(5)} <= remaining

    empty = image({"pool": pool, "images": []})
    assert_cycle_step(empty, False)
    assert empty["images"] == []

    gone = image({"pool": pool, "namespace": "tenant", "state": "absent",
                  "images": [{"name": n} for n in names + [f"vol-c{i}" for i in range(5)]]})
    assert_cycle_step(gone, True)
    assert not (set(names) | {f"vol-c{i}" for i in range(5)}) & set(image_names(ceph, pool, "tenant"))
