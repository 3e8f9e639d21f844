# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    InvalidInputError,
    NoSpaceError,
    PermissionDeniedError,
    UnreachableError,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.health import summarize_health
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.pools import describe_pool
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.write_errors import (
    explain_blocked_write,
    explain_pool_error,
    reached_quotas,
)

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


# ---------------------------------------------------------------- full pools (issue 11)

class FakeCluster:
    """Answers the mon commands explain_blocked_write reads."""

    def __init__(self, flags: str, cluster_flags: str = "", objects: int = 0, stored: int = 0) -> None:
        self.answers = {
            "osd pool ls": [{"pool_name": "vols", "flags_names": flags, "quota_max_objects": 8,
                             "quota_max_bytes": 0}],
            "df": {"pools": [{"name": "vols", "stats": {"objects": objects, "stored": stored}}]},
            "osd dump": {"flags": cluster_flags},
        }

    def mon_command(self, prefix, **_args):
        return self.answers[prefix]


def test_reached_quotas_names_the_quota_usage_reached():
    detail = {"quota_max_objects": 8, "quota_max_bytes": 1024}
    assert reached_quotas(detail, {"objects": 9, "stored": 10}) == ["max_objects 8 (9 objects stored)"]
    assert reached_quotas(detail, {"objects": 1, "stored": 2048}) == ["max_bytes 1024 (2048 bytes stored)"]


def test_reached_quotas_names_every_set_quota_while_usage_lags_behind():
    assert reached_quotas({"quota_max_objects": 8, "quota_max_bytes": 0}, {}) == ["max_objects 8"]


def test_a_timeout_on_a_quota_full_pool_becomes_a_no_space_error_naming_the_quota():
    timeout = UnreachableError("create image vols/a: timed out", errno=110)
    error = explain_blocked_write(FakeCluster("hashpspool,full,full_quota", objects=9), "vols", timeout)
    assert isinstance(error, NoSpaceError)
    assert error.msg.startswith("pool 'vols' is full: quota max_objects 8 (9 objects stored) reached")
    assert "create image vols/a: timed out" in error.msg
    assert error.details["pool"] == "vols"


def test_a_timeout_on_a_full_cluster_says_the_cluster_is_full():
    timeout = UnreachableError("create image vols/a: timed out")
    error = explain_blocked_write(FakeCluster("hashpspool", cluster_flags="full,sortbitwise"), "vols", timeout)
    assert isinstance(error, NoSpaceError) and "the cluster is full" in error.msg


def test_other_errors_and_pools_that_are_not_full_are_left_alone():
    timeout = UnreachableError("create image vols/a: timed out")
    assert explain_blocked_write(FakeCluster("hashpspool"), "vols", timeout) is timeout
    invalid = InvalidInputError("bad")
    assert explain_blocked_write(FakeCluster("full_quota"), "vols", invalid) is invalid


def test_a_permission_error_names_the_client_and_the_caps_it_needs():
    cluster = FakeCluster("hashpspool")
    cluster.user = "narrow"
    denied = PermissionDeniedError("list images in vols: permission denied", errno=1)
    error = explain_pool_error(cluster, "vols", denied)
    assert isinstance(error, PermissionDeniedError)
    assert error.msg.startswith("client.narrow is not allowed to do this, its caps do not cover it "
                                "(list images in vols: permission denied)")
    assert "osd 'profile rbd pool=<pool>'" in error.msg


def test_a_pool_the_mgr_has_not_reported_yet_has_no_max_avail_rather_than_a_full_reading():
    """Just after its creation a pool is in the OSD map but not yet in the mgr's ``df``
    (about 1.5 s here): its space available is unknown (None), never 0, which means full."""
    unreported = describe_pool(DETAIL, {}, None, None)
    assert unreported["max_avail_bytes"] is None
    assert (unreported["stored_bytes"], unreported["used_bytes"], unreported["objects"]) == (0, 0, 0)
    reported = describe_pool(DETAIL, {}, {"stored": 0, "bytes_used": 0, "objects": 0, "max_avail": 0}, None)
    assert reported["max_avail_bytes"] == 0  # a full cluster still reads as full
