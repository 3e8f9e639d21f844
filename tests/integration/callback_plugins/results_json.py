# SPDX-License-Identifier: GPL-3.0-or-later
"""Test-only stdout callback: prints every task result as one JSON document.

ansible-core 2.19 no longer ships a JSON callback (it moved to ansible.posix, which
the tests do not install); this small one is all the test harness needs.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: results_json
type: stdout
short_description: Print all task results as one JSON document (tests only)
description:
  - Collects each task result per host and prints one JSON document with all plays at the end.
"""

import json

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "results_json"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._plays = []

    def v2_playbook_on_play_start(self, play):
        self._plays.append({"play": {"name": play.get_name()}, "tasks": []})

    def v2_playbook_on_task_start(self, task, is_conditional):
        if not self._plays:
            self._plays.append({"play": {"name": ""}, "tasks": []})
        self._plays[-1]["tasks"].append({"task": {"name": task.get_name()}, "hosts": {}})

    def _record(self, result, **extra):
        if not self._plays or not self._plays[-1]["tasks"]:
            self.v2_playbook_on_task_start(result._task, False)
        data = dict(result._result)
        data.update(extra)
        tasks = self._plays[-1]["tasks"]
        if result._task.get_name() != tasks[-1]["task"]["name"]:
            tasks.append({"task": {"name": result._task.get_name()}, "hosts": {}})
        hosts = tasks[-1]["hosts"]
        name = result._host.get_name()
        if name in hosts:  # loops and handlers: keep every result
            tasks.append({"task": {"name": result._task.get_name()}, "hosts": {}})
            hosts = tasks[-1]["hosts"]
        hosts[name] = data

    def v2_runner_on_ok(self, result):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, failed=True)

    def v2_runner_on_unreachable(self, result):
        self._record(result, failed=True, unreachable=True)

    def v2_runner_on_skipped(self, result):
        self._record(result, skipped=True)

    def v2_playbook_on_stats(self, stats):
        summary = {h: stats.summarize(h) for h in sorted(stats.processed.keys())}
        self._display.display(json.dumps({"plays": self._plays, "stats": summary}, default=str))
