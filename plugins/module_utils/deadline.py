# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One deadline per task (pure; why the OSDs do not answer is asked in write_errors).

librados applies ``timeout`` to each operation (``rados_osd_op_timeout``); a task that
meets an unresponsive cluster would wait that long for every item. The task's
:class:`Deadline` starts when the connection is opened (``ceph_connection``) and is shared
by every binding call and mon/mgr command of the task (``errors.binding_call``,
``CephCluster``): once an operation has timed out and the deadline is spent, no new one is
started, so a task on a cluster that does not answer fails after about ``timeout`` seconds,
not ``timeout`` per item, whichever module runs it. A healthy task that simply takes
longer than ``timeout`` goes on (nothing timed out: the cluster answers).
"""

from __future__ import annotations

import errno
import time
from contextlib import contextmanager
from typing import Iterator

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    CephRbdError,
    UnreachableError,
)


class Deadline:
    """The end of a task's time budget (monotonic clock)."""

    def __init__(self, seconds: float, started: float | None = None) -> None:
        self.seconds = seconds
        self.end = (time.monotonic() if started is None else started) + seconds
        self.stalled = False  # an operation of this task timed out
        self._explaining = 0  # inside explaining(): asking why, not new work

    def note(self, error: CephRbdError) -> None:
        """Remember that an operation timed out (the cluster does not answer)."""
        if isinstance(error, UnreachableError):
            self.stalled = True

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def spent(self) -> bool:
        return self.remaining() <= 0

    def blocks(self) -> bool:
        """Whether no new operation may start: one timed out and the task's time is spent."""
        return self.stalled and not self._explaining and self.spent()

    @contextmanager
    def explaining(self) -> Iterator[None]:
        """Calls that explain a failure (ask the monitors why): not held back by a spent deadline."""
        self._explaining += 1
        try:
            yield
        finally:
            self._explaining -= 1

    def named_in(self, error: CephRbdError) -> CephRbdError:
        """A timeout's error that names the task's deadline (unchanged when it does already)."""
        if not isinstance(error, UnreachableError) or "the task's timeout" in error.msg:
            return error
        return UnreachableError(
            f"{error.msg} (within the task's timeout of {self.seconds:g} s, one deadline for the "
            "whole task counted from the connection's start)",
            **error.details,
        )

    def check(self, what: str) -> None:
        """Raise UnreachableError (nothing started) when an operation has timed out and the
        task's time is spent."""
        if self.blocks():
            raise UnreachableError(
                f"{what}: not started: the task's timeout of {self.seconds:g} s is spent "
                "(the cluster did not answer in time)",
                errno=errno.ETIMEDOUT,
            )
