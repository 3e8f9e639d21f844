# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading plain images from their header objects gives what librbd gives.

rbd_image reads an image it only needs to compare (no usage, no watchers, no
deletion) from its ``rbd_header`` object instead of opening it in librbd. These
tests make images of every kind on the real cluster and check that the header
read gives, for every image without snapshots (plain images and clones of both
formats), exactly the dict a librbd open gives, and that it leaves every image
with snapshots to librbd.
"""

from __future__ import annotations

import pytest

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import CephCluster
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_catalog import ImageCatalog
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_reads import (
    ReadDetails,
    read_image,
    read_images_from_headers,
)

from .cephstate import (
    clone_image,
    create_ec_pool,
    create_test_image,
    delete_pool,
    image_held_open,
    rbd_ioctx,
    scratch_rbd_pool,
)
from .harness import run_module

MIB = 1024 ** 2
TENANT = "tenant"
DATA_POOL = "hdr-ec"


@pytest.fixture(scope="module")
def pool(ceph, testenv):
    delete_pool(ceph, DATA_POOL)
    create_ec_pool(ceph, DATA_POOL)
    try:
        with scratch_rbd_pool(ceph, "hdr-test", namespaces=(TENANT,)) as name:
            make_images(ceph, testenv, name)
            yield name
    finally:
        delete_pool(ceph, DATA_POOL)


def make_images(ceph, testenv, pool: str) -> None:
    """One image of each kind: ones read from their headers and ones that only librbd reads."""
    import rados  # pylint: disable=import-outside-toplevel
    import rbd  # pylint: disable=import-outside-toplevel

    create_test_image(ceph, pool, "plain-default", 64 * MIB)
    create_test_image(ceph, pool, "plain-layering", 8 * MIB, features=1)
    create_test_image(ceph, pool, "plain-namespaced", 12 * MIB, namespace=TENANT)
    with rbd_ioctx(ceph, pool) as ioctx:
        rbd.RBD().create(ioctx, "plain-striped", 32 * MIB, old_format=False, features=1 | 2,
                         order=22, stripe_unit=MIB, stripe_count=4)
        rbd.RBD().create(ioctx, "plain-small-objects", 16 * MIB, old_format=False, order=20)
        rbd.RBD().create(ioctx, "plain-ec-data", 16 * MIB, old_format=False, data_pool=DATA_POOL)
        rbd.RBD().create(ioctx, "plain-qos-metadata", 16 * MIB, old_format=False)
        with rbd.Image(ioctx, "plain-qos-metadata") as image:
            image.config_set("rbd_qos_iops_limit", "500")
            image.metadata_set("site", "Zürich ✓")
            image.metadata_set("empty", "")
        rbd.RBD().create(ioctx, "plain-had-snapshot", 16 * MIB, old_format=False)
        with rbd.Image(ioctx, "plain-had-snapshot") as image:
            image.create_snap("gone")
            image.remove_snap("gone")
    create_test_image(ceph, pool, "golden", 16 * MIB, snapshot="base", data=b"golden")
    with rbd_ioctx(ceph, pool) as ioctx, rbd.Image(ioctx, "golden") as image:
        image.protect_snap("base")
    clone_image(ceph, pool, "golden", "base", "clone-child")  # format 1: the test cluster's default
    clone_image(ceph, pool, "golden", "base", "clone-with-snapshot")
    with rbd_ioctx(ceph, pool) as ioctx, rbd.Image(ioctx, "clone-with-snapshot") as image:
        image.create_snap("own")
    format2 = rados.Rados(conffile=testenv["CEPH_CONF"],
                          conf={"keyring": testenv["CEPH_KEYRING"], "rbd_default_clone_format": "2"})
    format2.connect(timeout=30)
    try:
        with rbd_ioctx(format2, pool) as parent_ioctx, rbd_ioctx(format2, pool, TENANT) as tenant_ioctx:
            for child, ioctx in (("clone2-child", parent_ioctx), ("clone2-namespaced", tenant_ioctx),
                                 ("clone2-flattened", parent_ioctx)):
                rbd.RBD().clone(parent_ioctx, "golden", "base", ioctx, child, features=1 | 4 | 8 | 16 | 32)
            with rbd.Image(parent_ioctx, "clone2-flattened") as image:
                image.flatten()
    finally:
        format2.shutdown()


PLAIN = [("", "plain-default"), ("", "plain-layering"), (TENANT, "plain-namespaced"), ("", "plain-striped"),
         ("", "plain-small-objects"), ("", "plain-ec-data"), ("", "plain-qos-metadata"),
         ("", "plain-had-snapshot"), ("", "clone-child"), ("", "clone2-child"), (TENANT, "clone2-namespaced"),
         ("", "clone2-flattened")]
NOT_PLAIN = [("", "golden"), ("", "clone-with-snapshot")]


def requests_for(pool: str, images: list[tuple[str, str]]) -> list[dict]:
    return [{"pool": pool, "namespace": namespace, "name": name, "state": "present"} for namespace, name in images]


def test_images_read_from_headers_match_librbd(ceph, pool):
    cluster = CephCluster(ceph, timeout=30)
    catalog = ImageCatalog(cluster)
    outcomes = read_images_from_headers(catalog, requests_for(pool, PLAIN))
    assert len(outcomes) == len(PLAIN)
    for namespace, name in PLAIN:
        spec = f"{pool}/{namespace}/{name}" if namespace else f"{pool}/{name}"
        (from_header, users), error = outcomes[spec]
        assert error is None and users == {}
        from_librbd = read_image(cluster, catalog, pool, namespace, name, ReadDetails())
        assert from_header == from_librbd, name
    by_name = {image["name"]: image for (image, _users), _error in outcomes.values()}
    assert by_name["plain-striped"]["stripe_unit"] == MIB and by_name["plain-striped"]["stripe_count"] == 4
    assert by_name["plain-small-objects"]["object_size"] == MIB
    assert by_name["plain-ec-data"]["data_pool"] == DATA_POOL
    assert by_name["plain-qos-metadata"]["qos"] == {"iops_limit": 500}
    assert by_name["plain-qos-metadata"]["metadata"] == {"empty": "", "site": "Zürich ✓"}
    assert by_name["plain-namespaced"]["namespace"] == TENANT and by_name["plain-namespaced"]["size"] == 12 * MIB
    golden = {"pool": pool, "namespace": "", "image": "golden", "snapshot": "base"}
    for clone in ("clone-child", "clone2-child", "clone2-namespaced"):
        assert by_name[clone]["parent"] == golden, clone
    assert "operations" in by_name["clone2-child"]["features"]
    assert by_name["clone2-flattened"]["parent"] is None


def test_images_with_snapshots_are_left_to_librbd(ceph, pool):
    catalog = ImageCatalog(CephCluster(ceph, timeout=30))
    assert read_images_from_headers(catalog, requests_for(pool, NOT_PLAIN)) == {}


def test_rbd_image_rerun_reports_what_rbd_image_info_reports(ceph, pool):
    """The module's no-change re-run (header reads for the plain images) against rbd_image_info (opens)."""
    info = run_module("rbd_image_info", {"pool": pool, "with_usage": False})
    assert not info.failed, info.msg
    expected = {image["name"]: dict(image, watchers=None) for image in info["images"]}
    tenant = run_module("rbd_image_info", {"pool": pool, "namespace": TENANT, "with_usage": False})
    expected.update({image["name"]: dict(image, watchers=None) for image in tenant["images"]})
    items = [{"namespace": namespace, "name": name} for namespace, name in PLAIN + NOT_PLAIN]
    for check in (True, False):
        rerun = run_module("rbd_image", {"pool": pool, "images": items}, check=check)
        assert not rerun.failed and not rerun.changed, rerun.data
        assert rerun["actions"] == []
        assert {image["name"]: {k: v for k, v in image.items() if k != "changed"} for image in rerun["images"]} \
            == {name: expected[name] for _namespace, name in PLAIN + NOT_PLAIN}


