# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: playbooks/hypervisors.yml on a fleet of 1, 2 and 4 hypervisors.

Run by `make bench` (after run.py). Starts a test environment with 4 hypervisors on
127.0.8.1-4 (TESTENV_FLEET_NET, so that it runs beside a test fleet on 127.0.1.x), or reuses
FLEET_TESTENV_DIR (a running one with at least 4 hosts). For each host count H it runs
hypervisors.yml with Ansible's default forks (5) over ssh as the fleet's non-root user with
become, limited to hv1..hvH:

  cold   a new cephx client and secret: key fetched, ceph.conf, keyring and secret written
  warm   the same again (nothing to change: the re-run an operator does)

each the best of --repeats runs (the hosts are cleaned between cold runs), and reports the
time per host count and its ratio to the 1-host time: with perfect parallelism the ratio
stays 1, with none it grows like H. Writes benchmarks/results/fleet.json and fleet.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

from run import BIN, COLLECTIONS, ROOT, TESTENV, run_fleet_benchmark  # pylint: disable=import-error

HOST_COUNTS = (1, 2, 4)


def ansible_env() -> dict[str, str]:
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_NOCOLOR="1",
               ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_LOCALHOST_WARNING="0")
    for key in ("CEPH_CONF", "CEPH_KEYRING", "CEPH_USER", "CEPH_MON_HOST"):
        env.pop(key, None)  # the inventory says where the admin keyring is
    return env


def run_hypervisors(env: dict[str, str], hosts: int, client: str, secret: str) -> tuple[float, str]:
    limit = ",".join(["localhost"] + [f"hv{k}" for k in range(1, hosts + 1)])
    extra = json.dumps({"ceph_client_name": client, "ceph_client_pools": ["rbd"],
                        "ceph_libvirt_secret_uuid": secret, "hypervisor_install_packages": False})
    started = time.monotonic()
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", env["TESTENV_INVENTORY"], "--limit", limit,
                           "-e", extra, str(ROOT / "playbooks" / "hypervisors.yml")],
                          capture_output=True, text=True, env=ansible_env(), check=False, cwd=str(ROOT))
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"hypervisors.yml failed on {hosts} hosts:\n{proc.stdout[-3000:]}")
    return seconds, proc.stdout


def clean(env: dict[str, str], hosts: int, client: str, secret: str) -> None:
    for k in range(1, hosts + 1):
        subprocess.run([str(TESTENV), "exec", env["TESTENV_DIR"], f"hv{k}", "--", "sh", "-c",
                        f"virsh secret-undefine {secret} >/dev/null 2>&1; "
                        f"rm -f /etc/ceph/ceph.conf /etc/ceph/ceph.client.{client}.keyring"], check=False)
    subprocess.run(["ceph", "--conf", env["CEPH_CONF"], "--keyring", env["CEPH_KEYRING"], "auth", "rm",
                    f"client.{client}"], capture_output=True, check=False)


def measure(env: dict[str, str], hosts: int, repeats: int) -> dict[str, Any]:
    cold, warm = [], []
    for _repeat in range(repeats):
        client, secret = f"bench{uuid.uuid4().hex[:6]}", str(uuid.uuid4())
        try:
            seconds, _out = run_hypervisors(env, hosts, client, secret)
            cold.append(seconds)
            seconds, out = run_hypervisors(env, hosts, client, secret)
            if "changed=0" not in out.split("PLAY RECAP")[-1] or "changed=1" in out.split("PLAY RECAP")[-1]:
                raise RuntimeError(f"the re-run on {hosts} hosts changed something:\n{out[-2000:]}")
            warm.append(seconds)
        finally:
            clean(env, hosts, client, secret)
    return {"hosts": hosts, "cold": min(cold), "warm": min(warm), "cold_runs": cold, "warm_runs": warm}


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    base = rows[0]
    lines = [f"Run of {meta['date']} ({meta['cpus']} CPUs, load average {meta['load_average'][0]:.1f} "
             f"at the start, {meta['load_average_at_end'][0]:.1f} at the end; best of {meta['repeats']}; "
             f"default forks):", "",
             "| hosts | cold s | cold / 1 host | cold per host s | warm s | warm / 1 host | warm per host s |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['hosts']} | {row['cold']:.2f} | {row['cold'] / base['cold']:.2f} | "
                     f"{row['cold'] / row['hosts']:.2f} | {row['warm']:.2f} | {row['warm'] / base['warm']:.2f} | "
                     f"{row['warm'] / row['hosts']:.2f} |")
    return "\n".join(lines) + "\n"


def measure_fleet(env: dict[str, str], repeats: int) -> list[dict[str, Any]]:
    """Each host count in turn (the environment must have enough hypervisors)."""
    if int(env.get("TESTENV_HYPERVISORS", "0")) < max(HOST_COUNTS):
        raise SystemExit(f"{env['TESTENV_DIR']} needs {max(HOST_COUNTS)} hypervisors")
    rows = []
    for hosts in HOST_COUNTS:
        print(f"hypervisors.yml on {hosts} host(s) ...", flush=True)
        rows.append(measure(env, hosts, repeats))
    return rows


def main() -> int:
    environment = ("ceph-rbd-bench-fleet-", "FLEET_TESTENV_DIR", ("--osds", "1", "--hypervisors", str(max(HOST_COUNTS))),
                   "127.0.8")
    return run_fleet_benchmark(__doc__, "fleet", 2, environment, measure_fleet, markdown)


if __name__ == "__main__":
    sys.exit(main())
