# SPDX-License-Identifier: GPL-3.0-or-later
"""ceph_config, ceph_mgr_module and rbd_pool's rbd_stats against the real cluster."""

from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest

from .cephstate import create_rbd_pool, delete_pool, mon
from .harness import BIN, FQCN, SYSTEM_PYTHON, ansible_env, run_module, run_playbook, write_playbook
from .monitoring_helpers import RBD_STATS_OPTION, config_entry, config_rm, mgr_module_enabled, rbd_stats_entries


@pytest.fixture
def client_section(ceph, unique_name):
    who = f"client.{unique_name('cfg')}"
    yield who
    config_rm(ceph, who, "rbd_cache_size")


def converge(args, expect_changed):
    """check, then apply: both report ``expect_changed``; returns the apply's result."""
    check = run_module("ceph_config", args, check=True)
    assert not check.failed, check.msg
    assert check.changed is expect_changed
    applied = run_module("ceph_config", args)
    assert not applied.failed, applied.msg
    assert applied.changed is expect_changed
    assert applied["config"] == check["config"]
    return applied


def test_option_set_normalised_changed_and_removed(ceph, client_section):
    args = {"who": client_section, "name": "rbd_cache_size", "value": "64M"}
    applied = converge(args, True)
    assert applied["config"]["value"] == "67108864"
    assert applied.diff == {"before": {"who": client_section, "name": "rbd_cache_size", "value": None},
                            "after": {"who": client_section, "name": "rbd_cache_size", "value": "67108864"}}
    assert config_entry(ceph, client_section, "rbd_cache_size") == "67108864"
    converge(args, False)
    # The same value written as Ceph stores it, or as an integer: no change.
    converge(dict(args, value="67108864"), False)
    converge(dict(args, value=67108864), False)
    converge(dict(args, value="128M"), True)
    assert config_entry(ceph, client_section, "rbd_cache_size") == "134217728"
    removed = converge({"who": client_section, "name": "rbd_cache_size", "state": "absent"}, True)
    assert removed["config"]["value"] is None
    assert config_entry(ceph, client_section, "rbd_cache_size") is None
    converge({"who": client_section, "name": "rbd_cache_size", "state": "absent"}, False)


def test_mgr_module_option_is_normalised_by_its_type(ceph):
    args = {"who": "mgr", "name": "mgr/prometheus/scrape_interval", "value": 20}
    try:
        applied = converge(args, True)
        assert applied["config"]["value"] == "20.000000"
        assert applied["config"]["type"] == "float"
        converge(dict(args, value="20.0"), False)
    finally:
        config_rm(ceph, "mgr", "mgr/prometheus/scrape_interval")


def test_masked_target_is_its_own_entry(ceph):
    args = {"who": "osd/class:ssd", "name": "osd_max_backfills", "value": 3}
    try:
        converge(args, True)
        assert config_entry(ceph, "osd/class:ssd", "osd_max_backfills") == "3"
        assert config_entry(ceph, "osd", "osd_max_backfills") is None
        converge(args, False)
    finally:
        config_rm(ceph, "osd/class:ssd", "osd_max_backfills")


BAD_INPUT = [
    ({"name": "rbd_cache_sise", "value": "1"}, "unknown Ceph option 'rbd_cache_sise': the cluster does not know it"),
    ({"name": "mgr/prometheus/no_such", "value": "1"}, "unknown Ceph option 'mgr/prometheus/no_such'"),
    ({"name": "rbd_cache_size", "value": "lots"}, "'lots' is not a valid value for rbd_cache_size (type size"),
    ({"name": "rbd_cache_policy", "value": "fast"}, "one of writethrough, writeback, writearound"),
    ({"name": "mgr/prometheus/server_port", "value": "http"}, "'http' is not a valid value for mgr/prometheus/server_port"),
    ({"who": "nobody", "name": "rbd_cache_size", "value": "1"}, "who 'nobody' is not a Ceph config target"),
    ({"name": "osd_memory_target; rm -rf /", "value": "1"}, "unknown Ceph option 'osd_memory_target; rm -rf /'"),
    ({"name": "rbd_cache_size"}, "state is present but all of the following are missing: value"),
]


@pytest.mark.parametrize("check", [True, False])
def test_bad_input_is_refused_and_changes_nothing(ceph, client_section, tmp_path, check):
    """Every bad input in one playbook run (ignore_errors), in check mode and for real."""
    before = mon(ceph, "config dump")
    tasks = [{"name": f"bad {index}", f"{FQCN}.ceph_config": dict({"who": client_section}, **args),
              "ignore_errors": True} for index, (args, _message) in enumerate(BAD_INPUT)]
    result = run_playbook(write_playbook(tmp_path, tasks), check=check)
    assert len(result.tasks) == len(BAD_INPUT)
    for task, (_args, message) in zip(result.tasks, BAD_INPUT):
        assert task.get("failed"), task
        assert message in task["msg"]
    assert mon(ceph, "config dump") == before


