# SPDX-License-Identifier: GPL-3.0-or-later
"""Profile rbd_image's batch form in-process (no Ansible): main() with patched arguments.

    TESTENV_DIR=/tmp/te-x python benchmarks/profile_module.py POOL N [--delete] [--workers W]

Run from the built collection (build/collections/ansible_collections/limiquantix/ceph_rbd)
with CEPH_CONF/CEPH_KEYRING/CEPH_USER set (source $TESTENV_DIR/env). Converges images
vol-00000 .. vol-<N-1> of 10 MiB in POOL (which must exist) and prints a pyinstrument
profile when pyinstrument is installed (`pip install pyinstrument`; not a requirement of
the collection), else cProfile's top functions, then the wall time of main().
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))

# pylint: disable=wrong-import-position
from ansible.module_utils import basic  # noqa: E402

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils import images  # noqa: E402
from ansible_collections.limiquantix.ceph_rbd.plugins.modules import rbd_image  # noqa: E402


def run_main(args: dict) -> dict:
    """Call rbd_image.main() with ``args``; return its JSON result."""
    # pylint: disable=protected-access
    basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()
    basic._ANSIBLE_PROFILE = "legacy"
    out = io.StringIO()
    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(out):
        rbd_image.main()
    return json.loads(out.getvalue())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pool")
    parser.add_argument("count", type=int)
    parser.add_argument("--delete", action="store_true", help="state: absent for every image")
    parser.add_argument("--workers", type=int, default=images.MAX_WORKERS)
    options = parser.parse_args()
    images.run_concurrently.__defaults__ = (options.workers,)
    args = {"pool": options.pool, "size": "10M", "state": "absent" if options.delete else "present",
            "images": [{"name": f"vol-{index:05d}"} for index in range(options.count)]}
    try:
        from pyinstrument import Profiler  # pylint: disable=import-outside-toplevel
    except ImportError:
        Profiler = None  # pylint: disable=invalid-name
    started = time.perf_counter()
    if Profiler is not None:
        profiler = Profiler(interval=0.0005)
        profiler.start()
        result = run_main(args)
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False))
    else:
        profile = cProfile.Profile()
        result = profile.runcall(run_main, args)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
    elapsed = time.perf_counter() - started
    print(f"main(): {elapsed:.3f} s, workers {options.workers}, changed={result.get('changed')}, "
          f"failed={result.get('failed', False)} {result.get('msg', '')}")
    return 1 if result.get("failed") else 0


if __name__ == "__main__":
    sys.exit(main())
