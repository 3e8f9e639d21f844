# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: importing a disk image file into RBD, rbd_image's ``source`` vs the usual tools.

Run by `make bench-import` (and `make bench`). Starts a test environment (or reuses
TESTENV_DIR), makes a raw disk image of --size-mib MiB (default 1024) that is 90 % zeros
(1 MiB of random data every 10 MiB) and its qcow2 copy, then measures, in one run,
alternating the methods, --rounds rounds (best of each kept):

  raw     rbd import FILE | qemu-img convert -f raw straight to rbd: | one rbd_image task
  qcow2   qemu-img convert -f qcow2 straight to rbd: | one rbd_image task
          (rbd import cannot read qcow2)
  -       one rbd_image task creating an image of the same size without a source (the
          module's own fixed cost: interpreter, imports, cluster connection, create)
  ansible a trivial one-task playbook (Ansible's fixed cost)

Each import goes into a new image of a pool of size 1, which is deleted right after it
is measured. The rbd_image tasks run under the rss_python wrapper, which records the
module process's own wall time (``*_module_s``); the import's own time is that minus the
module time of the task without a source (``*_import_s`` in the summary). Writes results to
benchmarks/results/image_import.json and image_import.md. Only ratios between methods of
the same run are meaningful.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from run import HERE, Runner, admin_cluster, ceph_version, drop_pool, fresh_pool, mon, test_environment

MIB = 1024 ** 2


def make_sources(directory: Path, size_mib: int) -> tuple[Path, Path]:
    """A raw disk of ``size_mib`` MiB, 90 % zeros, and its qcow2 copy."""
    raw, qcow2 = directory / "disk.raw", directory / "disk.qcow2"
    with open(raw, "wb") as handle:
        handle.truncate(size_mib * MIB)
        for mib in range(0, size_mib, 10):
            handle.seek(mib * MIB)
            handle.write(os.urandom(MIB))
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(qcow2)], check=True)
    return raw, qcow2


def remove(cluster, pool: str, name: str) -> int:
    """Delete the image; return the bytes it used (whole objects, as `rbd du`)."""
    import rbd  # pylint: disable=import-outside-toplevel

    used = [0]

    def count(_offset: int, length: int, exists: bool) -> int:
        used[0] += length if exists else 0
        return 0

    with cluster.open_ioctx(pool) as ioctx:
        with rbd.Image(ioctx, name, read_only=True) as image:
            image.diff_iterate(0, image.size(), None, count, include_parent=False, whole_object=True)
        rbd.RBD().remove(ioctx, name)
    return used[0]


class Methods:
    """Each method imports one file into a new image and returns (seconds, module seconds)."""

    def __init__(self, runner: Runner, env: dict[str, str], cluster, pool: str) -> None:
        self.runner, self.env, self.cluster, self.pool = runner, env, cluster, pool
        self.count = 0
        self.used: dict[str, int] = {}
        self.reruns: dict[str, list[float]] = {}

    def _name(self) -> str:
        self.count += 1
        return f"import-{self.count}"

    def _cli(self, label: str, command: Callable[[str], list[str]]) -> tuple[float, float]:
        name = self._name()
        seconds = self.runner._timed(command(name))  # pylint: disable=protected-access
        self.used[label] = remove(self.cluster, self.pool, name)
        return seconds, 0.0

    def rbd_import(self, source: Path) -> tuple[float, float]:
        conf, keyring = self.env["CEPH_CONF"], self.env["CEPH_KEYRING"]
        return self._cli("rbd_import", lambda name: ["rbd", "-c", conf, "--keyring", keyring, "import",
                                                     "--no-progress", str(source), f"{self.pool}/{name}"])

    def qemu_img(self, source: Path, fmt: str) -> tuple[float, float]:
        conf, keyring = self.env["CEPH_CONF"], self.env["CEPH_KEYRING"]
        return self._cli(f"qemu_img_{fmt}", lambda name: [
            "qemu-img", "convert", "-f", fmt, "-O", "raw", str(source),
            f"rbd:{self.pool}/{name}:conf={conf}:id=admin:keyring={keyring}"])

    def _task(self, label: str, options: dict[str, str], rerun: bool = False) -> tuple[float, float]:
        """One rbd_image task into a new image; with ``rerun``, the same task once more (no change:
        its task and module seconds are kept in ``reruns``) before the image is removed."""
        name = self._name()
        task = {"limiquantix.ceph_rbd.rbd_image": dict(options, pool=self.pool, name=name)}
        seconds, _rss, module_seconds = self.runner.playbook([task])
        if rerun:
            again, _rss, again_module = self.runner.playbook([task])
            self.reruns.setdefault(f"{label}_rerun_s", []).append(round(again, 3))
            self.reruns.setdefault(f"{label}_rerun_module_s", []).append(round(again_module, 3))
        self.used[label] = remove(self.cluster, self.pool, name)
        return seconds, module_seconds

    def ours(self, source: Path, fmt: str) -> tuple[float, float]:
        return self._task(f"ours_{fmt}", {"source": str(source), "source_format": fmt}, rerun=True)

    def no_source(self, size_mib: int) -> tuple[float, float]:
        return self._task("no_source", {"size": f"{size_mib}M"})

    def trivial(self) -> tuple[float, float]:
        seconds, _rss, module_seconds = self.runner.playbook([{"ansible.builtin.ping": {}}])
        return seconds, module_seconds


