# SPDX-License-Identifier: GPL-3.0-or-later
"""The batch path's concurrency helpers: ordered outcomes, error capture and apply groups."""
from __future__ import annotations

import threading

import pytest

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InUseError, NotFoundError
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_changes import change_from_dict
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_plan import ImagePlan
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_reads import run_concurrently
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.images import apply_groups, is_independent


SAMPLES = {  # one change of each kind the tests use
    "create": {}, "remove": {}, "trash": {}, "clone": {},
    "remove_snapshots": {"snapshots": ["s"], "unprotect": []},
    "qos": {"set": {"iops_limit": 1}, "remove": []},
    "resize": {"from": 1, "to": 2},
    "protect_parent_snapshot": {"snapshot": "img/golden@base"},
}


def plan(state: str, *actions: str) -> ImagePlan:
    changes = [change_from_dict(dict(SAMPLES[action], action=action)) for action in actions]
    return ImagePlan(request={"state": state}, before=None, changes=changes, after=None)


CREATE = plan("present", "create")
DELETE = plan("absent", "remove")
TRASH = plan("absent", "trash")
DELETE_WITH_SNAPSHOTS = plan("absent", "remove_snapshots", "remove")
CLONE = plan("present", "clone")
CREATE_WITH_QOS = plan("present", "create", "qos")
RESIZE = plan("present", "resize")
PROTECT_AND_CLONE = plan("present", "protect_parent_snapshot", "clone")


def test_outcomes_are_in_item_order():
    assert run_concurrently(lambda x: x * 2, list(range(50))) == [(x * 2, None) for x in range(50)]


def test_errors_are_returned_per_item():
    def func(item: int) -> int:
        if item % 3 == 0:
            raise NotFoundError(f"item {item} missing")
        return item

    outcomes = run_concurrently(func, list(range(7)))
    assert [result for result, _error in outcomes] == [None, 1, 2, None, 4, 5, None]
    assert [str(error) for _result, error in outcomes if error] == ["item 0 missing", "item 3 missing", "item 6 missing"]


def test_unexpected_errors_propagate():
    def func(item: int) -> int:
        raise ValueError(f"boom {item}")

    with pytest.raises(ValueError, match="boom"):
        run_concurrently(func, [1, 2, 3])


def test_items_run_on_several_threads():
    barrier = threading.Barrier(4, timeout=10)

    def func(_item: int) -> str:
        barrier.wait()  # only returns once four items run at the same time
        return threading.current_thread().name

    names = {result for result, _error in run_concurrently(func, list(range(8)), workers=4)}
    assert len(names) == 4


def test_one_item_or_one_worker_runs_in_the_caller():
    caller = threading.current_thread().name
    assert run_concurrently(lambda _x: threading.current_thread().name, [1]) == [(caller, None)]
    assert run_concurrently(lambda _x: threading.current_thread().name, [1, 2], workers=1) == [(caller, None)] * 2
    assert not run_concurrently(lambda x: x, [])


@pytest.mark.parametrize("independent", [CREATE, DELETE, TRASH, DELETE_WITH_SNAPSHOTS])
def test_plain_creates_and_deletions_are_independent(independent):
    assert is_independent(independent)


@pytest.mark.parametrize("dependent", [CLONE, CREATE_WITH_QOS, RESIZE, PROTECT_AND_CLONE, plan("absent"), plan("present")])
def test_other_plans_are_not_independent(dependent):
    assert not is_independent(dependent)


def test_groups_keep_the_list_order_around_dependent_plans():
    pending = list(enumerate([CREATE, CREATE, DELETE, RESIZE, CREATE, CLONE, CLONE, TRASH, DELETE]))
    groups = apply_groups(pending)
    assert [[index for index, _plan in group] for group in groups] == [[0, 1, 2], [3], [4], [5], [6], [7, 8]]


def test_in_use_error_outcome_keeps_its_details():
    def func(_item: int) -> int:
        raise InUseError("in use", watchers=["client.1 (addr)"])

    (_result, error), = run_concurrently(func, [1])
    assert error.details == {"watchers": ["client.1 (addr)"]}
