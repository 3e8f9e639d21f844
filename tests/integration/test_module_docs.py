# SPDX-License-Identifier: GPL-3.0-or-later
"""Module documentation against the modules themselves.

- Every module has ``seealso`` (and the collection's modules it names exist).
- Every option of every module's argument_spec (suboptions and aliases too) is documented,
  and nothing is documented that the argument_spec lacks (doc fragments included, as
  ``ansible-doc`` shows them).
- Every key a module returned on a real run is in its RETURN (nested keys too where RETURN
  lists them with ``contains``); a failure's details may instead be among the keys that
  docs/guide.md documents for every failure. The results are those of every ``run_module`` call of this
  pytest session (conftest runs this file last), or with MODULE_RUNS_DIR those every pytest
  process recorded there (`make test-integration` runs the suite in xdist workers, then this
  file alone); a module no run covered gets the few real runs below; a module without either fails.

The modules are discovered from plugins/modules, never listed here.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import uuid
from typing import Any, Callable

import pytest
from ansible.module_utils import basic

from .cephstate import (
    create_image,
    create_rbd_pool,
    delete_pool,
    remove_crush_rule,
    remove_domain,
    small_domain_xml,
    usable_domain_type,
)
from .harness import BIN, COLLECTION_ROOT, FQCN, ansible_env, recorded_module_runs, run_module

MODULES = sorted(path.stem for path in (COLLECTION_ROOT / "plugins" / "modules").glob("*.py")
                 if path.stem != "__init__")


def _failure_detail_keys() -> set[str]:
    """The keys docs/guide.md ("What a failed task returns") documents for every failure."""
    text = (COLLECTION_ROOT / "docs" / "guide.md").read_text()
    section = text[text.index("### What a failed task returns"):]
    section = section[:section.index("\n#")]
    return {key for row in re.findall(r"^\| (`.+?`) \|", section, re.MULTILINE)
            for key in re.findall(r"`([a-z_]+)`", row)}


FAILURE_DETAIL_KEYS = _failure_detail_keys()

# Keys Ansible documents for every module (common return values) or adds itself.
COMMON_KEYS = {"changed", "failed", "msg", "invocation", "diff", "warnings", "deprecations", "exception",
               "skipped", "skip_reason", "ansible_facts", "_task", "_rc"}


class _Captured(BaseException):
    """Raised from AnsibleModule.__init__ to hand back its keyword arguments."""

    def __init__(self, kwargs: dict[str, Any]):
        super().__init__("captured")
        self.kwargs = kwargs


def argument_spec_of(name: str) -> dict[str, Any]:
    module = importlib.import_module(f"ansible_collections.limiquantix.ceph_rbd.plugins.modules.{name}")

    def capture(_self, *args, **kwargs):
        if args:
            kwargs = dict(kwargs, argument_spec=args[0])
        raise _Captured(kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(basic.AnsibleModule, "__init__", capture)
        try:
            module.main()
        except _Captured as captured:
            return captured.kwargs["argument_spec"]
    raise AssertionError(f"{name}.main() built no AnsibleModule")


@pytest.fixture(scope="module")
def docs() -> dict[str, dict[str, Any]]:
    names = [f"{FQCN}.{name}" for name in MODULES]
    proc = subprocess.run([str(BIN / "ansible-doc"), "-t", "module", "--json", *names], capture_output=True,
                          text=True, env=ansible_env(), check=False)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    return {name.split(".")[-1]: value for name, value in data.items()}


def test_the_modules_and_the_failure_keys_are_found():
    assert len(MODULES) >= 10 and "rbd_image" in MODULES and "libvirt_rbd_disk" in MODULES
    assert {"pool", "image", "done", "monitors", "errno", "versions"} <= FAILURE_DETAIL_KEYS


def _option_problems(spec: dict[str, Any], documented: dict[str, Any], where: str) -> list[str]:
    problems = []
    for option, settings in spec.items():
        doc = documented.get(option)
        if doc is None:
            problems.append(f"{where}{option} is in the argument_spec but not documented")
            continue
        missing_aliases = set(settings.get("aliases") or []) - set(doc.get("aliases") or [])
        if missing_aliases:
            problems.append(f"{where}{option}: aliases {sorted(missing_aliases)} not documented")
        if settings.get("options"):
            problems += _option_problems(settings["options"], doc.get("suboptions") or {}, f"{where}{option}.")
    for option in set(documented) - set(spec):
        problems.append(f"{where}{option} is documented but not in the argument_spec")
    return problems


@pytest.mark.parametrize("name", MODULES)
def test_every_option_of_the_argument_spec_is_documented(docs, name):
    spec = argument_spec_of(name)
    assert spec, name
    assert _option_problems(spec, docs[name]["doc"].get("options") or {}, "") == []


@pytest.mark.parametrize("name", MODULES)
def test_every_module_has_seealso_naming_modules_of_the_collection_that_exist(docs, name):
    seealso = docs[name]["doc"].get("seealso") or []
    assert seealso, f"{name} has no seealso"
    for entry in seealso:
        if "module" in entry and entry["module"].startswith(FQCN + "."):
            assert entry["module"].split(".")[-1] in MODULES, entry


def _return_problems(value: Any, documented: dict[str, Any], where: str, failed: bool = False) -> list[str]:
    problems = []
    for key, item in value.items():
        if key.startswith("_ansible") or (not where and key in COMMON_KEYS):
            continue
        if failed and not where and key not in documented and key in FAILURE_DETAIL_KEYS:
            continue
        doc = documented.get(key)
        if doc is None:
            problems.append(f"{where}{key}")
            continue
        contains = doc.get("contains")
        if not contains:
            continue
        if isinstance(item, dict):
            problems += _return_problems(item, contains, f"{where}{key}.")
        elif isinstance(item, list):
            for element in item:
                if isinstance(element, dict):
                    problems += _return_problems(element, contains, f"{where}{key}[].")
    return problems


# --- real runs for a module that no other test of this session ran --------------------

def _pool_lifecycle(ceph) -> None:
    pool = f"docs-{uuid.uuid4().hex[:6]}"
    try:
        for check in (True, False):
            run_module("rbd_pool", {"name": pool, "pg_num": 8}, check=check)
        run_module("rbd_pool", {"name": pool, "size": "x"})
        run_module("rbd_pool_info", {"name": pool})
        image = {"pool": pool, "name": "vol-1", "size": "8M"}
        for check in (True, False):
            run_module("rbd_image", image, check=check)
        run_module("rbd_image", dict(image, size="4M"))
        run_module("rbd_image", {"pool": pool, "images": [{"name": "vol-2", "size": "4M"}], "size": "4M"})
        run_module("rbd_image_info", {"pool": pool})
        snapshot = {"pool": pool, "image": "vol-1", "name": "s1"}
        for check in (True, False):
            run_module("rbd_snapshot", dict(snapshot, protected=True), check=check)
        run_module("rbd_snapshot", dict(snapshot, state="absent"))
        run_module("rbd_snapshot", dict(snapshot, image="missing"))
        run_module("rbd_image", dict(image, state="absent", force=True))
        run_module("rbd_pool", {"name": pool, "state": "absent", "force": True})
    finally:
        delete_pool(ceph, pool)


def _client_key(ceph) -> None:
    pool = f"docs-{uuid.uuid4().hex[:6]}"
    create_rbd_pool(ceph, pool)
    try:
        name = f"client.docs{uuid.uuid4().hex[:6]}"
        for check in (True, False):
            run_module("ceph_client_key", {"name": name, "pools": [pool]}, check=check)
        run_module("ceph_client_key", {"name": name, "state": "absent"})
        run_module("ceph_client_key", {"name": "bad name"})
    finally:
        delete_pool(ceph, pool)


def _libvirt_secret(_ceph) -> None:
    secret = {"uuid": str(uuid.uuid4()), "usage_name": f"docs-{uuid.uuid4().hex[:6]} secret",
              "value": "AQAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAA=="}
    for check in (True, False):
        run_module("libvirt_secret", secret, check=check)
    run_module("libvirt_secret", {"uuid": secret["uuid"], "state": "absent"})
    run_module("libvirt_secret", {"uuid": "nope"})


def _crush_rule(ceph) -> None:
    rule = {"name": f"docs-{uuid.uuid4().hex[:6]}", "device_class": "hdd", "failure_domain": "osd"}
    try:
        for check in (True, False):
            run_module("ceph_crush_rule", rule, check=check)
        run_module("ceph_crush_rule", dict(rule, device_class="no-such-class"))
    finally:
        run_module("ceph_crush_rule", {"name": rule["name"], "state": "absent"})
        remove_crush_rule(ceph, rule["name"])


def _rbd_disk(ceph) -> None:
    import libvirt  # pylint: disable=import-outside-toplevel

    name = f"t-docs-{uuid.uuid4().hex[:6]}"
    create_rbd_pool(ceph, name)
    conn = libvirt.open(os.environ["LIBVIRT_DEFAULT_URI"])
    try:
        create_image(ceph, name, "vol-a", 8 << 20)
        conn.defineXML(small_domain_xml(name, usable_domain_type()))
        disk = {"domain": name, "target": "vdb", "pool": name, "image": "vol-a",
                "mon_hosts": [os.environ["TESTENV_MON_ADDR"]]}
        for check in (True, False):
            run_module("libvirt_rbd_disk", disk, check=check)
        run_module("libvirt_rbd_disk", dict(disk, target="hdb"))
        run_module("libvirt_rbd_disk", {"domain": name, "target": "vdb", "state": "absent"})
    finally:
        remove_domain(conn, name)
        conn.close()
        delete_pool(ceph, name)


FALLBACK_RUNS: dict[str, Callable[[Any], None]] = {
    "rbd_pool": _pool_lifecycle, "rbd_pool_info": _pool_lifecycle, "rbd_image": _pool_lifecycle,
    "rbd_image_info": _pool_lifecycle, "rbd_snapshot": _pool_lifecycle, "ceph_client_key": _client_key,
    "libvirt_secret": _libvirt_secret, "ceph_crush_rule": _crush_rule, "libvirt_rbd_disk": _rbd_disk,
    "libvirt_rbd_disk_info": lambda _ceph: run_module("libvirt_rbd_disk_info", {}),
}


@pytest.fixture(scope="module")
def module_runs(testenv, ceph) -> dict[str, list[dict[str, Any]]]:
    ran = {name for name, _result in recorded_module_runs()}
    for run in {FALLBACK_RUNS[name] for name in MODULES if name not in ran and name in FALLBACK_RUNS}:
        run(ceph)
    runs: dict[str, list[dict[str, Any]]] = {}
    for name, result in recorded_module_runs():
        runs.setdefault(name, []).append(result)
    return runs


@pytest.mark.parametrize("name", MODULES)
def test_every_key_a_module_returned_on_real_runs_is_in_return(docs, module_runs, name):
    results = module_runs.get(name)
    assert results, (f"no real run of {name} in this session: run this file with the integration tests "
                     f"that use {name} (make test-integration), or give it a run in FALLBACK_RUNS")
    assert any(not r.get("failed") for r in results), f"{name}: no successful run to check"
    returned = docs[name].get("return") or {}
    problems = sorted({problem for result in results
                       for problem in _return_problems(result, returned, "", failed=bool(result.get("failed")))})
    assert problems == [], f"{name} returned keys its RETURN does not document: {problems}"
