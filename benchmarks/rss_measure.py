# SPDX-License-Identifier: GPL-3.0-or-later
"""Interpreter wrapper for benchmarks: runs /usr/bin/python3 with the same arguments
and appends the child's peak RSS (KiB) and wall time (seconds) to the file named by
BENCH_RSS_FILE, as one line "<rss_kib> <seconds>".

Used as ansible_python_interpreter so that the module process's memory and time are
measured without touching the module."""

import os
import subprocess
import sys
import time

started = time.perf_counter()
child = subprocess.Popen(["/usr/bin/python3"] + sys.argv[1:])  # pylint: disable=consider-using-with
_pid, status, usage = os.wait4(child.pid, 0)
elapsed = time.perf_counter() - started
if os.environ.get("BENCH_RSS_FILE"):
    with open(os.environ["BENCH_RSS_FILE"], "a", encoding="utf-8") as handle:
        handle.write(f"{usage.ru_maxrss} {elapsed:.4f}\n")
sys.exit(os.waitstatus_to_exitcode(status))
