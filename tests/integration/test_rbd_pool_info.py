# SPDX-License-Identifier: GPL-3.0-or-later
"""rbd_pool_info against the real cluster, and the connection failures every module shares."""

from __future__ import annotations

import subprocess
import venv

import pytest

from .cephstate import create_pool, delete_pool, mon, pool_detail, wait_until
from .harness import run_module


@pytest.fixture
def pool(ceph, unique_name):
    name = unique_name("info")
    create_pool(ceph, name)
    mon(ceph, "osd pool set-quota", pool=name, field="max_objects", val="1000")
    yield name
    delete_pool(ceph, name)


def test_lists_a_pool_with_its_settings_and_the_cluster_health(testenv, ceph, pool):
    result = run_module("rbd_pool_info", {})
    assert not result.failed, result.msg
    assert result.changed is False
    by_name = {p["name"]: p for p in result["pools"]}
    assert pool in by_name
    info = by_name[pool]
    detail = pool_detail(ceph, pool)
    assert info["id"] == detail["pool_id"]
    assert info["type"] == "replicated"
    assert info["size"] == detail["size"] == 3
    assert info["min_size"] == detail["min_size"] == 2
    assert info["pg_num"] == 8
    assert info["crush_rule"] == "replicated_rule"
    assert info["applications"] == ["rbd"]
    assert info["quota_max_objects"] == 1000
    assert info["quota_max_bytes"] == 0
    # The mgr reports a new pool a second or so after its creation: until then the space
    # available is null (unknown), never 0 (full).
    assert info["max_avail_bytes"] is None or info["max_avail_bytes"] > 0
    wait_until("the mgr to report the pool's space available", seconds=30, predicate=lambda: (
        run_module("rbd_pool_info", {"name": pool})["pools"][0]["max_avail_bytes"] or 0) > 0)
    assert result["cluster"]["fsid"] == ceph.get_fsid()
    assert result["cluster"]["health"] in ("HEALTH_OK", "HEALTH_WARN", "HEALTH_ERR")


def test_name_filter_returns_one_pool_and_unknown_name_returns_none(testenv, pool):
    one = run_module("rbd_pool_info", {"name": pool})
    assert [p["name"] for p in one["pools"]] == [pool]
    none = run_module("rbd_pool_info", {"name": "no-such-pool"})
    assert not none.failed and none["pools"] == []


def test_invalid_pool_name_is_refused(testenv):
    result = run_module("rbd_pool_info", {"name": "a/b"})
    assert result.failed
    assert "must not contain '/'" in result.msg


def test_unreachable_monitor_fails_within_the_timeout_and_names_it(testenv):
    result = run_module("rbd_pool_info", {"mon_host": ["127.0.0.1:1"], "timeout": 5},
                        env={"CEPH_CONF": ""})
    assert result.failed
    assert "cannot reach the Ceph monitors (127.0.0.1:1) within 5 s" in result.msg
    assert result.seconds < 5 + 10
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("spelling", ["vector", "vector as one string", "mon dump with nonces", "v1 only",
                                      "mixed with an unreachable monitor"])
def test_mon_host_in_every_spelling_ceph_uses_reaches_the_cluster(testenv, pool, spelling):
    """Only mon_host (no ceph.conf): the cluster's own `[v2:...,v1:...]` and its variants."""
    vector = testenv["CEPH_MON_HOST"]
    v1 = vector[vector.index("v1:"):-1]
    mon_host = {
        "vector": [vector],
        "vector as one string": vector,  # Ansible cuts it at the comma; the module joins it back
        "mon dump with nonces": [vector[:-1].replace(",", "/0,") + "/0]"],
        "v1 only": [v1],
        "mixed with an unreachable monitor": [vector, "127.0.0.1:1"],
    }[spelling]
    result = run_module("rbd_pool_info", {"name": pool, "mon_host": mon_host, "timeout": 10},
                        env={"CEPH_CONF": ""})
    assert not result.failed, result.msg
    assert [p["name"] for p in result["pools"]] == [pool]


def test_a_mon_host_that_is_not_an_address_is_refused_before_connecting(testenv):
    result = run_module("rbd_pool_info", {"mon_host": ["abc:def:1"]}, env={"CEPH_CONF": ""})
    assert result.failed
    assert "mon_host entry 'abc:def:1' is not a monitor address" in result.msg
    assert "[v2:host:3300,v1:host:6789]" in result.msg


def test_wrong_key_is_refused_clearly(testenv):
    wrong = "AQDSNAdrc/OqARAAFdUeGvdR5a/LU/xLfHu8VA=="
    result = run_module("rbd_pool_info", {"key": wrong, "keyring": None}, env={"CEPH_KEYRING": ""})
    assert result.failed
    assert "refused client.admin" in result.msg
    assert wrong not in result.stdout + result.stderr


def test_malformed_key_is_refused_without_echoing_it(testenv):
    result = run_module("rbd_pool_info", {"key": "not-a-key"}, env={"CEPH_KEYRING": ""})
    assert result.failed
    assert "not a valid cephx key" in result.msg
    assert "not-a-key" not in result.stdout.replace("********", "")


def test_missing_keyring_and_unknown_user(testenv, tmp_path):
    result = run_module("rbd_pool_info", {"keyring": str(tmp_path / "missing.keyring")})
    assert result.failed and "keyring" in result.msg and "does not exist" in result.msg

    result = run_module("rbd_pool_info", {"user": "nobody"}, env={"CEPH_KEYRING": ""})
    assert result.failed
    assert "client.nobody" in result.msg


def test_unreadable_or_invalid_conf_and_unknown_cluster(testenv, tmp_path):
    result = run_module("rbd_pool_info", {"conf": str(tmp_path)})
    assert result.failed and "does not exist" in result.msg

    result = run_module("rbd_pool_info", {"cluster": "nosuchcluster"}, env={"CEPH_CONF": ""})
    assert result.failed
    assert "no Ceph configuration for cluster 'nosuchcluster'" in result.msg
    assert "Traceback" not in result.stdout


def test_missing_bindings_name_the_debian_package(testenv, tmp_path):
    bare = tmp_path / "bare"
    venv.create(bare, with_pip=False, system_site_packages=False)
    python = str(bare / "bin" / "python")
    assert subprocess.run([python, "-c", "import rados"], capture_output=True, check=False).returncode != 0
    result = run_module("rbd_pool_info", {}, python=python)
    assert result.failed
    assert "python3-rados" in result.msg
    assert "Failed to import the required Python library" in result.msg
