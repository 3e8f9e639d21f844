# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the collection's modules and playbooks the way Ansible runs them.

Every call starts a real ``ansible``/``ansible-playbook`` process with the JSON
callback and returns the parsed per-task result, so tests assert on what a user
would see (changed, failed, msg, diff, return values).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

COLLECTION_ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS_PATH = COLLECTION_ROOT.parents[2]
BIN = Path(sys.executable).parent
FQCN = "limiquantix.ceph_rbd"
SYSTEM_PYTHON = "/usr/bin/python3"

# Every result of a collection module seen by run_module in this pytest session, as
# (module short name, result): test_module_docs.py checks their keys against RETURN.
MODULE_RUNS: list[tuple[str, dict[str, Any]]] = []
# Where several pytest processes (xdist workers) pool those results for one later run of
# test_module_docs.py: each appends to a JSON-lines file of its own in this directory.
MODULE_RUNS_DIR = os.environ.get("MODULE_RUNS_DIR")


def record_module_run(module: str, data: dict[str, Any]) -> None:
    MODULE_RUNS.append((module, data))
    if MODULE_RUNS_DIR:
        Path(MODULE_RUNS_DIR).mkdir(parents=True, exist_ok=True)
        with open(Path(MODULE_RUNS_DIR) / f"{os.getpid()}.jsonl", "a", encoding="utf-8") as runs:
            runs.write(json.dumps([module, data]) + "\n")


def recorded_module_runs() -> list[tuple[str, dict[str, Any]]]:
    """This session's module results, and with MODULE_RUNS_DIR every process's."""
    if not MODULE_RUNS_DIR or not Path(MODULE_RUNS_DIR).is_dir():
        return list(MODULE_RUNS)
    return [tuple(json.loads(line)) for path in sorted(Path(MODULE_RUNS_DIR).glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines() if line]


@dataclass
class Result:
    """One task's result plus the process's raw output."""

    data: dict[str, Any]
    stdout: str
    stderr: str
    seconds: float
    tasks: list[dict[str, Any]] = field(default_factory=list)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    @property
    def changed(self) -> bool:
        return bool(self.data.get("changed"))

    @property
    def failed(self) -> bool:
        return bool(self.data.get("failed"))

    @property
    def msg(self) -> str:
        return str(self.data.get("msg", ""))

    @property
    def diff(self) -> dict[str, Any]:
        diff = self.data.get("diff") or {}
        if isinstance(diff, list):
            diff = diff[0] if diff else {}
        return diff


def ansible_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_PATH),
        ANSIBLE_CALLBACK_PLUGINS=str(Path(__file__).resolve().parent / "callback_plugins"),
        ANSIBLE_STDOUT_CALLBACK="results_json",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_HOST_KEY_CHECKING="0",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        ANSIBLE_PYTHON_INTERPRETER=SYSTEM_PYTHON,
    )
    env.update(extra or {})
    return env


def _task_results(payload: dict[str, Any]) -> list[dict[str, Any]]:
    results = []
    for play in payload.get("plays", []):
        for task in play.get("tasks", []):
            host = task.get("hosts", {})
            for _name, res in host.items():
                results.append(dict(res, _task=task.get("task", {}).get("name")))
    return results


def _parse(proc: subprocess.CompletedProcess, seconds: float) -> Result:
    start = proc.stdout.find("{")
    if start < 0:
        raise AssertionError(f"no JSON from ansible (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    payload = json.loads(proc.stdout[start:])
    tasks = _task_results(payload)
    last = tasks[-1] if tasks else {}
    return Result(data=last, stdout=proc.stdout, stderr=proc.stderr, seconds=seconds, tasks=tasks)


def run_module(
    module: str,
    args: dict[str, Any] | None = None,
    *,
    check: bool = False,
    diff: bool = True,
    env: dict[str, str] | None = None,
    python: str = SYSTEM_PYTHON,
    verbosity: int = 0,
    timeout: int = 300,
) -> Result:
    """Run one module through ``ansible localhost -m`` and return its result."""
    name = module if "." in module else f"{FQCN}.{module}"
    cmd = [str(BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local",
           "-e", f"ansible_python_interpreter={python}", "-m", name]
    if args:
        cmd += ["-a", json.dumps(args)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ansible_env(env), timeout=timeout,
                          check=False)
    result = _parse(proc, time.monotonic() - started)
    if name.startswith(FQCN + "."):
        record_module_run(name[len(FQCN) + 1:], result.data)
    return result


def run_playbook(
    playbook: str | Path,
    *,
    extra_vars: dict[str, Any] | None = None,
    inventory: str | Path | None = None,
    check: bool = False,
    diff: bool = True,
    env: dict[str, str] | None = None,
    timeout: int = 900,
) -> Result:
    """Run a playbook with the JSON callback; ``tasks`` holds every task result."""
    cmd = [str(BIN / "ansible-playbook"), str(playbook),
           "-i", str(inventory) if inventory else "localhost,"]
    if inventory is None:
        cmd += ["-c", "local"]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(extra_vars or {}, handle)
        vars_file = handle.name
    cmd += ["-e", f"@{vars_file}"]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=ansible_env(env),
                              timeout=timeout, check=False, cwd=str(COLLECTION_ROOT))
    finally:
        os.unlink(vars_file)
    result = _parse(proc, time.monotonic() - started)
    result.data = dict(result.data, _rc=proc.returncode)
    return result


def write_playbook(directory: Path, tasks: list[dict[str, Any]], name: str = "play.yml") -> Path:
    """Write a one-play localhost playbook with the given tasks (as JSON, valid YAML)."""
    path = directory / name
    path.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}], indent=1))
    return path
