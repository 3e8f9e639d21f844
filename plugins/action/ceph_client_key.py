# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run ceph_client_key; hide the whole result in the output when it carries the key.

A module cannot mark one return value as secret and still hand it to ``register``:
values in ``no_log_values`` are masked in the module's own JSON. So the module returns
the key only on request, and this plugin then censors the result like ``no_log: true``
(callbacks, ``-vvv``, AWX job events); the registered variable keeps the key.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    """Action plugin of limiquantix.ceph_rbd.ceph_client_key."""

    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        result.update(self._execute_module(task_vars=task_vars))
        if "key" in result:
            result["_ansible_no_log"] = True
        return result
