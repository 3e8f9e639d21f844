# SPDX-License-Identifier: GPL-3.0-or-later
"""ceph_crush_rule and an SSD tier pool on it (two of the three OSDs turned into SSDs)."""

from __future__ import annotations

import pytest

from .cephstate import (
    crush_rule,
    delete_pool,
    device_class_of,
    pool_detail,
    remove_crush_rule,
    set_device_class,
)
from .harness import run_module

SSD_OSDS = [0, 1]


@pytest.fixture
def ssd_osds(ceph):
    """Make osd.0 and osd.1 SSDs for the test; give them back their class afterwards."""
    classes = {osd: device_class_of(ceph, osd) for osd in SSD_OSDS}
    set_device_class(ceph, SSD_OSDS, "ssd")
    yield SSD_OSDS
    for osd, device_class in classes.items():
        set_device_class(ceph, [osd], device_class)


def test_ssd_tier_rule_and_pool(ceph, ssd_osds, unique_name):
    rule_name = unique_name("ssd")
    pool_name = unique_name("ssd-pool")
    rule_args = {"name": rule_name, "device_class": "ssd", "failure_domain": "osd"}
    pool_args = {"name": pool_name, "pg_num": 8, "size": 2, "min_size": 1, "crush_rule": rule_name}
    try:
        check = run_module("ceph_crush_rule", rule_args, check=True)
        assert check.changed and check["rule"]["device_class"] == "ssd" and crush_rule(ceph, rule_name) is None
        created = run_module("ceph_crush_rule", rule_args)
        assert created.changed
        raw = crush_rule(ceph, rule_name)
        assert raw["steps"][0]["item_name"] == "default~ssd"
        assert created["rule"] == dict(check["rule"], id=raw["rule_id"])
        assert created["rule"]["failure_domain"] == "osd"
        for again in (run_module("ceph_crush_rule", rule_args, check=True), run_module("ceph_crush_rule", rule_args)):
            assert not again.failed and again.changed is False

        # A rule is never silently replaced by one with other settings.
        conflict = run_module("ceph_crush_rule", dict(rule_args, failure_domain="host"))
        assert conflict.failed
        assert "exists with other settings (failure_domain is 'osd' not 'host')" in conflict.msg
        assert crush_rule(ceph, rule_name) == raw

        # The SSD tier pool on that rule: check, create, check again, apply again.
        pool_check = run_module("rbd_pool", pool_args, check=True)
        assert pool_check.changed and pool_check["pool"]["crush_rule"] == rule_name
        pool = run_module("rbd_pool", pool_args)
        assert pool.changed and pool.diff["after"] == dict(pool_check.diff["after"], id=pool["pool"]["id"])
        assert pool_detail(ceph, pool_name)["crush_rule"] == raw["rule_id"]
        for again in (run_module("rbd_pool", pool_args, check=True), run_module("rbd_pool", pool_args)):
            assert not again.failed and again.changed is False

        # A rule in use is not removed.
        in_use = run_module("ceph_crush_rule", {"name": rule_name, "state": "absent"})
        assert in_use.failed and f"used by pool(s) {pool_name}" in in_use.msg
        assert crush_rule(ceph, rule_name) is not None

        # Move the pool back to the default rule, then the rule can go.
        moved = run_module("rbd_pool", {"name": pool_name, "crush_rule": "replicated_rule"})
        assert moved.changed and pool_detail(ceph, pool_name)["crush_rule"] == 0
        check_rm = run_module("ceph_crush_rule", {"name": rule_name, "state": "absent"}, check=True)
        assert check_rm.changed and crush_rule(ceph, rule_name) is not None
        removed = run_module("ceph_crush_rule", {"name": rule_name, "state": "absent"})
        assert removed.changed and removed["rule"] is None and crush_rule(ceph, rule_name) is None
        again = run_module("ceph_crush_rule", {"name": rule_name, "state": "absent"})
        assert not again.failed and again.changed is False
    finally:
        delete_pool(ceph, pool_name)
        remove_crush_rule(ceph, rule_name)


def test_unknown_device_class_is_refused(ceph, unique_name):
    name = unique_name("nvme")
    result = run_module("ceph_crush_rule", {"name": name, "device_class": "nvme"})
    assert result.failed
    assert "device class 'nvme' does not exist" in result.msg
    assert crush_rule(ceph, name) is None
