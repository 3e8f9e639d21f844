# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures: one real test environment (Ceph + libvirtd) per pytest run.

Set TESTENV_DIR to reuse an environment that `tests/testenv/testenv up` started
(faster while developing); otherwise one is started here and stopped at the end, with
the fleet of hypervisors the fleet tests need (FLEET_UP_ARGS).
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


@pytest.fixture(scope="session")
def testenv() -> Iterator[dict[str, str]]:
    """Environment variables of a running test environment (CEPH_CONF, ...)."""
    reuse = os.environ.get("TESTENV_DIR")
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
