# SPDX-License-Identifier: GPL-3.0-or-later
"""The layout of docs/architecture.md, checked: imports flow one way, and nothing grows too big.

Layers, from the top: modules -> entry (module_runner) -> services -> plans (pure) and
bindings -> connections -> base (errors, validation, the disk XML model). A module_utils
file that is in no layer fails the test: place it in LAYERS (and in docs/architecture.md).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "ansible_collections.limiquantix.ceph_rbd.plugins.module_utils."

LAYERS = {
    "errors": "base", "validation": "base", "image_types": "base", "deadline": "base", "libvirt_disk_xml": "base",
    "mon_addresses": "base", "attachment_records": "base", "disk_formats": "base",
    "unreachable": "base",
    "image_request": "plan", "image_changes": "plan", "image_plan": "plan", "pool_plan": "plan", "pool_changes": "plan",
    "libvirt_disk": "plan", "migration_plan": "plan",
    "ceph_connection": "connection", "libvirt_connection": "connection",
    "rbd_common": "binding", "image_bindings": "binding", "image_headers": "binding", "snapshots": "binding", "snapshot_changes": "plan",
    "pools": "binding", "crush": "binding", "health": "binding", "ceph_auth": "binding",
    "libvirt_domain": "binding", "libvirt_domain_reads": "binding", "libvirt_secrets": "binding", "libvirt_migration": "binding",
    "central_config": "binding", "attachments": "binding", "mgr_modules": "binding", "rbd_stats": "binding", "io_rates": "binding",
    "disk_source": "binding", "qemu_img": "binding",
    "image_catalog": "service", "image_reads": "service", "clone_identity": "service", "images": "service", "write_errors": "service",
    "image_import": "service",
    "libvirt_disk_service": "service", "lock_recovery": "service", "libvirt_disk_records": "service",
    "domain_migration": "service", "migration_access": "service",
    "module_runner": "entry",
}
# What each layer may import (its own layer included where listed).
ALLOWED = {
    "base": {"base"},
    "plan": {"base", "plan"},
    "connection": {"base"},
    "binding": {"base", "connection", "binding"},
    "service": {"base", "connection", "binding", "plan", "service"},
    "entry": {"base", "connection"},
    "module": {"base", "connection", "binding", "plan", "service", "entry"},
}
MAX_FUNCTION_LINES = 50
MAX_MODULE_UTILS_LINES = 450
MAX_MODULE_CODE_LINES = 150  # a module's code without DOCUMENTATION, EXAMPLES, RETURN and docstrings


def module_utils_files():
    return sorted((ROOT / "plugins" / "module_utils").glob("*.py"))


def plugin_files():
    return sorted(p for p in (ROOT / "plugins").rglob("*.py") if "module_utils" not in p.parts)


def layer_of(path: Path) -> str:
    return LAYERS.get(path.stem, "unplaced") if "module_utils" in path.parts else "module"


def collection_imports(path: Path) -> list[str]:
    """The module_utils names a file imports (anywhere in it)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE):
            names.append(node.module[len(PACKAGE):])
        elif isinstance(node, ast.ImportFrom) and node.module == PACKAGE.rstrip("."):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            names += [a.name[len(PACKAGE):] for a in node.names if a.name.startswith(PACKAGE)]
    return names


def upward_imports(path: Path) -> list[str]:
    allowed = ALLOWED[layer_of(path)]
    return [f"{path.stem} ({layer_of(path)}) imports {name} ({LAYERS.get(name, 'unplaced')})"
            for name in collection_imports(path) if LAYERS.get(name) not in allowed]


def test_every_module_utils_file_has_a_layer():
    assert [p.stem for p in module_utils_files() if p.stem not in LAYERS] == []


@pytest.mark.parametrize("path", module_utils_files() + plugin_files(), ids=lambda p: p.stem)
def test_imports_flow_one_way(path):
    assert upward_imports(path) == []


def test_an_upward_import_is_caught(tmp_path):
    bad = tmp_path / "module_utils" / "image_plan.py"
    bad.parent.mkdir()
    bad.write_text(f"from {PACKAGE}images import converge_images\nfrom {PACKAGE}validation import image_spec\n")
    assert upward_imports(bad) == ["image_plan (plan) imports images (service)"]


def long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [f"{path.stem}.{node.name}: {node.end_lineno - node.lineno + 1} lines" for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]


def code_lines(path: Path) -> int:
    """Lines of a file that are neither blank, comments, docstrings nor the module docs."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            docs.update(range(body[0].lineno, body[0].end_lineno + 1))
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") in ("DOCUMENTATION", "EXAMPLES", "RETURN")
                                                for t in node.targets):
            docs.update(range(node.lineno, node.end_lineno + 1))
    lines = path.read_text(encoding="utf-8").splitlines()
    return sum(1 for number, line in enumerate(lines, 1)
               if line.strip() and not line.strip().startswith("#") and number not in docs)


def test_no_function_is_longer_than_50_lines():
    assert [entry for path in module_utils_files() + plugin_files() for entry in long_functions(path)] == []


def test_no_module_utils_file_is_longer_than_450_lines():
    sizes = {p.stem: len(p.read_text(encoding="utf-8").splitlines()) for p in module_utils_files()}
    assert {name: size for name, size in sizes.items() if size > MAX_MODULE_UTILS_LINES} == {}


def test_no_module_has_more_than_150_lines_of_code():
    sizes = {p.stem: code_lines(p) for p in (ROOT / "plugins" / "modules").glob("*.py")}
    assert {name: size for name, size in sizes.items() if size > MAX_MODULE_CODE_LINES} == {}
    assert 20 < sizes["rbd_pool_info"] < 60  # the count sees code, not the docs around it


def binding_imports(path: Path) -> set[str]:
    """The Python bindings (rados, rbd, libvirt) a file imports."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name in ("rados", "rbd", "libvirt")}
    return names


def test_only_bindings_connections_and_errors_import_the_python_bindings():
    importing = {p.stem: layer_of(p) for p in module_utils_files() + plugin_files() if binding_imports(p)}
    assert {name: layer for name, layer in importing.items() if layer not in ("binding", "connection")
            and name != "errors"} == {}