def test_watchers_only_when_asked(ceph, pool):
    with image_held_open(ceph, pool, "plain-default") as holder:
        quiet = run_module("rbd_image", {"pool": pool, "name": "plain-default"})
        assert not quiet.failed and not quiet.changed, quiet.data
        assert quiet["image"]["watchers"] is None
        asked = run_module("rbd_image", {"pool": pool, "images": [{"name": "plain-default"}, {"name": "golden"}],
                                         "with_watchers": True})
        assert not asked.failed and not asked.changed, asked.data
        assert asked["images"][0]["watchers"] == [w["addr"] for w in holder.watchers_list()]
        assert asked["images"][1]["watchers"] == []
    created = run_module("rbd_image", {"pool": pool, "name": "new-image", "size": "4M"}, check=True)
    assert created.changed and created["image"]["watchers"] is None
    created = run_module("rbd_image", {"pool": pool, "name": "new-image", "size": "4M", "with_watchers": True},
                         check=True)
    assert created.changed and created["image"]["watchers"] == []


def test_empty_metadata_values_stay_idempotent(ceph, pool):
    """Metadata is read from the header for opened images too: the Ceph 16 bindings'
    ``metadata_list`` pairs keys with the wrong values when one value is empty."""
    args = {"pool": pool, "name": "golden", "metadata": {"note": "", "owner": "ops"}}
    assert run_module("rbd_image", args).changed
    for check in (True, False):
        again = run_module("rbd_image", args, check=check)
        assert not again.failed and not again.changed, again.data
        assert again["image"]["metadata"] == {"note": "", "owner": "ops"}
        assert again["image"]["snapshots"][0]["name"] == "base"  # read through librbd, not the header
    import rbd  # pylint: disable=import-outside-toplevel

    with rbd_ioctx(ceph, pool) as ioctx, rbd.Image(ioctx, "golden", read_only=True) as image:
        assert image.metadata_get("note") == "" and image.metadata_get("owner") == "ops"
    assert run_module("rbd_image", dict(args, metadata={})).changed
