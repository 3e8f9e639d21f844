# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: converging N volumes with rbd_image's batch form vs the usual ways.

Run by `make bench`. Starts a test environment (or reuses TESTENV_DIR), then for each N
measures, in one run, against fresh pools:

  cold      rbd_image images: (one task) | shell loop of `rbd create` |
            `command: rbd create` in an Ansible loop (N=50 only) | librbd loop in one process
  warm      the same batch again (nothing to change) | a trivial one-task playbook
            (measured alternately, best of 3 each) | a librbd loop opening each image once
  mixed     one batch that resizes 10%, deletes 10% and creates 10% more
  info      rbd_image_info over the pool
  delete    one batch deleting all N (state: absent)

and writes benchmarks/results/results.json, results.md and time_vs_n.png.
Only ratios between methods of the same run are meaningful; absolute times depend on
the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Callable, Iterator

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
COLLECTIONS = ROOT.parents[2]
BIN = Path(sys.executable).parent
SIZE = "10M"
SIZE_BYTES = 10 * 1024 * 1024
PG_NUM = 32


# --- environment --------------------------------------------------------------

def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            key, _sep, value = line[len("export "):].partition("=")
            env[key] = shlex.split(value)[0] if value else ""
    return env


TESTENV = ROOT / "tests" / "testenv" / "testenv"


@contextmanager
def test_environment(prefix: str, reuse_variable: str = "TESTENV_DIR", up_args: tuple[str, ...] = (),
                     fleet_net: str | None = None) -> Iterator[dict[str, str]]:
    """The variables of the running test environment that ``reuse_variable`` names, or of one
    started here with ``testenv up DIR *up_args`` (its fleet on ``fleet_net``) and stopped after."""
    reuse = os.environ.get(reuse_variable)
    directory = Path(reuse) if reuse else Path(tempfile.mkdtemp(prefix=prefix))
    env = dict(os.environ, TESTENV_FLEET_NET=fleet_net) if fleet_net else None
    if not reuse:
        subprocess.run([str(TESTENV), "up", str(directory), *up_args], check=True, env=env)
    try:
        yield read_env_file(directory / "env")
    finally:
        if not reuse:
            subprocess.run([str(TESTENV), "down", str(directory)], check=False, env=env)


