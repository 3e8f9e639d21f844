# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.health import summarize_health
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.pools import describe_pool

DETAIL = {
    "pool_id": 7, "pool_name": "ec-data", "type": 3, "size": 3, "min_size": 2, "crush_rule": 1,
    "pg_num": 32, "pg_placement_num": 32, "pg_autoscale_mode": "off",
    "erasure_code_profile": "k2m1", "flags_names": "hashpspool,ec_overwrites,selfmanaged_snaps",
    "options": {"compression_mode": "aggressive", "target_size_ratio": 0.2},
    "application_metadata": {"rbd": {}}, "quota_max_bytes": 1024, "quota_max_objects": 0,
}


def test_describe_pool_names_the_rule_and_reads_flags_and_options():
    pool = describe_pool(DETAIL, {0: "replicated_rule", 1: "ec-rule"},
                         {"stored": 10, "bytes_used": 15, "objects": 2, "max_avail": 99, "percent_used": 0.0123},
                         ["tenant-b", "tenant-a"])
    assert pool["type"] == "erasure"
    assert pool["crush_rule"] == "ec-rule"
    assert pool["allow_ec_overwrites"] is True
    assert pool["erasure_profile"] == "k2m1"
    assert pool["compression_mode"] == "aggressive"
    assert pool["compression_algorithm"] is None
    assert pool["target_size_ratio"] == 0.2
    assert pool["applications"] == ["rbd"]
    assert pool["namespaces"] == ["tenant-a", "tenant-b"]
    assert (pool["stored_bytes"], pool["used_bytes"], pool["objects"], pool["max_avail_bytes"]) == (10, 15, 2, 99)
    assert pool["percent_used"] == 1.23
    assert pool["rbd_initialized"] is True


def test_describe_pool_reports_pg_targets_and_rounds_the_float32_ratio():
    detail = dict(DETAIL, pg_num=8, pg_num_target=16, pg_placement_num=8, pg_placement_num_target=16,
                  options={"target_size_ratio": 0.10000000149011612}, flags_names="hashpspool")
    pool = describe_pool(detail, {}, None, None)
    assert (pool["pg_num"], pool["pgp_num"]) == (16, 16)
    assert pool["target_size_ratio"] == 0.1
    assert pool["rbd_initialized"] is False


def test_describe_pool_defaults_when_unset():
    detail = dict(DETAIL, type=1, erasure_code_profile="", flags_names="hashpspool", options={},
                  application_metadata={})
    pool = describe_pool(detail, {}, None, None)
    assert pool["type"] == "replicated"
    assert pool["erasure_profile"] is None
    assert pool["allow_ec_overwrites"] is False
    assert pool["compression_mode"] == "none"
    assert pool["crush_rule"] == "1"
    assert pool["namespaces"] == []
    assert pool["used_bytes"] == 0


def test_health_summary_keeps_status_and_one_message_per_check():
    health = {"status": "HEALTH_WARN", "checks": {
        "OSD_DOWN": {"severity": "HEALTH_WARN", "summary": {"message": "1 osds down"}, "detail": []}}}
    assert summarize_health(health) == {
        "health": "HEALTH_WARN",
        "checks": {"OSD_DOWN": {"severity": "HEALTH_WARN", "message": "1 osds down"}},
    }
    assert summarize_health({}) == {"health": "UNKNOWN", "checks": {}}
