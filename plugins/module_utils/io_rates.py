# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Client I/O rates: per pool from ``osd pool stats``, per image from the mgr's ``rbd_support``
perf queries (``rbd perf image stats``)."""

from __future__ import annotations

from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import CephCluster

POOL_RATE_KEYS = {
    "read_ops_per_sec": "read_op_per_sec",
    "write_ops_per_sec": "write_op_per_sec",
    "read_bytes_per_sec": "read_bytes_sec",
    "write_bytes_per_sec": "write_bytes_sec",
}
IMAGE_RATE_KEYS = {
    "write_ops": "write_ops_per_sec",
    "read_ops": "read_ops_per_sec",
    "write_bytes": "write_bytes_per_sec",
    "read_bytes": "read_bytes_per_sec",
    "write_latency": "write_latency_ns",
    "read_latency": "read_latency_ns",
}


def describe_pool_rates(client_io_rate: dict[str, Any] | None) -> dict[str, int]:
    """One ``client_io_rate`` of ``osd pool stats`` (empty while the pool is idle) as rates."""
    rates = client_io_rate or {}
    return {ours: int(rates.get(theirs, 0)) for ours, theirs in POOL_RATE_KEYS.items()}


def pool_io_rates(cluster: CephCluster) -> dict[str, dict[str, int]]:
    """Client I/O rates of every pool, by pool name, as ``ceph osd pool stats`` shows them."""
    return {entry["pool_name"]: describe_pool_rates(entry.get("client_io_rate"))
            for entry in cluster.mon_command("osd pool stats") or []}


def describe_image_rates(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, float]]:
    """``rbd perf image stats`` output as {(pool/namespace spec, image): rates}.

    Keys of ``stats`` are ``<pool index>/<image>``; ``pool_descriptors`` maps the index to
    ``pool`` or ``pool/namespace``.
    """
    names = report.get("stat_descriptors") or []
    pools = report.get("pool_descriptors") or {}
    rates: dict[tuple[str, str], dict[str, float]] = {}
    for entry in report.get("stats") or []:
        for key, values in entry.items():
            index, _sep, image = key.partition("/")
            spec = pools.get(index, index)
            rates[(spec, image)] = {IMAGE_RATE_KEYS.get(n, n): round(float(v), 3) for n, v in zip(names, values)}
    return rates


def image_io_rates(cluster: CephCluster, pool: str, namespace: str = "") -> dict[str, dict[str, float]]:
    """Per-image rates of a pool/namespace from the mgr's rbd_support module, by image name.

    The first request starts the mgr's perf query: images appear in later requests, about
    10 s after they see I/O, and only while they do (an idle image is absent).
    """
    spec = f"{pool}/{namespace}" if namespace else pool
    report = cluster.mgr_command("rbd perf image stats", pool_spec=spec) or {}
    return {image: rates for (found, image), rates in describe_image_rates(report).items() if found == spec}
