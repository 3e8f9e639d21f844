# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.deadline import Deadline
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    InvalidInputError,
    UnreachableError,
)


def test_a_spent_deadline_stops_new_work_only_after_a_timeout():
    deadline = Deadline(3, started=0.0)  # long spent on the monotonic clock
    deadline.check("list images in p")  # nothing timed out: a slow healthy task goes on
    deadline.note(InvalidInputError("not a timeout"))
    deadline.check("list images in p")
    deadline.note(UnreachableError("timed out"))
    with pytest.raises(UnreachableError, match=r"^list images in p: not started: the task's timeout of 3 s is spent"):
        deadline.check("list images in p")


def test_a_deadline_with_time_left_lets_work_start_after_a_timeout():
    deadline = Deadline(3600)
    deadline.note(UnreachableError("timed out"))
    deadline.check("change image p/v")
    assert 3590 < deadline.remaining() <= 3600


def test_every_binding_call_shares_the_task_deadline():
    from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
        binding_call,
        set_task_deadline,
    )

    calls = []

    @binding_call("read pool {pool!r}")
    def read(pool, fail=False):
        calls.append(pool)
        if fail:
            raise UnreachableError(f"read pool {pool!r}: timed out")
        return pool

    @binding_call("explain", shares_deadline=False)
    def explain():
        calls.append("explain")

    deadline = Deadline(3, started=0.0)  # spent
    set_task_deadline(deadline)
    try:
        assert read("a") == "a"  # nothing timed out yet: a slow healthy task goes on
        with pytest.raises(UnreachableError, match="timed out"):
            read("b", fail=True)
        assert deadline.stalled
        with pytest.raises(UnreachableError, match=r"^read pool 'c': not started: the task's timeout of 3 s is spent"):
            read("c")
        explain()
        assert calls == ["a", "b", "explain"]
    finally:
        set_task_deadline(None)


def test_a_timeout_names_the_deadline_once():
    deadline = Deadline(3)
    named = deadline.named_in(UnreachableError("open image p/i: timed out", errno=110))
    assert named.msg == ("open image p/i: timed out (within the task's timeout of 3 s, one deadline for the "
                         "whole task counted from the connection's start)")
    assert named.details == {"errno": 110}
    spent = UnreachableError("x: not started: the task's timeout of 3 s is spent")
    assert deadline.named_in(spent) is spent
    other = InvalidInputError("bad")
    assert deadline.named_in(other) is other


def test_explaining_a_failure_goes_past_a_spent_deadline():
    from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
        explaining_failure,
        set_task_deadline,
    )

    deadline = Deadline(3, started=0.0)
    deadline.note(UnreachableError("timed out"))
    set_task_deadline(deadline)
    try:
        assert deadline.blocks()
        with explaining_failure():
            assert not deadline.blocks()
            deadline.check("ask the monitors why")
        assert deadline.blocks()
    finally:
        set_task_deadline(None)
