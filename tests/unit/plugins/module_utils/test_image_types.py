# SPDX-License-Identifier: GPL-3.0-or-later
"""The image dict's TypedDict, the dict the plans build and the modules' RETURN say the same keys."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_plan import new_image_dict
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_request import merge_item, normalize_request
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_types import (
    ImageDict,
    ImageInfoDict,
    ImageParent,
    ImageSnapshot,
)

MODULES = Path(__file__).resolve().parents[4] / "plugins" / "modules"


def returned(module: str) -> dict:
    tree = ast.parse((MODULES / f"{module}.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "RETURN":
            return yaml.safe_load(node.value.value)
    raise AssertionError(f"{module} has no RETURN")


def test_a_new_image_dict_has_exactly_the_typed_keys():
    request = normalize_request(merge_item({"pool": "p", "namespace": "", "state": "present"},
                                           {"name": "v", "size": "1G"}))
    assert set(new_image_dict(request, None)) == set(ImageDict.__annotations__)


@pytest.mark.parametrize("module, key, typed", [("rbd_image", "image", ImageDict),
                                                ("rbd_image_info", "images", ImageInfoDict)])
def test_return_documents_every_typed_key(module, key, typed):
    contains = returned(module)[key]["contains"]
    assert set(contains) == set(typed.__annotations__)
    assert set(contains["parent"]["sample"]) <= set(ImageParent.__annotations__)
    for snapshot in contains["snapshots"]["sample"]:
        assert set(snapshot) == set(ImageSnapshot.__annotations__)
