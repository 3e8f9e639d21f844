# SPDX-License-Identifier: GPL-3.0-or-later
"""tests/testenv/testenv itself: a second environment (and a second fleet of hypervisors)
beside the session's one starts, reports its status, is idempotent, and leaves no process,
mount or file behind."""

from __future__ import annotations

import os
import socket
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


def _namespace_members(namespaces: set[str]) -> list[str]:
    members = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        for kind in ("pid", "mnt"):
            try:
                if os.readlink(f"/proc/{pid}/ns/{kind}") in namespaces:
                    members.append(pid)
            except OSError:
                pass
    return members


SPARE_NET = os.environ.get("TESTENV_SPARE_FLEET_NET", "127.0.9")


def _listening(address: str) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex((address, 22)) == 0


def test_a_second_fleet_beside_the_first_is_refused_on_taken_addresses_and_leaves_nothing_behind(testenv, tmp_path):
    # The session's fleets hold 127.0.1.K and 127.0.2.K: a second one goes to 127.0.9.K
    # (TESTENV_SPARE_FLEET_NET: another net where 127.0.9 is taken).
    directory, refused = tmp_path / "fleet", tmp_path / "refused"
    env = dict(os.environ, TESTENV_FLEET_NET=SPARE_NET)
    up = subprocess.run([str(TESTENV), "up", str(directory), "--osds", "1", "--hypervisors", "2"],
                        capture_output=True, text=True, check=False, env=env)
    namespaces: set[str] = set()
    try:
        assert up.returncode == 0, up.stderr
        inventory = (directory / "inventory").read_text()
        assert f"ansible_host: {SPARE_NET}.1" in inventory and f"ansible_host: {SPARE_NET}.2" in inventory
        for host in ("hv1", "hv2"):
            init = (directory / host / "init.pid").read_text().strip()
            namespaces |= {os.readlink(f"/proc/{init}/ns/pid"), os.readlink(f"/proc/{init}/ns/mnt")}
            hostname = subprocess.run([str(TESTENV), "exec", str(directory), host, "--", "hostname"],
                                      capture_output=True, text=True, check=False)
            assert hostname.stdout.strip() == host
        # Start a VM on hv1: down must stop it too.
        started = subprocess.run(
            [str(TESTENV), "exec", str(directory), "hv1", "--", "virsh", "create", "/dev/stdin"],
            input="<domain type='qemu'><name>t-down</name><memory unit='MiB'>64</memory>"
                  "<os><type arch='x86_64' machine='pc'>hvm</type></os></domain>",
            capture_output=True, text=True, check=False)
        assert started.returncode == 0, started.stderr
        assert _listening(f"{SPARE_NET}.1") and _listening(f"{SPARE_NET}.2")
        # The same addresses again: refused before anything starts, nothing left.
        again = subprocess.run([str(TESTENV), "up", str(refused), "--osds", "1", "--hypervisors", "1"],
                               capture_output=True, text=True, check=False, env=env)
        assert again.returncode == 1
        assert f"{SPARE_NET}.1:22 is already taken" in again.stderr
        assert not refused.exists() and _processes_mentioning(str(refused)) == []
    finally:
        down = subprocess.run([str(TESTENV), "down", str(directory)], capture_output=True, text=True, check=False)
    assert down.returncode == 0, down.stderr
    assert len(namespaces) == 4
    assert _namespace_members(namespaces) == []  # QEMU, daemons, sshd: all gone
    assert not directory.exists() and _processes_mentioning(str(directory)) == []
    assert not _listening(f"{SPARE_NET}.1") and not _listening(f"{SPARE_NET}.2")
    with open("/proc/self/mountinfo", encoding="utf-8") as mounts:
        assert str(directory) not in mounts.read()
