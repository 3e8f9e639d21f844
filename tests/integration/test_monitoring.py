# SPDX-License-Identifier: GPL-3.0-or-later
"""A real scrape of the mgr's Prometheus exporter, set up by pools.yml (rbd_stats, prometheus).

The metric names docs/monitoring.md lists (between its ``metrics-checked`` markers) are
checked against what this Ceph version really exports.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from .cephstate import create_test_image, delete_pool, mon, write_image
from .harness import COLLECTION_ROOT, SYSTEM_PYTHON, run_module, run_playbook
from .monitoring_helpers import (
    PROMETHEUS_OPTIONS,
    RBD_STATS_OPTION,
    config_entry,
    config_rm,
    free_loopback_port,
    mgr_module_enabled,
    rbd_stats_entries,
    samples,
    scrape,
)

DOCS = COLLECTION_ROOT / "docs" / "monitoring.md"
SCRAPE_SECONDS = 180


def documented_metrics() -> list[str]:
    text = DOCS.read_text()
    block = text.split("<!-- metrics-checked -->")[1].split("<!-- /metrics-checked -->")[0]
    return sorted(set(re.findall(r"`(ceph_[a-z_]+)`", block)))


@pytest.fixture
def exporter(ceph, unique_name, tmp_path):
    """pools.yml run with two pools (rbd_stats true/false) and the exporter on a free port."""
    measured, plain = unique_name("prom"), unique_name("noprom")
    port = free_loopback_port()
    saved_stats = config_entry(ceph, "mgr", RBD_STATS_OPTION)
    was_enabled = mgr_module_enabled(ceph, "prometheus")
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": SYSTEM_PYTHON}},
        "children": {"ceph_admin": {"hosts": {"localhost": None}}}}}))
    variables = {
        "ceph_pools": [{"name": measured, "pg_num": 8, "rbd_stats": True},
                       {"name": plain, "pg_num": 8, "rbd_stats": False}],
        "ceph_prometheus_server_addr": "127.0.0.1",
        "ceph_prometheus_server_port": port,
        "ceph_prometheus_rbd_stats_refresh_interval": 5,
    }
    try:
        result = run_playbook(COLLECTION_ROOT / "playbooks" / "pools.yml", inventory=inventory, extra_vars=variables)
        assert result["_rc"] == 0, result.stdout[-3000:]
        yield {"url": f"http://127.0.0.1:{port}/metrics", "measured": measured, "plain": plain,
               "tasks": result.tasks}
    finally:
        if not was_enabled:
            run_module("ceph_mgr_module", {"name": "prometheus", "state": "disabled"})
        for option in PROMETHEUS_OPTIONS:
            config_rm(ceph, "mgr", f"mgr/prometheus/{option}")
        if saved_stats:
            mon(ceph, "config set", who="mgr", name=RBD_STATS_OPTION, value=saved_stats)
        else:
            config_rm(ceph, "mgr", RBD_STATS_OPTION)
        delete_pool(ceph, measured)
        delete_pool(ceph, plain)


def test_pools_playbook_sets_up_the_exporter(ceph, exporter):
    assert mgr_module_enabled(ceph, "prometheus")
    assert config_entry(ceph, "mgr", "mgr/prometheus/server_addr") == "127.0.0.1"
    assert config_entry(ceph, "mgr", "mgr/prometheus/rbd_stats_pools_refresh_interval") == "5"
    assert exporter["measured"] in rbd_stats_entries(ceph)
    assert exporter["plain"] not in rbd_stats_entries(ceph)


def test_scrape_shows_per_volume_io_of_marked_pools_only(ceph, exporter):
    measured, plain = exporter["measured"], exporter["plain"]
    # Shorter collection cycle of the exporter, through the collection's own module.
    shortened = run_module("ceph_config", {"who": "mgr", "name": "mgr/prometheus/scrape_interval", "value": 5})
    assert not shortened.failed, shortened.msg
    for pool in (measured, plain):
        create_test_image(ceph, pool, "vol-metrics", 8 << 20)
    pool_ids = {p["pool_name"]: p["pool_id"] for p in mon(ceph, "osd pool ls", detail="detail")}

    def series(text, wanted_metric, **labels):
        return [value for metric, found, value in samples(text)
                if metric == wanted_metric and all(found.get(k) == str(v) for k, v in labels.items())]

    text, started, written = "", time.monotonic(), 0
    while time.monotonic() - started < SCRAPE_SECONDS:
        for pool in (measured, plain):  # keep writing: the OSDs count I/O once the query exists
            write_image(ceph, pool, "vol-metrics", b"m" * 65536, offset=(written % 64) * 65536)
        written += 1
        text = scrape(exporter["url"])
        image = {"pool": measured, "namespace": "", "image": "vol-metrics"}
        if (any(v > 0 for v in series(text, "ceph_rbd_write_ops", **image))
                and any(v > 0 for v in series(text, "ceph_rbd_write_bytes", **image))
                and any(v > 0 for v in series(text, "ceph_pool_stored", pool_id=pool_ids[measured]))):
            break
        time.sleep(2)
    else:
        pytest.fail(f"no per-volume write metrics for {measured}/vol-metrics within {SCRAPE_SECONDS} s:\n"
                    + "\n".join(line for line in text.splitlines() if "rbd" in line or "pool" in line)[:4000])
    print(f"FIGURE per-volume metrics after {time.monotonic() - started:.0f} s")
    assert series(text, "ceph_pool_metadata", pool_id=pool_ids[measured], name=measured)
    assert not [s for s in samples(text) if s[0].startswith("ceph_rbd_") and s[1].get("pool") == plain]

    # Declared (# HELP) or sampled: ceph_health_detail has samples only while a check fails.
    exported = {metric for metric, _labels, _value in samples(text)} | set(re.findall(r"^# HELP (\S+)", text, re.M))
    missing = [name for name in documented_metrics() if name not in exported]
    assert not missing, f"docs/monitoring.md lists metrics this Ceph does not export: {missing}"