def test_mgr_module_disable_enable_and_refusals(ceph):
    assert mgr_module_enabled(ceph, "iostat")
    try:
        for check, changed in ((True, True), (False, True), (True, False), (False, False)):
            result = run_module("ceph_mgr_module", {"name": "iostat", "state": "disabled"}, check=check)
            assert not result.failed, result.msg
            assert result.changed is changed
            assert result["module"]["enabled"] is False
        assert not mgr_module_enabled(ceph, "iostat")
        assert result.diff["after"]["enabled"] is False
    finally:
        enabled = run_module("ceph_mgr_module", {"name": "iostat"})
    assert enabled.changed and enabled.diff["before"]["enabled"] is False
    assert mgr_module_enabled(ceph, "iostat")
    assert not run_module("ceph_mgr_module", {"name": "iostat"}).changed

    always_on = run_module("ceph_mgr_module", {"name": "rbd_support", "state": "disabled"})
    assert always_on.failed and "'rbd_support' is always on" in always_on.msg
    assert mgr_module_enabled(ceph, "rbd_support")
    unknown = run_module("ceph_mgr_module", {"name": "promethues"})
    assert unknown.failed and "the mgr has no module 'promethues'" in unknown.msg and "prometheus" in unknown.msg


# ---------------------------------------------------------------- rbd_pool rbd_stats

@pytest.fixture
def stats_pools(ceph, unique_name):
    names = [unique_name("stats") for _index in range(3)]
    for name in names:
        create_rbd_pool(ceph, name, namespaces=("tenant",))
    saved = config_entry(ceph, "mgr", RBD_STATS_OPTION)
    mon(ceph, "config set", who="mgr", name=RBD_STATS_OPTION, value="someone-elses-pool,other/ns")
    yield names
    for name in names:
        delete_pool(ceph, name)
    if saved is None:
        config_rm(ceph, "mgr", RBD_STATS_OPTION)
    else:
        mon(ceph, "config set", who="mgr", name=RBD_STATS_OPTION, value=saved)


def test_rbd_stats_adds_and_removes_a_pool_and_keeps_others(ceph, stats_pools):
    pool = stats_pools[0]
    for check, changed in ((True, True), (False, True), (True, False), (False, False)):
        result = run_module("rbd_pool", {"name": pool, "rbd_stats": True}, check=check)
        assert not result.failed, result.msg
        assert result.changed is changed
        assert result["pool"]["rbd_stats"] is True
    assert rbd_stats_entries(ceph) == ["someone-elses-pool", "other/ns", pool]
    assert result.diff["before"]["rbd_stats"] is True
    for check, changed in ((True, True), (False, True), (False, False)):
        result = run_module("rbd_pool", {"name": pool, "rbd_stats": False}, check=check)
        assert result.changed is changed and result["pool"]["rbd_stats"] is False
    assert rbd_stats_entries(ceph) == ["someone-elses-pool", "other/ns"]
    # A pool left out of rbd_stats is not touched by a run without the option.
    assert not run_module("rbd_pool", {"name": pool}).changed


def test_concurrent_runs_for_different_pools_keep_every_entry(ceph, stats_pools):
    procs = [subprocess.Popen(
        [str(BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local",
         "-e", f"ansible_python_interpreter={SYSTEM_PYTHON}", "-m", f"{FQCN}.rbd_pool",
         "-a", json.dumps({"name": name, "rbd_stats": True})],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ansible_env()) for name in stats_pools]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), outputs
    assert sorted(rbd_stats_entries(ceph)) == sorted(["someone-elses-pool", "other/ns"] + stats_pools)


def test_deleting_a_pool_removes_its_entry(ceph, stats_pools):
    pool = stats_pools[1]
    mon(ceph, "config set", who="mgr", name=RBD_STATS_OPTION, value=f"someone-elses-pool,{pool},{pool}/tenant")
    deleted = run_module("rbd_pool", {"name": pool, "state": "absent"})
    assert deleted.changed and not deleted.failed, deleted.msg
    assert rbd_stats_entries(ceph) == ["someone-elses-pool"]
    again = run_module("rbd_pool", {"name": pool, "state": "absent"})
    assert not again.changed and not again.failed


def test_rbd_stats_false_under_a_star_is_refused(ceph, stats_pools):
    mon(ceph, "config set", who="mgr", name=RBD_STATS_OPTION, value="*")
    refused = run_module("rbd_pool", {"name": stats_pools[2], "rbd_stats": False})
    assert refused.failed and "'*' collects every pool" in refused.msg
    assert rbd_stats_entries(ceph) == ["*"]
    covered = run_module("rbd_pool", {"name": stats_pools[2], "rbd_stats": True})
    assert not covered.changed and covered["pool"]["rbd_stats"] is True


def test_an_entry_overwritten_by_a_stale_writer_is_written_again(ceph, stats_pools):
    """A rival that keeps writing the list it read before our change (so without our pool)
    for 8 s: rbd_pool notices on re-reading, writes again, and ends with both entries."""
    pool = stats_pools[2]
    stale = "someone-elses-pool,other/ns"
    overwrites = []

    def rival():
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            if pool in rbd_stats_entries(ceph):
                mon(ceph, "config set", who="mgr", name=RBD_STATS_OPTION, value=stale)
                overwrites.append(time.monotonic())
            time.sleep(0.1)

    thread = threading.Thread(target=rival)
    thread.start()
    try:
        result = run_module("rbd_pool", {"name": pool, "rbd_stats": True})
    finally:
        thread.join()
    assert not result.failed, result.msg
    assert result.changed and result["pool"]["rbd_stats"] is True
    assert overwrites, "the rival never overwrote the entry: the race did not happen"
    assert rbd_stats_entries(ceph) == ["someone-elses-pool", "other/ns", pool]
