# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.io_rates import (
    describe_image_rates,
    describe_pool_rates,
)


def test_an_idle_pool_has_zero_rates():
    assert describe_pool_rates({}) == {"read_ops_per_sec": 0, "write_ops_per_sec": 0,
                                       "read_bytes_per_sec": 0, "write_bytes_per_sec": 0}


def test_pool_rates_are_renamed_from_osd_pool_stats():
    rates = describe_pool_rates({"read_bytes_sec": 170, "write_bytes_sec": 655216,
                                 "read_op_per_sec": 0, "write_op_per_sec": 9})
    assert rates == {"read_ops_per_sec": 0, "write_ops_per_sec": 9,
                     "read_bytes_per_sec": 170, "write_bytes_per_sec": 655216}


def test_image_rates_are_keyed_by_pool_spec_and_image():
    report = {  # what Ceph 16's `rbd perf image stats` returned here
        "stat_descriptors": ["write_ops", "read_ops", "write_bytes", "read_bytes", "write_latency", "read_latency"],
        "pool_descriptors": {"0": "volumes", "1": "tenant/prod"},
        "stats": [{"0/v1": [12.0, 0.0, 786432.0, 0.0, 1578617.6166666665, 0.0]},
                  {"1/db": [1.0, 2.0, 4096.0, 8192.0, 10.0, 20.0]}],
    }
    rates = describe_image_rates(report)
    assert rates[("volumes", "v1")] == {"write_ops_per_sec": 12.0, "read_ops_per_sec": 0.0,
                                        "write_bytes_per_sec": 786432.0, "read_bytes_per_sec": 0.0,
                                        "write_latency_ns": 1578617.617, "read_latency_ns": 0.0}
    assert rates[("tenant/prod", "db")]["read_bytes_per_sec"] == 8192.0


def test_the_first_report_is_empty():
    assert describe_image_rates({"stat_descriptors": ["write_ops"], "pool_descriptors": {}, "stats": []}) == {}
