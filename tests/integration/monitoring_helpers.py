# SPDX-License-Identifier: GPL-3.0-or-later
"""Observability helpers for tests: central config entries, the mgr's prometheus exporter, health."""

from __future__ import annotations

import re
import socket
import subprocess
import urllib.error
import urllib.request
from typing import Any

from .cephstate import mon, set_monitor_option, wait_until
from .conftest import TESTENV

RBD_STATS_OPTION = "mgr/prometheus/rbd_stats_pools"
# The exporter settings the tests set (under mgr/prometheus/).
PROMETHEUS_OPTIONS = ("server_addr", "server_port", "rbd_stats_pools_refresh_interval", "scrape_interval")


def config_entry(ceph, who: str, name: str) -> str | None:
    """The value stored at exactly ``who`` (``osd``, ``osd/class:ssd``), or None."""
    section, _sep, mask = who.partition("/")
    for entry in mon(ceph, "config dump"):
        if entry["section"] == section and entry.get("mask", "") == mask and entry["name"] == name:
            return entry["value"]
    return None


def config_rm(ceph, who: str, name: str) -> None:
    mon(ceph, "config rm", who=who, name=name)


def rbd_stats_entries(ceph) -> list[str]:
    return [e for e in re.split(r"[\s,]+", config_entry(ceph, "mgr", RBD_STATS_OPTION) or "") if e]


def mgr_module_enabled(ceph, name: str) -> bool:
    listing = mon(ceph, "mgr module ls")
    return name in listing["enabled_modules"] or name in listing["always_on_modules"]


def free_loopback_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scrape(url: str) -> str:
    """The exporter's text, or '' while it does not answer (starting, no data yet)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return ""


_SAMPLE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)', re.M)


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Prometheus text format as (metric, labels, value); comments skipped."""
    result = []
    for match in _SAMPLE.finditer(text):
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group("labels") or ""))
        result.append((match.group("name"), labels, float(match.group("value"))))
    return result


def daemon(testenv, action: str, name: str) -> None:
    """Stop or start one Ceph daemon of the test environment."""
    subprocess.run([str(TESTENV), action, testenv["TESTENV_DIR"], name], check=True, timeout=120,
                   capture_output=True)


def health_checks(ceph) -> dict[str, Any]:
    return mon(ceph, "health", detail="detail").get("checks") or {}


def raise_health_error(ceph) -> None:
    """MON_DISK_CRIT (HEALTH_ERR) on the one-mon test cluster, within seconds.

    (DESIGN.md also injects mon_health_data_update_interval=2; through injectargs of the
    bindings the monitor refuses that option, and the check shows up in ~3 s without it.)
    """
    set_monitor_option(ceph, "mon_data_avail_crit", "100")
    wait_until("MON_DISK_CRIT", lambda: "MON_DISK_CRIT" in health_checks(ceph), seconds=60)


def clear_health_error(ceph) -> None:
    set_monitor_option(ceph, "mon_data_avail_crit", "5")
    wait_until("MON_DISK_CRIT cleared", lambda: "MON_DISK_CRIT" not in health_checks(ceph), seconds=60)
