# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/report.yml: the numbers in the HTML file are what the info modules return."""

from __future__ import annotations

import json
import time
from html.parser import HTMLParser

import pytest

from .cephstate import (
    clone_image,
    create_rbd_pool,
    create_test_image,
    delete_pool,
    image_held_open,
    mon,
    rbd_ioctx,
    wait_until,
)
from .harness import COLLECTION_ROOT, SYSTEM_PYTHON, run_module, run_playbook


class Rows(HTMLParser):
    """data-* attributes of the <tr class="pool|volume"> rows, and what the file links to."""

    def __init__(self):
        super().__init__()
        self.rows = {"pool": [], "volume": []}
        self.external = []
        self.svg = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "tr" and attributes.get("class") in self.rows:
            self.rows[attributes["class"]].append(
                {k[len("data-"):]: v for k, v in attributes.items() if k.startswith("data-")})
        if tag == "svg":
            self.svg += 1
        for key in ("src", "href"):
            if attributes.get(key):
                self.external.append(attributes[key])
        if tag == "link":
            self.external.append(str(attributes))


@pytest.fixture
def report_pools(ceph, unique_name):
    import rbd  # pylint: disable=import-outside-toplevel

    first, second = unique_name("rep"), unique_name("rep")
    create_rbd_pool(ceph, first, namespaces=("tenant",))
    create_rbd_pool(ceph, second)
    mon(ceph, "osd pool set-quota", pool=first, field="max_bytes", val=str(1 << 30))
    create_test_image(ceph, first, "golden", 32 << 20, data=b"g" * (4 << 20), snapshot="base")
    with rbd_ioctx(ceph, first) as ioctx, rbd.Image(ioctx, "golden") as image:
        image.protect_snap("base")
    clone_image(ceph, first, "golden", "base", "vol-clone")
    create_test_image(ceph, first, "vol-ns", 16 << 20, namespace="tenant", data=b"n" * (1 << 20))
    create_test_image(ceph, second, "vol-big", 4 << 40)  # 4 TiB provisioned: overcommitted
    yield first, second
    delete_pool(ceph, first)
    delete_pool(ceph, second)


def usage_settled(ceph, pools) -> bool:
    """Whether ``df`` reports the same usage for the pools now and 6 s later (the mgr's
    statistics lag behind writes by a few seconds)."""
    def usage():
        return {p["name"]: p["stats"] for p in mon(ceph, "df", detail="detail")["pools"] if p["name"] in pools}
    first = usage()
    time.sleep(6)
    return usage() == first


def test_report_numbers_equal_the_info_modules(testenv, ceph, tmp_path, report_pools):
    first, second = report_pools
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": SYSTEM_PYTHON}},
        "children": {"ceph_admin": {"hosts": {"localhost": None}}}}}))
    report = tmp_path / "capacity.html"
    wait_until("settled pool usage", lambda: usage_settled(ceph, (first, second)), seconds=120, interval=0)
    with image_held_open(ceph, first, "vol-clone"):
        result = run_playbook(COLLECTION_ROOT / "playbooks" / "report.yml", inventory=inventory,
                              extra_vars={"report_file": str(report), "report_pools": [first, second]})
        assert result["_rc"] == 0, result.stdout[-3000:]
        pools = {p["name"]: p for p in run_module("rbd_pool_info", {})["pools"]}
        images = []
        for pool, namespace in ((first, ""), (first, "tenant"), (second, "")):
            images += run_module("rbd_image_info", {"pool": pool, "namespace": namespace})["images"]
    assert [t["_task"] for t in result.tasks if t.get("changed")] == ["Write the report"]

    parsed = Rows()
    parsed.feed(report.read_text())
    assert parsed.external == [], "the report must not load anything"
    assert parsed.svg == 1

    assert sorted(row["pool"] for row in parsed.rows["pool"]) == sorted([first, second])
    for row in parsed.rows["pool"]:
        pool = pools[row["pool"]]
        mine = [i for i in images if i["pool"] == row["pool"]]
        provisioned = sum(i["provisioned_bytes"] for i in mine)
        assert int(row["stored-bytes"]) == pool["stored_bytes"]
        assert int(row["used-bytes"]) == pool["used_bytes"]
        assert int(row["max-avail-bytes"]) == pool["max_avail_bytes"]
        assert int(row["quota-max-bytes"]) == pool["quota_max_bytes"]
        assert int(row["quota-max-objects"]) == pool["quota_max_objects"]
        assert int(row["objects"]) == pool["objects"]
        assert int(row["volumes"]) == len(mine)
        assert int(row["provisioned-bytes"]) == provisioned
        assert float(row["overcommit"]) == pytest.approx(provisioned / pool["max_avail_bytes"], abs=1e-4)
    by_pool = {row["pool"]: row for row in parsed.rows["pool"]}
    assert int(by_pool[first]["quota-max-bytes"]) == 1 << 30
    assert float(by_pool[second]["overcommit"]) > 1

    volumes = {(r["pool"], r["namespace"], r["name"]): r for r in parsed.rows["volume"]}
    assert sorted(volumes) == sorted((i["pool"], i["namespace"], i["name"]) for i in images)
    for image in images:
        row = volumes[(image["pool"], image["namespace"], image["name"])]
        assert int(row["provisioned-bytes"]) == image["provisioned_bytes"]
        assert int(row["used-bytes"]) == image["used_bytes"]
        assert row["watchers"] == " ".join(image["watchers"])
    assert volumes[(first, "", "vol-clone")]["parent"] == f"{first}/golden@base"
    assert volumes[(first, "", "vol-clone")]["watchers"] != ""
    assert volumes[(first, "", "golden")]["parent"] == ""
    assert int(volumes[(first, "tenant", "vol-ns")]["used-bytes"]) == 1 << 20 or \
        int(volumes[(first, "tenant", "vol-ns")]["used-bytes"]) >= 1 << 20