def measure(methods: Methods, raw: Path, qcow2: Path, rounds: int, size_mib: int) -> dict[str, list[float]]:
    """Every method once per round, in turn; all times kept (seconds)."""
    runs: dict[str, Callable[[], tuple[float, float]]] = {
        "rbd_import_raw": lambda: methods.rbd_import(raw),
        "qemu_img_raw": lambda: methods.qemu_img(raw, "raw"),
        "ours_raw": lambda: methods.ours(raw, "raw"),
        "qemu_img_qcow2": lambda: methods.qemu_img(qcow2, "qcow2"),
        "ours_qcow2": lambda: methods.ours(qcow2, "qcow2"),
        "no_source": lambda: methods.no_source(size_mib),
        "trivial_playbook": methods.trivial,
    }
    times: dict[str, list[float]] = {}
    for round_number in range(rounds):
        print(f"round {round_number + 1} of {rounds} ...", flush=True)
        for label, run in runs.items():
            seconds, module_seconds = run()
            times.setdefault(f"{label}_s", []).append(round(seconds, 3))
            if label.startswith("ours") or label == "no_source":
                times.setdefault(f"{label}_module_s", []).append(round(module_seconds, 3))
    return dict(times, **methods.reruns)


def summary(times: dict[str, list[float]]) -> dict[str, Any]:
    """Best of each method; ratios of rbd_image (task, module process, import alone) to the faster tool."""
    best = {label: min(values) for label, values in times.items()}
    for fmt in ("raw", "qcow2"):
        best[f"ours_{fmt}_import_s"] = round(best[f"ours_{fmt}_module_s"] - best["no_source_module_s"], 3)
    fastest = {"raw": min(best["rbd_import_raw_s"], best["qemu_img_raw_s"]), "qcow2": best["qemu_img_qcow2_s"]}
    ratios = {f"ratio_{fmt}_{what}": round(best[f"ours_{fmt}{suffix}"] / fastest[fmt], 2)
              for fmt in fastest for what, suffix in (("task", "_s"), ("module", "_module_s"), ("import", "_import_s"))}
    return dict(ratios, best=best)


def markdown(result: dict[str, Any], meta: dict[str, Any]) -> str:
    best, used = result["best"], result["used_mib"]
    rows = [("raw", "`rbd import`", best["rbd_import_raw_s"], "", used.get("rbd_import")),
            ("raw", "`qemu-img convert` to `rbd:`", best["qemu_img_raw_s"], "", used.get("qemu_img_raw")),
            ("raw", "`rbd_image` `source:` (task)", best["ours_raw_s"], best["ours_raw_module_s"], used.get("ours_raw")),
            ("qcow2", "`qemu-img convert` to `rbd:`", best["qemu_img_qcow2_s"], "", used.get("qemu_img_qcow2")),
            ("qcow2", "`rbd_image` `source:` (task)", best["ours_qcow2_s"], best["ours_qcow2_module_s"],
             used.get("ours_qcow2")),
            ("raw", "`rbd_image` `source:` again, same file (no change)", best["ours_raw_rerun_s"],
             best["ours_raw_rerun_module_s"], None),
            ("qcow2", "`rbd_image` `source:` again, same file (no change)", best["ours_qcow2_rerun_s"],
             best["ours_qcow2_rerun_module_s"], None),
            ("-", "`rbd_image`, same size, no `source:` (task)", best["no_source_s"], best["no_source_module_s"],
             used.get("no_source")),
            ("-", "trivial playbook (`ping`)", best["trivial_playbook_s"], "", None)]
    lines = [f"Run of {meta['date']}: {meta['size_mib']} MiB image, 90 % zeros; best of {meta['rounds']} rounds "
             f"(seconds); {meta['cpus']} CPUs, load average at the end {meta['load_average_at_end'][0]:.1f}; "
             f"{meta['ceph']}", "",
             "| source | method | wall s | module s | used MiB |", "|---|---|---|---|---|"]
    lines += [f"| {src} | {method} | {wall:.2f} | {mod if mod == '' else f'{mod:.2f}'} | "
              f"{'' if mib is None else mib} |" for src, method, wall, mod, mib in rows]
    lines += ["", "Import alone (module s minus the module s of the task without a source): raw "
              f"{best['ours_raw_import_s']:.2f} s, qcow2 {best['ours_qcow2_import_s']:.2f} s.", "",
              "| rbd_image / the faster tool | task | module | import alone |", "|---|---|---|---|"]
    lines += [f"| {fmt} | {result[f'ratio_{fmt}_task']} | {result[f'ratio_{fmt}_module']} | "
              f"{result[f'ratio_{fmt}_import']} |" for fmt in ("raw", "qcow2")]
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with test_environment("ceph-rbd-bench-import-") as env:
        cluster = admin_cluster(env["CEPH_CONF"])
        pool = fresh_pool(cluster)
        mon(cluster, "osd pool set", pool=pool, var="size", val="1", yes_i_really_mean_it=True)
        try:
            with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMPDIR")) as work:
                raw, qcow2 = make_sources(Path(work), args.size_mib)
                methods = Methods(Runner(env, Path(work)), env, cluster, pool)
                times = measure(methods, raw, qcow2, args.rounds, args.size_mib)
        finally:
            drop_pool(cluster, pool)
            cluster.shutdown()
    result = dict(summary(times), times=times, used_mib={k: v // MIB for k, v in methods.used.items()})
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": platform.machine(),
            "cpus": os.cpu_count(), "size_mib": args.size_mib, "rounds": args.rounds, "ceph": ceph_version(),
            "load_average_at_end": os.getloadavg()}
    (out / "image_import.json").write_text(json.dumps({"meta": meta, **result}, indent=2) + "\n")
    report = markdown(result, meta)
    (out / "image_import.md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
