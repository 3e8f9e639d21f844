# SPDX-License-Identifier: GPL-3.0-or-later
"""The playbooks' health gate (playbooks/tasks/health_gate.yml) against a real unhealthy cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .cephstate import cluster_settled, delete_pool, pool_detail, wait_until
from .harness import COLLECTION_ROOT, SYSTEM_PYTHON, run_playbook
from .monitoring_helpers import clear_health_error, daemon, health_checks, raise_health_error

PLAYBOOKS = COLLECTION_ROOT / "playbooks"
GATE_TASKS = {"Health gate - read the cluster's health", "Health gate - stop on HEALTH_ERR",
              "Health gate - warn about an unhealthy cluster", "Health gate - checked for this run"}


def inventory(directory: Path, testenv) -> Path:
    """ceph_admin = localhost; hypervisors = another (local) host, so a run that went on past a
    failed gate would show tasks of that host."""
    local = {"ansible_connection": "local", "ansible_python_interpreter": SYSTEM_PYTHON}
    data = {"all": {"vars": {"ceph_conf": testenv["CEPH_CONF"], "ceph_keyring": testenv["CEPH_KEYRING"]},
                    "children": {"ceph_admin": {"hosts": {"localhost": local}},
                                 "hypervisors": {"hosts": {"hv-gate": local}}}}}
    path = directory / "inventory.json"
    path.write_text(json.dumps(data))
    return path


def task_names(result) -> list[str]:
    return [task["_task"] for task in result.tasks]


@pytest.fixture
def gate_pool(ceph, unique_name):
    name = unique_name("gate")
    yield name
    delete_pool(ceph, name)


@pytest.fixture
def health_error(ceph):
    raise_health_error(ceph)
    try:
        yield
    finally:
        clear_health_error(ceph)


def test_health_error_stops_pools_before_any_change_unless_overridden(testenv, ceph, tmp_path, gate_pool,
                                                                      health_error):
    hosts = inventory(tmp_path, testenv)
    extra = {"ceph_pools": [{"name": gate_pool, "pg_num": 8}]}
    for check in (True, False):
        stopped = run_playbook(PLAYBOOKS / "pools.yml", inventory=hosts, extra_vars=extra, check=check)
        assert stopped["_rc"] != 0
        failed = [t for t in stopped.tasks if t.get("failed")]
        assert [t["_task"] for t in failed] == ["Health gate - stop on HEALTH_ERR"]
        assert "Ceph is HEALTH_ERR, nothing was changed: MON_DISK_CRIT (HEALTH_ERR:" in failed[0]["msg"]
        assert "ceph_health_gate_ignore_error=true" in failed[0]["msg"]
        assert "Pools" not in task_names(stopped)
        assert pool_detail(ceph, gate_pool) is None

    forced = run_playbook(PLAYBOOKS / "pools.yml", inventory=hosts,
                          extra_vars=dict(extra, ceph_health_gate_ignore_error=True))
    assert forced["_rc"] == 0, forced.stdout[-2000:]
    warning = next(t for t in forced.tasks if t["_task"] == "Health gate - warn about an unhealthy cluster")
    assert warning["msg"].startswith("WARNING: Ceph is HEALTH_ERR (ignored: ceph_health_gate_ignore_error)")
    assert "MON_DISK_CRIT" in warning["msg"]
    assert pool_detail(ceph, gate_pool) is not None


def test_health_error_stops_site_before_the_hypervisors_play(testenv, ceph, tmp_path, health_error):
    stopped = run_playbook(PLAYBOOKS / "site.yml", inventory=inventory(tmp_path, testenv))
    assert stopped["_rc"] != 0
    assert set(task_names(stopped)) <= GATE_TASKS, task_names(stopped)
    assert "MON_DISK_CRIT" in stopped.tasks[-1]["msg"]


def test_stopped_osd_is_a_warning_and_the_run_goes_on(testenv, ceph, tmp_path, gate_pool):
    daemon(testenv, "stop", "osd.2")
    try:
        wait_until("OSD_DOWN", lambda: "OSD_DOWN" in health_checks(ceph), seconds=90)
        result = run_playbook(PLAYBOOKS / "pools.yml", inventory=inventory(tmp_path, testenv),
                              extra_vars={"ceph_pools": [{"name": gate_pool, "pg_num": 8}]})
    finally:
        daemon(testenv, "start", "osd.2")
    assert result["_rc"] == 0, result.stdout[-2000:]
    names = task_names(result)
    assert "Health gate - stop on HEALTH_ERR" not in [t["_task"] for t in result.tasks if not t.get("skipped")]
    warning = next(t for t in result.tasks if t["_task"] == "Health gate - warn about an unhealthy cluster")
    assert warning["msg"].startswith("WARNING: Ceph is HEALTH_WARN: ")
    assert "OSD_DOWN (HEALTH_WARN: 1 osds down)" in warning["msg"]
    assert names.index("Health gate - warn about an unhealthy cluster") < names.index("Pools")
    assert pool_detail(ceph, gate_pool) is not None
    wait_until("the cluster to settle", lambda: cluster_settled(ceph), seconds=120)


def test_healthy_cluster_shows_no_warning(testenv, ceph, tmp_path):
    result = run_playbook(PLAYBOOKS / "pools.yml", inventory=inventory(tmp_path, testenv),
                          extra_vars={"ceph_pools": []})
    assert result["_rc"] == 0, result.stdout[-2000:]
    warning = next(t for t in result.tasks if t["_task"] == "Health gate - warn about an unhealthy cluster")
    assert warning.get("skipped")
    stop = next(t for t in result.tasks if t["_task"] == "Health gate - stop on HEALTH_ERR")
    assert stop.get("skipped") and not stop.get("failed")
