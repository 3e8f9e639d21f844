# SPDX-License-Identifier: GPL-3.0-or-later
"""adopt_concurrent_create: an image another run created meanwhile (issue 11)."""
from __future__ import annotations

import pytest

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import AlreadyExistsError
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_changes import Create
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_plan import ImagePlan, new_image_dict
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_request import merge_item, normalize_request
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.images import adopt_concurrent_create


def plan_for(**options):
    request = normalize_request(merge_item({"pool": "vols", "namespace": "", "state": "present"},
                                           dict({"name": "vol-1"}, **options)))
    return ImagePlan(request=request, before=None, changes=[Create()], after=None, actions=["vols/vol-1: create"])


def made_by_another(**options):
    image = new_image_dict(plan_for(**options).request, None)
    image["id"] = "abc"
    return image


def test_an_identical_image_made_meanwhile_is_adopted_and_reported_unchanged():
    plan = plan_for(size="10G")
    adopted = adopt_concurrent_create(plan, made_by_another(size="10G"))
    assert adopted["id"] == "abc"
    assert plan.changes == [] and plan.actions == []


def test_an_image_made_meanwhile_with_another_size_asks_for_a_rerun():
    plan = plan_for(size="20G")
    with pytest.raises(AlreadyExistsError, match="created by another client meanwhile, with other settings"):
        adopt_concurrent_create(plan, made_by_another(size="10G"))
    assert [change.as_dict() for change in plan.changes] == [{"action": "create"}]


def test_a_larger_image_made_meanwhile_is_not_shrunk():
    with pytest.raises(AlreadyExistsError, match="shrinking it"):
        adopt_concurrent_create(plan_for(size="10G"), made_by_another(size="20G"))
