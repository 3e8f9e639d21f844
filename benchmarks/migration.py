# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: one live migration of a VM with an RBD disk, and one up-front refusal.

Run by `make bench` (`make bench-migration`). Starts a test environment with 2 hypervisors on
127.0.9.1-2 (TESTENV_FLEET_NET, beside a test fleet), or reuses MIGRATION_TESTENV_DIR (a
running one with at least 2 hosts). A VM (96 MiB, no OS, one 64 MiB RBD disk) runs on hv1;
then, --repeats times:

  module     the libvirt migrate3 call alone (libvirt_domain_migrate's `duration`), hv1 <-> hv2
  playbook   migrate.yml end to end (find the VM, plan, access checks on both hosts, move)
  refusal    migrate.yml to a target whose secret holds another key: refused before moving

Reports the best and the median of each. Writes benchmarks/results/migration.json and .md.
"""

from __future__ import annotations

import base64
import json
import os
import re
import statistics
import struct
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from typing import Any

from fleet import ansible_env  # pylint: disable=import-error
from run import BIN, ROOT, TESTENV, run_fleet_benchmark  # pylint: disable=import-error


def host_run(env: dict[str, str], host: str, *command: str, stdin: str | None = None) -> str:
    return subprocess.run([str(TESTENV), "exec", env["TESTENV_DIR"], host, "--", *command], input=stdin,
                          capture_output=True, text=True, check=True).stdout


def ceph(env: dict[str, str], *args: str) -> str:
    return subprocess.run(["ceph", "--conf", env["CEPH_CONF"], "--keyring", env["CEPH_KEYRING"], *args],
                          capture_output=True, text=True, check=True).stdout


def set_secret(env: dict[str, str], host: str, secret: str, user: str, key: str) -> None:
    subprocess.run([str(TESTENV), "exec", env["TESTENV_DIR"], host, "--", "virsh", "secret-undefine", secret],
                   capture_output=True, check=False)
    host_run(env, host, "virsh", "secret-define", "/dev/stdin",
             stdin=f"<secret ephemeral='no' private='yes'><uuid>{secret}</uuid>"
                   f"<usage type='ceph'><name>client.{user} secret</name></usage></secret>")
    host_run(env, host, "virsh", "secret-set-value", secret, "--file", "/dev/stdin", stdin=key)


def domain_xml(name: str, pool: str, user: str, secret: str, mon: str) -> str:
    dom = ET.Element("domain", {"type": "kvm" if os.access("/dev/kvm", os.R_OK) else "qemu"})
    ET.SubElement(dom, "name").text = name
    ET.SubElement(dom, "memory", {"unit": "MiB"}).text = "96"
    ET.SubElement(ET.SubElement(dom, "os"), "type", {"arch": "x86_64", "machine": "pc"}).text = "hvm"
    disk = ET.SubElement(ET.SubElement(dom, "devices"), "disk", {"type": "network", "device": "disk"})
    ET.SubElement(disk, "driver", {"name": "qemu", "type": "raw", "cache": "writeback"})
    source = ET.SubElement(disk, "source", {"protocol": "rbd", "name": f"{pool}/vol"})
    host, port = mon.rsplit(":", 1)
    ET.SubElement(source, "host", {"name": host, "port": port})
    ET.SubElement(ET.SubElement(disk, "auth", {"username": user}), "secret", {"type": "ceph", "uuid": secret})
    ET.SubElement(disk, "target", {"dev": "vda", "bus": "virtio"})
    return ET.tostring(dom, encoding="unicode")


def migrate(env: dict[str, str], vm: str, target: str) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", env["TESTENV_INVENTORY"], "--limit", "hv1,hv2",
                           "-e", json.dumps({"vm": vm, "target": target, "migration_access_timeout": 5}),
                           str(ROOT / "playbooks" / "migrate.yml")],
                          capture_output=True, text=True, env=ansible_env(), check=False, cwd=str(ROOT))
    seconds = time.monotonic() - started
    # The Report task's line: "<vm> moved from hv1 to hv2 in 1.38 s" (the module's duration).
    moved = re.search(r"moved from \S+ to \S+ in ([0-9.]+) s", proc.stdout)
    return seconds, {"rc": proc.returncode, "duration": float(moved.group(1)) if moved else None}


def setup(env: dict[str, str], tag: str) -> dict[str, str]:
    names = {"pool": f"benchmig-{tag}", "user": f"benchmig{tag}", "secret": str(uuid.uuid4()), "vm": f"benchmig-{tag}"}
    ceph(env, "osd", "pool", "create", names["pool"], "8")
    ceph(env, "osd", "pool", "application", "enable", names["pool"], "rbd")
    subprocess.run(["rbd", "--conf", env["CEPH_CONF"], "--keyring", env["CEPH_KEYRING"], "create", "--size", "64",
                    f"{names['pool']}/vol"], check=True)
    ceph(env, "auth", "get-or-create", f"client.{names['user']}", "mon", "profile rbd", "osd",
         f"profile rbd pool={names['pool']}")
    names["key"] = ceph(env, "auth", "get-key", f"client.{names['user']}").strip()
    for host in ("hv1", "hv2"):
        set_secret(env, host, names["secret"], names["user"], names["key"])
    host_run(env, "hv1", "virsh", "define", "/dev/stdin",
             stdin=domain_xml(names["vm"], names["pool"], names["user"], names["secret"], env["TESTENV_MON_ADDR"]))
    host_run(env, "hv1", "virsh", "start", names["vm"])
    return names


def teardown(env: dict[str, str], names: dict[str, str]) -> None:
    for host in ("hv1", "hv2"):
        subprocess.run([str(TESTENV), "exec", env["TESTENV_DIR"], host, "--", "sh", "-c",
                        f"virsh destroy {names['vm']}; virsh undefine {names['vm']}; "
                        f"virsh secret-undefine {names['secret']}"], capture_output=True, check=False)
    ceph(env, "auth", "rm", f"client.{names['user']}")
    ceph(env, "osd", "pool", "rm", names["pool"], names["pool"], "--yes-i-really-really-mean-it")


def measure(env: dict[str, str], repeats: int) -> dict[str, list[float]]:
    names = setup(env, uuid.uuid4().hex[:6])
    runs: dict[str, list[float]] = {"module": [], "playbook": [], "refusal": []}
    try:
        where = "hv1"
        for _repeat in range(repeats):
            target = "hv2" if where == "hv1" else "hv1"
            seconds, result = migrate(env, names["vm"], target)
            if result["rc"] != 0:
                raise RuntimeError(f"the move to {target} failed")
            runs["playbook"].append(seconds)
            runs["module"].append(result["duration"])
            where = target
        other = "hv2" if where == "hv1" else "hv1"
        wrong = base64.b64encode(struct.pack("<HIIH", 1, int(time.time()), 0, 16) + os.urandom(16)).decode()
        set_secret(env, other, names["secret"], names["user"], wrong)
        for _repeat in range(repeats):
            seconds, result = migrate(env, names["vm"], other)
            if result["rc"] == 0:
                raise RuntimeError("a move to a target with another key was not refused")
            runs["refusal"].append(seconds)
    finally:
        teardown(env, names)
    return runs


def markdown(runs: dict[str, list[float]], meta: dict[str, Any]) -> str:
    lines = [f"Run of {meta['date']} ({meta['cpus']} CPUs, load average {meta['load_average'][0]:.1f} at the start; "
             f"{meta['repeats']} runs each):", "", "| what | best s | median s |", "|---|---|---|"]
    labels = {"module": "live migration (migrate3 call)", "playbook": "migrate.yml end to end",
              "refusal": "migrate.yml refusing a target with another key"}
    for key, label in labels.items():
        lines.append(f"| {label} | {min(runs[key]):.2f} | {statistics.median(runs[key]):.2f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    environment = ("ceph-rbd-bench-migration-", "MIGRATION_TESTENV_DIR", ("--osds", "1", "--hypervisors", "2"),
                   "127.0.9")
    return run_fleet_benchmark(__doc__, "migration", 3, environment, measure, markdown)


if __name__ == "__main__":
    sys.exit(main())
