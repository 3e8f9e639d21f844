# SPDX-License-Identifier: GPL-3.0-or-later
"""tests/testenv/testenv itself: a second environment beside the session's one starts,
reports its status, is idempotent, and leaves no process or file behind."""

from __future__ import annotations

import subprocess

from .conftest import TESTENV
from .hypervisor_helpers import process_command_lines


def _processes_mentioning(text: str) -> list[str]:
    return [f"{pid}: {cmdline}" for pid, cmdline in process_command_lines() if text in cmdline]


def test_second_environment_runs_beside_the_first_and_leaves_nothing_behind(testenv, tmp_path):
    directory = tmp_path / "second"
    up = subprocess.run([str(TESTENV), "up", str(directory), "--osds", "1"], capture_output=True, text=True,
                        check=False)
    try:
        assert up.returncode == 0, up.stderr
        env = (directory / "env").read_text()
        assert f"CEPH_CONF='{directory}/ceph.conf'" in env
        assert testenv["CEPH_MON_HOST"] not in env  # its own free ports
        status = subprocess.run([str(TESTENV), "status", str(directory)], capture_output=True, text=True,
                                check=False)
        assert status.returncode == 0, status.stdout
        assert "osd.0: running" in status.stdout and "mon.a: running" in status.stdout
        again = subprocess.run([str(TESTENV), "up", str(directory), "--osds", "1"], capture_output=True,
                               text=True, check=False)
        assert again.returncode == 0 and "already up" in again.stderr
        assert _processes_mentioning(str(directory))
    finally:
        down = subprocess.run([str(TESTENV), "down", str(directory)], capture_output=True, text=True, check=False)
    assert down.returncode == 0, down.stderr
    assert not directory.exists()
    assert _processes_mentioning(str(directory)) == []
    # The session's environment (and the libvirtd it shares) is still up.
    assert subprocess.run([str(TESTENV), "status", testenv["TESTENV_DIR"]], capture_output=True,
                          check=False).returncode == 0
