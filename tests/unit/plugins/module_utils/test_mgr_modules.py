# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InvalidInputError, NotFoundError
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.mgr_modules import (
    describe_modules,
    module_view,
    plan_module,
)

LISTING = {
    "always_on_modules": ["balancer", "rbd_support"],
    "enabled_modules": ["iostat"],
    "disabled_modules": [
        {"name": "prometheus", "can_run": True, "error_string": ""},
        {"name": "dashboard", "can_run": False, "error_string": "No module named 'cherrypy'"},
    ],
}
MODULES = describe_modules(LISTING)


def test_listing_is_described_per_module():
    assert MODULES["rbd_support"] == {"name": "rbd_support", "enabled": True, "always_on": True,
                                      "can_run": True, "error": ""}
    assert MODULES["dashboard"]["can_run"] is False
    assert MODULES["prometheus"]["enabled"] is False


def test_plan_enables_disables_or_leaves_alone():
    assert plan_module(MODULES, "prometheus", True, False) == "enable"
    assert plan_module(MODULES, "iostat", False, False) == "disable"
    assert plan_module(MODULES, "iostat", True, False) is None
    assert plan_module(MODULES, "balancer", True, False) is None


def test_unknown_module_is_refused_with_the_known_ones():
    with pytest.raises(NotFoundError, match="no module 'promethus'.*prometheus"):
        plan_module(MODULES, "promethus", True, False)


def test_always_on_module_cannot_be_disabled():
    with pytest.raises(InvalidInputError, match="always on"):
        plan_module(MODULES, "rbd_support", False, False)


def test_module_that_cannot_run_is_refused_unless_forced():
    with pytest.raises(InvalidInputError, match="No module named 'cherrypy'"):
        plan_module(MODULES, "dashboard", True, False)
    assert plan_module(MODULES, "dashboard", True, True) == "enable"


def test_view_predicts_the_state_in_check_mode():
    assert module_view(MODULES["prometheus"], True)["enabled"] is True
    assert module_view(None) == {}
