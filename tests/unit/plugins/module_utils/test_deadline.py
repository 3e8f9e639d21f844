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
