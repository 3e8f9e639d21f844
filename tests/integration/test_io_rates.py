# SPDX-License-Identifier: GPL-3.0-or-later
"""I/O rates in rbd_pool_info (osd pool stats) and rbd_image_info (the mgr's rbd_support)."""

from __future__ import annotations

import time

import pytest

from .cephstate import create_rbd_pool, create_test_image, delete_pool, write_image
from .harness import run_module

WAIT_SECONDS = 120


@pytest.fixture
def busy_pool(ceph, unique_name):
    name = unique_name("io")
    create_rbd_pool(ceph, name, namespaces=("tenant",))
    create_test_image(ceph, name, "vol-busy", 16 << 20)
    create_test_image(ceph, name, "vol-idle", 16 << 20)
    yield name
    delete_pool(ceph, name)


def poll_while_writing(ceph, pool, read, done):
    """Write to vol-busy and call ``read`` until ``done(result)``; return the result."""
    started, result, block = time.monotonic(), None, 0
    while time.monotonic() - started < WAIT_SECONDS:
        for _write in range(16):
            write_image(ceph, pool, "vol-busy", b"w" * 65536, offset=(block % 256) * 65536)
            block += 1
        result = read()
        if done(result):
            return result
        time.sleep(1)
    pytest.fail(f"no I/O rates within {WAIT_SECONDS} s: {result}")
    return None


def test_pool_info_reports_client_io_of_a_busy_pool(ceph, busy_pool):
    def read():
        info = run_module("rbd_pool_info", {"name": busy_pool})
        assert not info.failed, info.msg
        return info["pools"][0]["io_rates"]
    rates = poll_while_writing(ceph, busy_pool, read, lambda r: r["write_ops_per_sec"] > 0)
    assert rates["write_bytes_per_sec"] > 0
    assert set(rates) == {"read_ops_per_sec", "write_ops_per_sec", "read_bytes_per_sec", "write_bytes_per_sec"}


def test_image_info_reports_rates_of_the_busy_image_and_none_for_the_idle_one(ceph, busy_pool):
    def read():
        info = run_module("rbd_image_info", {"pool": busy_pool, "with_io_rates": True, "with_usage": False})
        assert not info.failed, info.msg
        return {image["name"]: image["io_rates"] for image in info["images"]}
    rates = poll_while_writing(ceph, busy_pool, read,
                               lambda r: r["vol-busy"] is not None and r["vol-busy"]["write_ops_per_sec"] > 0)
    assert rates["vol-busy"]["write_bytes_per_sec"] > 0
    assert rates["vol-busy"]["write_latency_ns"] > 0
    assert rates["vol-idle"] is None
    plain = run_module("rbd_image_info", {"pool": busy_pool, "with_usage": False})
    assert all("io_rates" not in image for image in plain["images"])


def test_image_rates_of_an_empty_namespace_are_none_without_error(busy_pool):
    info = run_module("rbd_image_info", {"pool": busy_pool, "namespace": "tenant", "with_io_rates": True})
    assert not info.failed, info.msg
    assert info["images"] == []
