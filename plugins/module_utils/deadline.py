# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One deadline per task (pure; why the OSDs do not answer is asked in write_errors).

librados applies ``timeout`` to each operation (``rados_osd_op_timeout``); a batch
that meets an unresponsive cluster would wait that long for every item. The task's
:class:`Deadline` starts when the connection is opened; once it is spent no new item
is started once an operation has timed out, so a task on a cluster that does not answer
fails after about ``timeout`` seconds, not ``timeout`` per item. A healthy batch that
simply takes longer than ``timeout`` goes on (nothing timed out: the cluster answers).
"""

from __future__ import annotations

import errno
import time

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

    def note(self, error: CephRbdError) -> None:
        """Remember that an operation timed out (the cluster does not answer)."""
        if isinstance(error, UnreachableError):
            self.stalled = True

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def spent(self) -> bool:
        return self.remaining() <= 0

    def check(self, what: str) -> None:
        """Raise UnreachableError (nothing started) when an operation has timed out and the
        task's time is spent."""
        if self.stalled and self.spent():
            raise UnreachableError(
                f"{what}: not started: the task's timeout of {self.seconds:g} s is spent "
                "(the cluster did not answer in time)",
                errno=errno.ETIMEDOUT,
            )