def run_fleet_benchmark(doc: str, name: str, default_repeats: int, environment: tuple[str, str, tuple[str, ...], str],
                        measure: Callable[[dict[str, str], int], Any],
                        markdown: Callable[[Any, dict[str, Any]], str]) -> int:
    """The main() of a benchmark on a test environment of its own: --repeats and --out, the
    environment (``test_environment``'s arguments), ``measure(env, repeats)``, then NAME.json
    (meta and result) and NAME.md (``markdown(result, meta)``) in --out."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=default_repeats)
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": os.cpu_count(),
            "repeats": args.repeats, "load_average": os.getloadavg()}
    with test_environment(*environment) as env:
        result = measure(env, args.repeats)
    meta["load_average_at_end"] = os.getloadavg()
    (out / f"{name}.json").write_text(json.dumps({"meta": meta, "result": result}, indent=2) + "\n")
    report = markdown(result, meta)
    (out / f"{name}.md").write_text(report)
    print(report)
    return 0


def admin_cluster(conf: str):
    import rados  # pylint: disable=import-outside-toplevel

    cluster = rados.Rados(conffile=conf)
    cluster.connect(timeout=30)
    return cluster


def mon(cluster, prefix: str, **args: Any) -> None:
    cmd = dict(prefix=prefix, format="json", **args)
    ret, _out, errs = cluster.mon_command(json.dumps(cmd), b"")
    if ret != 0:
        raise RuntimeError(f"{prefix}: {errs}")


def fresh_pool(cluster) -> str:
    import rbd  # pylint: disable=import-outside-toplevel

    name = f"bench-{uuid.uuid4().hex[:8]}"
    mon(cluster, "osd pool create", pool=name, pg_num=PG_NUM, pgp_num=PG_NUM)
    mon(cluster, "osd pool application enable", pool=name, app="rbd")
    with cluster.open_ioctx(name) as ioctx:
        rbd.RBD().pool_init(ioctx, True)
    return name


def drop_pool(cluster, name: str) -> None:
    mon(cluster, "osd pool delete", pool=name, pool2=name, yes_i_really_really_mean_it=True)


def ceph_version() -> str:
    proc = subprocess.run(["rbd", "--version"], capture_output=True, text=True, check=False)
    return proc.stdout.strip()


def count_images(cluster, pool: str) -> int:
    import rbd  # pylint: disable=import-outside-toplevel

    with cluster.open_ioctx(pool) as ioctx:
        return len(rbd.RBD().list(ioctx))


# --- methods --------------------------------------------------------------------

class Runner:
    """Runs one method and returns its wall time; records module peak RSS."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = dict(os.environ, **env)
        self.env.update(
            ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_LOCALHOST_WARNING="0",
            ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        )
        self.workdir = workdir
        self.rss_file = workdir / "rss.txt"

    def _timed(self, cmd: list[str], env: dict[str, str] | None = None) -> float:
        started = time.perf_counter()
        proc = subprocess.run(cmd, env=env or self.env, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return elapsed

    def playbook(self, tasks: list[dict[str, Any]], measure_rss: bool = True) -> tuple[float, int, float]:
        """Run a localhost playbook; return (seconds, peak module RSS in KiB, module process seconds).

        With ``measure_rss`` each module runs under the rss_python wrapper (one more
        interpreter start per task, the same for the batch and the trivial playbook),
        which records the module process's peak RSS and wall time; without it, under
        /usr/bin/python3 directly (RSS and module time 0).
        """
        path = self.workdir / "play.yml"
        path.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
        self.rss_file.write_text("")
        env = dict(self.env, BENCH_RSS_FILE=str(self.rss_file))
        interpreter = HERE / "rss_python" if measure_rss else Path("/usr/bin/python3")
        seconds = self._timed([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                               "-e", f"ansible_python_interpreter={interpreter}", str(path)], env)
        records = [line.split() for line in self.rss_file.read_text().splitlines() if line.strip()]
        rss = max((int(record[0]) for record in records), default=0)
        module_seconds = sum(float(record[1]) for record in records)
        return seconds, rss, module_seconds

    def librbd_loop(self, pool: str, count: int, mode: str = "create") -> float:
        return self._timed(["/usr/bin/python3", str(HERE / "librbd_loop.py"), self.env["CEPH_CONF"], pool,
                            str(SIZE_BYTES), "vol-", str(count), mode])

    def shell_loop(self, pool: str, count: int) -> float:
        script = f'for i in $(seq -f "%05g" 0 {count - 1}); do rbd create --size {SIZE} {pool}/vol-$i || exit 1; done'
        return self._timed(["bash", "-c", script])

    def ansible_command_loop(self, pool: str, count: int) -> float:
        names = [f"vol-{i:05d}" for i in range(count)]
        return self.playbook([{
            "name": "rbd create in a loop",
            "ansible.builtin.command": {"argv": ["rbd", "create", "--size", SIZE, f"{pool}/{{{{ item }}}}"]},
            "loop": names,
            "changed_when": True,
        }], measure_rss=False)[0]  # the wrapper would add an interpreter start to each of the N tasks

    def batch(self, pool: str, images: list[dict[str, Any]]) -> tuple[float, int, float]:
        return self.playbook([{
            "name": "converge volumes",
            "limiquantix.ceph_rbd.rbd_image": {"pool": pool, "size": SIZE, "images": images},
        }])

    def info(self, pool: str) -> tuple[float, int, float]:
        return self.playbook([{"name": "volume info", "limiquantix.ceph_rbd.rbd_image_info": {"pool": pool}}])

    def trivial(self) -> tuple[float, int, float]:
        return self.playbook([{"name": "fixed cost", "ansible.builtin.ping": {}}])


def best_of_alternating(repeats: int, *funcs: Callable[[], tuple]) -> list[tuple]:
    """Run the functions in turn, `repeats` rounds; the fastest result of each.

    Alternating keeps a ratio between them fair when the machine's load drifts
    (each run must leave the state as it found it).
    """
    results: list[list[tuple]] = [[] for _func in funcs]
    for _round in range(repeats):
        for func, found in zip(funcs, results):
            found.append(func())
    return [min(found, key=lambda result: result[0]) for found in results]


def measure(runner: Runner, cluster, count: int) -> dict[str, Any]:
    names = [f"vol-{i:05d}" for i in range(count)]
    row: dict[str, Any] = {"n": count}

    def in_fresh_pool(func: Callable[[str], Any], expect: int | None = None) -> Any:
        pool = fresh_pool(cluster)
        try:
            result = func(pool)
            if expect is not None and count_images(cluster, pool) != expect:
                raise RuntimeError(f"expected {expect} images in {pool}")
            return result
        finally:
            drop_pool(cluster, pool)

    row["librbd_loop_s"] = in_fresh_pool(lambda p: runner.librbd_loop(p, count), count)
    row["shell_rbd_loop_s"] = in_fresh_pool(lambda p: runner.shell_loop(p, count), count)
    if count <= 50:
        row["ansible_command_loop_s"] = in_fresh_pool(lambda p: runner.ansible_command_loop(p, count), count)
    items = [{"name": n} for n in names]

    def batch_methods(pool: str) -> None:
        """Cold, warm (alternating with the trivial playbook), info, mixed and delete in one pool."""
        row["batch_cold_s"], row["batch_cold_rss_kib"], row["batch_cold_module_s"] = runner.batch(pool, items)
        assert count_images(cluster, pool) == count
        row["librbd_open_loop_s"] = runner.librbd_loop(pool, count, "open")
        trivial, warm = best_of_alternating(3, runner.trivial, lambda: runner.batch(pool, items))
        row["trivial_playbook_s"], row["trivial_rss_kib"], row["trivial_module_s"] = trivial
        row["batch_warm_s"], row["batch_warm_rss_kib"], row["batch_warm_module_s"] = warm
        row["info_s"], row["info_rss_kib"], _info_module_s = runner.info(pool)
        tenth = max(1, count // 10)
        mixed = ([{"name": n, "size": "20M"} for n in names[:tenth]]
                 + [{"name": n} for n in names[tenth:count - tenth]]
                 + [{"name": n, "state": "absent"} for n in names[count - tenth:]]
                 + [{"name": f"vol-new-{i:05d}"} for i in range(tenth)])
        row["batch_mixed_s"], row["batch_mixed_rss_kib"], _mixed_module_s = runner.batch(pool, mixed)
        assert count_images(cluster, pool) == count
        remaining = [item["name"] for item in mixed if item.get("state") != "absent"]
        row["batch_delete_s"], row["batch_delete_rss_kib"], _delete_module_s = runner.batch(
            pool, [{"name": n, "state": "absent"} for n in remaining])

    in_fresh_pool(batch_methods, expect=0)
    return row


# --- report ---------------------------------------------------------------------

def ratios(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_n = {row["n"]: row for row in rows}
    out: dict[str, Any] = {}
    for n, row in by_n.items():
        out[f"n{n}_shell_over_batch_cold"] = row["shell_rbd_loop_s"] / row["batch_cold_s"]
        out[f"n{n}_batch_cold_over_floor_plus_fixed"] = row["batch_cold_s"] / (
            row["librbd_loop_s"] + row["trivial_playbook_s"])
        out[f"n{n}_batch_warm_over_trivial"] = row["batch_warm_s"] / row["trivial_playbook_s"]
        out[f"n{n}_batch_warm_over_cold"] = row["batch_warm_s"] / row["batch_cold_s"]
        out[f"n{n}_batch_cold_over_librbd_loop"] = row["batch_cold_s"] / row["librbd_loop_s"]
        out[f"n{n}_floor_warm_over_trivial"] = (row["trivial_playbook_s"] + row["librbd_open_loop_s"]) / row[
            "trivial_playbook_s"]
        out[f"n{n}_warm_module_over_trivial_module"] = row["batch_warm_module_s"] / row["trivial_module_s"]
        if "ansible_command_loop_s" in row:
            out[f"n{n}_command_loop_over_batch_cold"] = row["ansible_command_loop_s"] / row["batch_cold_s"]
    if 200 in by_n and 1000 in by_n:
        def per_volume(row: dict[str, Any]) -> float:
            return (row["batch_cold_s"] - row["trivial_playbook_s"]) / row["n"]
        out["per_volume_n1000_over_n200"] = per_volume(by_n[1000]) / per_volume(by_n[200])
    return out


TARGETS = [
    ("n200_shell_over_batch_cold", ">=", 3.0, "batch cold create of 200 at least 3x faster than the shell rbd loop"),
    ("n200_batch_cold_over_floor_plus_fixed", "<=", 2.0, "batch cold 200 within 2x of librbd loop + trivial playbook"),
    ("n200_batch_warm_over_trivial", "<=", 1.5, "warm no-op re-run of 200 at most 1.5x a trivial playbook"),
    ("per_volume_n1000_over_n200", "<=", 1.3, "per-volume time N=1000 over N=200 at most 1.3"),
]


def markdown(rows: list[dict[str, Any]], ratio: dict[str, Any], meta: dict[str, Any]) -> str:
    cols = ["n", "librbd_loop_s", "shell_rbd_loop_s", "ansible_command_loop_s", "trivial_playbook_s",
            "batch_cold_s", "librbd_open_loop_s", "batch_warm_s", "trivial_module_s", "batch_cold_module_s",
            "batch_warm_module_s", "batch_mixed_s", "batch_delete_s", "info_s",
            "trivial_rss_kib", "batch_cold_rss_kib", "batch_warm_rss_kib", "batch_mixed_rss_kib",
            "batch_delete_rss_kib", "info_rss_kib"]
    lines = [f"Benchmark run {meta['date']} on {meta['machine']} ({meta['cpus']} CPUs), image size {SIZE}, "
             f"{meta['ceph']}; load average at the end {meta['load_average_at_end'][0]:.1f}.", "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in rows:
        lines.append("| " + " | ".join(
            f"{row[c]:.2f}" if isinstance(row.get(c), float) else str(row.get(c, "-")) for c in cols) + " |")
    lines += ["", "| ratio | value | target | met |", "|---|---|---|---|"]
    for key, op, bound, text in TARGETS:
        if key in ratio:
            value = ratio[key]
            met = value >= bound if op == ">=" else value <= bound
            lines.append(f"| {text} | {value:.2f} | {op} {bound} | {'yes' if met else 'NO'} |")
    lines += ["", "All ratios:", ""] + [f"- {k}: {v:.2f}" for k, v in sorted(ratio.items())]
    return "\n".join(lines) + "\n"


def plot(rows: list[dict[str, Any]], path: Path) -> bool:
    try:
        import matplotlib  # pylint: disable=import-outside-toplevel

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    except ImportError:
        print("matplotlib not installed: no plot", file=sys.stderr)
        return False
    fig, axis = plt.subplots(figsize=(8, 5))
    series = [("librbd_loop_s", "librbd loop (floor)"), ("shell_rbd_loop_s", "shell loop of rbd create"),
              ("ansible_command_loop_s", "command: rbd create in a loop"), ("batch_cold_s", "rbd_image images: cold"),
              ("batch_warm_s", "rbd_image images: warm (no-op)"), ("batch_mixed_s", "rbd_image images: mixed"),
              ("batch_delete_s", "rbd_image images: delete all"),
              ("info_s", "rbd_image_info"), ("trivial_playbook_s", "trivial one-task playbook"),
              ("librbd_open_loop_s", "librbd loop opening each image")]
    for key, label in series:
        points = [(row["n"], row[key]) for row in rows if key in row]
        if points:
            axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
    axis.set_xlabel("volumes (N)")
    axis.set_ylabel("seconds")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=8)
    axis.set_title("Converging N RBD volumes")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="50,200,1000")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    with test_environment("ceph-rbd-bench-") as env:
        cluster = admin_cluster(env["CEPH_CONF"])
        with tempfile.TemporaryDirectory() as work:
            runner = Runner(env, Path(work))
            rows = []
            for count in sizes:
                print(f"measuring N={count} ...", flush=True)
                rows.append(measure(runner, cluster, count))
        cluster.shutdown()

    ratio = ratios(rows)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": platform.machine(),
            "cpus": os.cpu_count(), "image_size": SIZE, "ceph": ceph_version(),
            "load_average_at_end": os.getloadavg()}
    (out / "results.json").write_text(json.dumps({"meta": meta, "rows": rows, "ratios": ratio}, indent=2) + "\n")
    report = markdown(rows, ratio, meta)
    (out / "results.md").write_text(report)
    plot(rows, out / "time_vs_n.png")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
