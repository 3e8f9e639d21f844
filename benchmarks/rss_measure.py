# SPDX-License-Identifier: GPL-3.0-or-later
"""Interpreter wrapper for benchmarks: runs /usr/bin/python3 with the same arguments
and appends the child's peak RSS (KiB) to the file named by BENCH_RSS_FILE.

Used as ansible_python_interpreter so that the module process's memory is measured
without touching the module."""

import os
import subprocess
import sys

child = subprocess.Popen(["/usr/bin/python3"] + sys.argv[1:])  # pylint: disable=consider-using-with
_pid, status, usage = os.wait4(child.pid, 0)
if os.environ.get("BENCH_RSS_FILE"):
    with open(os.environ["BENCH_RSS_FILE"], "a", encoding="utf-8") as handle:
        handle.write(f"{usage.ru_maxrss}\n")
sys.exit(os.waitstatus_to_exitcode(status))
