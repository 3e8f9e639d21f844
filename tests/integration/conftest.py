# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures: one real test environment (Ceph + libvirtd) per pytest run.

Set TESTENV_DIR to reuse an environment that `tests/testenv/testenv up` started
(faster while developing); otherwise one is started here and stopped at the end, with
the fleet of hypervisors the fleet tests need (FLEET_UP_ARGS).

Under pytest-xdist (``-n N``, as `make test-integration` runs it) every worker has an
environment of its own, so that a test that stops an OSD or pauses the cluster never
disturbs another worker's: TESTENV_DIRS names N running environments, worker gwK takes
the K-th (each with its own fleet on its own TESTENV_FLEET_NET).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from .harness import COLLECTION_ROOT

TESTENV = COLLECTION_ROOT / "tests" / "testenv" / "testenv"
# The shape of the session's environment (the Makefile's `make test` starts the same):
# 4 OSDs so that the example inventory's SSD and HDD tiers get two OSDs each, 3 hypervisors.
FLEET_UP_ARGS = ("--osds", "4", "--hypervisors", "3")


def _read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            key, _sep, value = line[len("export "):].partition("=")
            env[key] = shlex.split(value)[0] if value else ""
    return env


def _reused_testenv_dir() -> str | None:
    """The running environment this pytest process uses: TESTENV_DIR, or under xdist the
    worker's own entry of TESTENV_DIRS (never one shared by two workers)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return os.environ.get("TESTENV_DIR")
    directories = os.environ.get("TESTENV_DIRS", "").split()
    index = int(worker.removeprefix("gw"))
    if index >= len(directories):
        pytest.fail(f"pytest-xdist worker {worker} has no test environment of its own: TESTENV_DIRS must name "
                    f"one running environment per worker (it names {len(directories)})")
    if not (Path(directories[index]) / "env").is_file():
        pytest.fail(f"pytest-xdist worker {worker}: {directories[index]} (TESTENV_DIRS) is not a running test "
                    "environment")
    return directories[index]


@pytest.fixture(scope="session")
def testenv() -> Iterator[dict[str, str]]:
    """Environment variables of a running test environment (CEPH_CONF, ...)."""
    reuse = _reused_testenv_dir()
    if reuse and (Path(reuse) / "env").is_file():
        env = _read_env_file(Path(reuse) / "env")
        os.environ.update(env)
        yield env
        return
    directory = Path(tempfile.mkdtemp(prefix="ceph-rbd-testenv-"))
    subprocess.run([str(TESTENV), "up", str(directory), *FLEET_UP_ARGS], check=True)
    env = _read_env_file(directory / "env")
    saved = {k: os.environ.get(k) for k in env}
    try:
        os.environ.update(env)
        yield env
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        subprocess.run([str(TESTENV), "down", str(directory)], check=False)


@pytest.fixture(scope="session")
def ceph(testenv):
    """An admin librados connection for asserting on the real cluster's state."""
    import rados  # pylint: disable=import-outside-toplevel

    handle = rados.Rados(conffile=testenv["CEPH_CONF"], conf={"keyring": testenv["CEPH_KEYRING"]})
    handle.connect(timeout=30)
    yield handle
    handle.shutdown()


@pytest.fixture
def unique_name():
    """A short unique name for pools, images ... created by one test."""
    def make(prefix: str = "t") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:8]}"
    return make


# About how long each file takes on an idle 2-core machine, in seconds: the wall times of
# a `make test` on a loaded machine (2026-12-03) scaled to the serial suite's 33 minutes
# idle. pytest-xdist deals whole files out to its workers in this order, longest first, so
# that the workers finish together. A file not listed counts as DEFAULT_SECONDS: list a new
# file that takes over a minute.
FILE_SECONDS = {
    "test_rbd_image.py": 165, "test_reliability.py": 155, "test_ceph_config.py": 155,
    "test_fleet_rotation.py": 145, "test_libvirt_rbd_disk.py": 135, "test_hardening.py": 215,
    "test_fleet.py": 115, "test_rbd_pool.py": 115, "test_example_inventory.py": 100,
    "test_attachment_records.py": 90, "test_packaging.py": 80, "test_roles.py": 80, "test_monitoring.py": 75,
    "test_libvirt_secret.py": 70, "test_rbd_snapshot.py": 55, "test_ceph_client_key.py": 55,
    "test_rbd_pool_info.py": 55, "test_health_gate.py": 40, "test_ceph_crush_rule.py": 40,
    # measured alone on an idle machine (pytest --durations=0)
    "test_migration.py": 250, "test_golden_images.py": 115, "test_rbd_image_import.py": 70,
    "test_demo_vm.py": 26,
}
DEFAULT_SECONDS = 30


def pytest_collection_modifyitems(items):
    """Files longest first (FILE_SECONDS), in their own order within a file;
    test_module_docs.py last: it checks the results every other test's runs returned."""
    def key(item):
        filename = item.nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
        return filename == "test_module_docs.py", -FILE_SECONDS.get(filename, DEFAULT_SECONDS)
    items.sort(key=key)


@pytest.fixture(scope="session")
def fleet(testenv) -> dict[str, str]:
    """The session's fleet of hypervisors (``testenv up DIR --hypervisors N``): the env
    variables, with TESTENV_INVENTORY naming its inventory. One fleet serves every test."""
    if not testenv.get("TESTENV_INVENTORY"):
        pytest.fail(f"the test environment {testenv['TESTENV_DIR']} has no hypervisors: start it with "
                    f"`tests/testenv/testenv up DIR {' '.join(FLEET_UP_ARGS)}`")
    return testenv


def fleet_exec(testenv: dict[str, str], host: str, *command: str, check: bool = True,
               stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run a command inside fleet host ``host`` (its files, its libvirtd) as root."""
    return subprocess.run([str(TESTENV), "exec", testenv["TESTENV_DIR"], host, "--", *command],
                          capture_output=True, text=True, check=check, input=stdin, timeout=300)
