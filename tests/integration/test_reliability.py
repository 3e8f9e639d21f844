# SPDX-License-Identifier: GPL-3.0-or-later
"""Reliability suite (issue 11): faults, interrupted and concurrent runs, bad input, data safety.

Each fault: a clear error within the timeout, no traceback, nothing changed or lost,
and a re-run after recovery converges. Figures measured here are written up in
docs/reliability.md; the bad-input results in docs/security.md.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import struct
import subprocess
import time
from pathlib import Path

import pytest

from .cephstate import (
    clone_image,
    cluster_settled,
    create_rbd_pool,
    create_test_image,
    delete_pool,
    half_created_images,
    health,
    image_held_open,
    image_names,
    image_snapshots,
    image_state,
    mon,
    read_image,
    scratch_rbd_pool,
    wait_until,
)
from .conftest import TESTENV
from .harness import BIN, FQCN, SYSTEM_PYTHON, Result, _parse, ansible_env, run_module, run_playbook, write_playbook

MIB = 1024 ** 2
TIMEOUT = 10  # the connection timeout the fault tests give the modules
PATTERN = b"limiquantix-reliability-" * 1000  # 24 000 bytes written and verified around refusals


@pytest.fixture(scope="module")
def pool(ceph):
    with scratch_rbd_pool(ceph, "rel-test") as name:
        yield name


@pytest.fixture
def fresh_pool(ceph, unique_name):
    """A pool of its own for tests that count every image and object in it."""
    with scratch_rbd_pool(ceph, unique_name("rel")) as name:
        yield name


def daemon(testenv, action: str, name: str) -> None:
    """Stop or start one Ceph daemon of the test environment."""
    subprocess.run([str(TESTENV), action, testenv["TESTENV_DIR"], name], check=True, timeout=120,
                   capture_output=True)


def module_command(module: str, args: dict) -> list[str]:
    return [str(BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local",
            "-e", f"ansible_python_interpreter={SYSTEM_PYTHON}", "-m", f"{FQCN}.{module}",
            "-a", json.dumps(args)]


def start(cmd: list[str], cwd: str | None = None) -> subprocess.Popen:
    """Start an ansible process in a process group of its own (so it can be killed whole)."""
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=ansible_env(), start_new_session=True, cwd=cwd)


def descendants(pid: int) -> set[int]:
    """The processes below ``pid`` (its children, theirs, ...), read from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def kill_run(proc: subprocess.Popen) -> set[int]:
    """SIGKILL an ansible run whole, as a machine that dies would: the controller, its workers
    and their module processes. An Ansible worker calls setsid(), so killing the controller's
    process group leaves the worker and its module running. Every process is stopped first
    (none forks a new one while the tree is read), then killed; returns their pids."""
    stopped: set[int] = set()
    while pids := ({proc.pid} | descendants(proc.pid)) - stopped:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        stopped |= pids
    for pid in stopped:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return stopped


def finish(proc: subprocess.Popen, started: float, timeout: float = 300) -> Result:
    out, err = proc.communicate(timeout=timeout)
    result = _parse(subprocess.CompletedProcess(proc.args, proc.returncode, out, err), time.monotonic() - started)
    result.data = dict(result.data, _rc=proc.returncode)
    return result


def assert_no_traceback(result: Result) -> None:
    text = result.stdout + result.stderr
    assert "Traceback (most recent call last)" not in text, text[-3000:]
    assert "unexpected error" not in result.msg


def batch(pool: str, names: list[str], **options) -> dict:
    return dict({"pool": pool, "size": "8M", "timeout": TIMEOUT, "images": [{"name": n} for n in names]}, **options)


# ---------------------------------------------------------------- faults

def test_monitor_down_mid_run_fails_clearly_then_rerun_converges(testenv, ceph, fresh_pool, tmp_path):
    first = [f"vol-a{i:03d}" for i in range(100)]
    second = [f"vol-b{i:03d}" for i in range(100)]
    playbook = write_playbook(tmp_path, [
        {"name": "first batch", f"{FQCN}.rbd_image": batch(fresh_pool, first)},
        {"name": "let the monitor go", "ansible.builtin.pause": {"seconds": 3}},
        {"name": "second batch", f"{FQCN}.rbd_image": batch(fresh_pool, second)},
    ])
    started = time.monotonic()
    proc = start([str(BIN / "ansible-playbook"), str(playbook), "-i", "localhost,", "-c", "local"])
    try:
        wait_until("the first images", lambda: len(image_names(ceph, fresh_pool)) > 0, seconds=60, interval=0.02)
        daemon(testenv, "stop", "mon.a")
        result = finish(proc, started, timeout=120)
    finally:
        daemon(testenv, "start", "mon.a")
    # The first batch needs only the OSDs once connected: it finishes. The second one
    # cannot connect and says so within its timeout.
    first_task, second_task = result.tasks[0], result.tasks[-1]
    assert not first_task.get("failed"), first_task.get("msg")
    assert second_task.get("failed")
    assert "cannot reach the Ceph monitors" in second_task["msg"]
    assert f"within {TIMEOUT} s" in second_task["msg"]
    assert result.seconds < 3 + TIMEOUT + 25, result.seconds  # pause + timeout + ansible start-up margin
    assert_no_traceback(result)
    wait_until("the monitor", lambda: health(ceph) is not None, seconds=60)
    assert image_names(ceph, fresh_pool) == first
    assert half_created_images(ceph, fresh_pool) == []

    rerun = run_playbook(playbook)
    assert rerun["_rc"] == 0, rerun.msg
    assert [t.get("changed") for t in rerun.tasks] == [False, False, True]
    assert image_names(ceph, fresh_pool) == sorted(first + second)
    assert half_created_images(ceph, fresh_pool) == []
    print(f"FIGURE monitor down: run failed after {result.seconds:.1f} s")


def test_osd_down_degraded_pool_still_writes_and_info_warns(testenv, ceph, pool):
    daemon(testenv, "stop", "osd.2")
    try:
        wait_until("osd.2 marked down", lambda: "OSD_DOWN" in (health(ceph).get("checks") or {}), seconds=60)
        created = run_module("rbd_image", {"pool": pool, "name": "vol-degraded", "size": "16M",
                                           "timeout": TIMEOUT})
        assert created.changed and not created.failed, created.msg
        from .cephstate import write_image  # pylint: disable=import-outside-toplevel
        write_image(ceph, pool, "vol-degraded", PATTERN)
        info = run_module("rbd_pool_info", {"name": pool, "timeout": TIMEOUT})
        assert not info.failed, info.msg
        assert info["cluster"]["health"] == "HEALTH_WARN"
        assert "OSD_DOWN" in info["cluster"]["checks"]
        assert info["cluster"]["checks"]["OSD_DOWN"]["severity"] == "HEALTH_WARN"
    finally:
        daemon(testenv, "start", "osd.2")
    settle = wait_until("all OSDs up and PGs active+clean", lambda: cluster_settled(ceph), seconds=180)
    print(f"FIGURE osd down: settled {settle:.1f} s after restart")
    assert read_image(ceph, pool, "vol-degraded", len(PATTERN)) == PATTERN
    again = run_module("rbd_image", {"pool": pool, "name": "vol-degraded", "size": "16M"})
    assert not again.failed and not again.changed


def test_full_pool_create_and_resize_fail_naming_the_quota(testenv, ceph, fresh_pool):
    create_test_image(ceph, fresh_pool, "vol-full", 64 * MIB)
    mon(ceph, "osd pool set-quota", pool=fresh_pool, field="max_objects", val="8")
    from .cephstate import write_image  # pylint: disable=import-outside-toplevel
    for index in range(12):  # one object per 4 MiB
        write_image(ceph, fresh_pool, "vol-full", PATTERN, offset=index * 4 * MIB)

    def pool_full() -> bool:
        detail = [p for p in mon(ceph, "osd pool ls", detail="detail") if p["pool_name"] == fresh_pool][0]
        return "full_quota" in detail["flags_names"]

    wait_until("the quota flag", pool_full, seconds=60)
    before = image_state(ceph, fresh_pool, "vol-full")
    try:
        for args in ({"name": "vol-new", "size": "8M"}, {"name": "vol-full", "size": "128M"}):
            result = run_module("rbd_image", dict(args, pool=fresh_pool, timeout=5))
            assert result.failed
            assert f"pool {fresh_pool!r} is full: quota max_objects 8" in result.msg
            assert result.seconds < 5 + 15, result.seconds
            assert_no_traceback(result)
            print(f"FIGURE full pool {args['name']}: failed after {result.seconds:.1f} s: {result.msg}")
        assert image_state(ceph, fresh_pool, "vol-full") == before
        assert "vol-new" not in image_names(ceph, fresh_pool)
    finally:
        mon(ceph, "osd pool set-quota", pool=fresh_pool, field="max_objects", val="0")
    wait_until("the quota flag to clear", lambda: not pool_full(), seconds=60)
    rerun = run_module("rbd_image", {"pool": fresh_pool, "timeout": TIMEOUT, "images": [
        {"name": "vol-new", "size": "8M"}, {"name": "vol-full", "size": "128M"}]})
    assert rerun.changed and not rerun.failed, rerun.msg
    assert image_state(ceph, fresh_pool, "vol-full")["size"] == 128 * MIB
    assert read_image(ceph, fresh_pool, "vol-full", len(PATTERN), offset=11 * 4 * MIB) == PATTERN
    assert half_created_images(ceph, fresh_pool) == []


def _tampered(key: str) -> str:
    """The same cephx key with its secret changed (its header bytes kept)."""
    raw = bytearray(base64.b64decode(key))
    raw[-1] ^= 0xFF
    return base64.b64encode(bytes(raw)).decode()


def test_wrong_key_missing_caps_and_removed_user_fail_clearly(testenv, ceph, pool, unique_name):
    other = unique_name("rel-other")
    create_rbd_pool(ceph, other)
    user = unique_name("narrow")
    key = mon(ceph, "auth get-or-create", entity=f"client.{user}",
              caps=["mon", "profile rbd", "osd", f"profile rbd pool={other}"])[0]["key"]
    as_user = {"user": user, "key": key, "timeout": TIMEOUT}
    no_keyring = {"CEPH_KEYRING": ""}
    try:
        allowed = run_module("rbd_image", dict(as_user, pool=other, name="vol-ok", size="4M"), env=no_keyring)
        assert allowed.changed and not allowed.failed, allowed.msg

        cases = {
            "missing caps": (dict(as_user, pool=pool, name="vol-denied", size="4M"),
                             f"client.{user} is not allowed to do this, its caps do not cover it "
                             f"(list images in {pool}: permission denied"),
            "wrong key": (dict(as_user, key=_tampered(key), pool=other, name="vol-denied", size="4M"),
                          f"refused client.{user}: wrong key or keyring, or the user does not exist"),
        }
        for label, (args, message) in cases.items():
            result = run_module("rbd_image", args, env=no_keyring)
            assert result.failed, label
            assert message in result.msg, (label, result.msg)
            assert result.seconds < TIMEOUT + 15, (label, result.seconds)
            assert_no_traceback(result)
            print(f"FIGURE {label}: failed after {result.seconds:.1f} s: {result.msg}")
        mon(ceph, "auth rm", entity=f"client.{user}")
        removed = run_module("rbd_image", dict(as_user, pool=other, name="vol-denied", size="4M"), env=no_keyring)
        assert removed.failed
        assert f"refused client.{user}: wrong key or keyring, or the user does not exist" in removed.msg
        assert_no_traceback(removed)
        print(f"FIGURE removed user: failed after {removed.seconds:.1f} s: {removed.msg}")
        assert "vol-denied" not in image_names(ceph, pool) + image_names(ceph, other)
        assert image_names(ceph, other) == ["vol-ok"]
    finally:
        try:
            mon(ceph, "auth rm", entity=f"client.{user}")
        except RuntimeError:
            pass
        delete_pool(ceph, other)


def test_batch_whose_30th_volume_fails_reports_changed_and_the_29_done(testenv, ceph, fresh_pool, unique_name):
    """A user who may write one pool but only read another: the 30th volume (in the read-only pool)
    passes planning (its pool can be listed) and fails at creation, after the 29 were created."""
    readonly_pool = unique_name("rel-ro")
    create_rbd_pool(ceph, readonly_pool)
    user = unique_name("half")
    key = mon(ceph, "auth get-or-create", entity=f"client.{user}",
              caps=["mon", "profile rbd", "osd", f"profile rbd pool={fresh_pool}, profile rbd-read-only pool={readonly_pool}"])[0]["key"]
    names = [f"vol-{i:02d}" for i in range(29)]
    args = dict(batch(fresh_pool, names, user=user, key=key))
    args["images"].append({"name": "vol-29", "pool": readonly_pool})
    try:
        result = run_module("rbd_image", args, env={"CEPH_KEYRING": ""})
        assert result.failed and result.changed, result.data
        assert result.msg.startswith(f"images[29] ({readonly_pool}/vol-29): "), result.msg
        assert "permission denied" in result.msg, result.msg
        assert result["done"] == [f"{fresh_pool}/{name}" for name in names]
        assert_no_traceback(result)
        assert image_names(ceph, fresh_pool) == names and image_names(ceph, readonly_pool) == []

        again = run_module("rbd_image", args, env={"CEPH_KEYRING": ""})
        assert again.failed and not again.changed and again["done"] == [], again.data
        assert image_names(ceph, fresh_pool) == names and image_names(ceph, readonly_pool) == []
    finally:
        mon(ceph, "auth rm", entity=f"client.{user}")
        delete_pool(ceph, readonly_pool)


def test_killed_run_then_rerun_converges_without_orphans(testenv, ceph, fresh_pool):
    names = [f"vol-{i:03d}" for i in range(200)]
    args = batch(fresh_pool, names, metadata={"tenant": "acme"}, qos={"iops_limit": 500})
    started = time.monotonic()
    proc = start(module_command("rbd_image", args))
    wait_until("a quarter of the batch", lambda: len(image_names(ceph, fresh_pool)) >= 50, seconds=120,
               interval=0.02)
    killed = kill_run(proc)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # The module process too (killing the controller's process group alone had left the
    # worker, which has a session of its own, creating the rest beside the re-run).
    assert len(killed) >= 3, killed  # controller, worker, module
    wait_until("every process of the killed run gone", lambda: not any(alive(pid) for pid in killed), seconds=30)
    killed_at = len(image_names(ceph, fresh_pool))
    time.sleep(2)
    assert len(image_names(ceph, fresh_pool)) == killed_at  # nothing goes on creating
    print(f"FIGURE killed run: killed after {time.monotonic() - started:.1f} s with {killed_at} of 200 images")

    rerun = run_module("rbd_image", args)
    assert not rerun.failed, rerun.msg
    assert image_names(ceph, fresh_pool) == names
    assert half_created_images(ceph, fresh_pool) == []
    for name in names:
        state = image_state(ceph, fresh_pool, name)
        assert state["size"] == 8 * MIB, name
        assert state["metadata"] == {"conf_rbd_qos_iops_limit": "500", "tenant": "acme"}, name
        assert state["snapshots"] == {}, name
    again = run_module("rbd_image", args)
    assert not again.failed and not again.changed


def test_half_created_leftover_of_a_killed_run_is_cleared_and_created(testenv, ceph, fresh_pool):
    """What a run killed inside librbd's create leaves: an id object, no header, not listed."""
    with ceph.open_ioctx(fresh_pool) as ioctx:
        ioctx.write_full("rbd_id.vol-ghost", struct.pack("<I", 8) + b"deadbeef")
    assert image_names(ceph, fresh_pool) == []
    for extra in ({}, {"metadata": {"tenant": "acme"}}):  # the plain and the general create path
        name = "vol-ghost" if not extra else "vol-ghost2"
        if extra:
            with ceph.open_ioctx(fresh_pool) as ioctx:
                ioctx.write_full(f"rbd_id.{name}", struct.pack("<I", 8) + b"feedface")
        result = run_module("rbd_image", dict({"pool": fresh_pool, "name": name, "size": "8M"}, **extra))
        assert result.changed and not result.failed, result.msg
        assert image_state(ceph, fresh_pool, name)["size"] == 8 * MIB
    assert image_names(ceph, fresh_pool) == ["vol-ghost", "vol-ghost2"]
    assert half_created_images(ceph, fresh_pool) == []


def test_two_runs_converging_the_same_volumes_at_once(testenv, ceph, fresh_pool):
    names = [f"vol-{i:02d}" for i in range(50)]
    args = batch(fresh_pool, names)
    # The second run walks the list backwards, so the two meet in the middle.
    backwards = batch(fresh_pool, names[::-1])
    started = time.monotonic()
    procs = [start(module_command("rbd_image", run_args)) for run_args in (args, backwards)]
    results = [finish(proc, started) for proc in procs]
    for result in results:
        assert_no_traceback(result)
        if result.failed:  # allowed, if it says clearly what happened
            assert "created by another client meanwhile" in result.msg, result.msg
    assert not all(result.failed for result in results)
    created = sum(1 for result in results if not result.failed
                  for entry in result["images"] if entry["changed"])
    assert created == 50, [r.msg for r in results]  # each image created by exactly one of the runs
    print(f"FIGURE concurrent runs: {[('failed' if r.failed else 'ok') for r in results]}, "
          f"{[sum(e['changed'] for e in r['images']) for r in results if not r.failed]} created")
    assert image_names(ceph, fresh_pool) == names
    assert half_created_images(ceph, fresh_pool) == []
    ids = {image_state(ceph, fresh_pool, name)["id"] for name in names}
    assert len(ids) == 50
    again = run_module("rbd_image", args)
    assert not again.failed and not again.changed


# ---------------------------------------------------------------- bad input

BAD_INPUT = [
    ("name with /", {"name": "vol/1", "size": "8M"}, "must not contain '/'"),
    ("name with @", {"name": "vol@1", "size": "8M"}, "must not contain '@'"),
    ("name with :", {"name": "vol:1", "size": "8M"}, "must not contain ':'"),
    ("name with space", {"name": "vol 1", "size": "8M"}, "must not contain whitespace"),
    ("name with NUL", {"name": "vol\u00001", "size": "8M"}, "must not contain NUL"),
    ("300-char name", {"name": "v" * 300, "size": "8M"}, "is 300 bytes long; the limit is 250 bytes"),
    ("size 0", {"name": "vol-size", "size": 0}, "size must be greater than 0"),
    ("size -1", {"name": "vol-size", "size": -1}, "must not be negative"),
    ("size 1.5G", {"name": "vol-size", "size": "1.5G"}, "is not a size"),
    ("size 10Q", {"name": "vol-size", "size": "10Q"}, "unknown unit 'Q'"),
    ("size 1e9", {"name": "vol-size", "size": "1e9"}, "'1e9' is not a size"),
    ("shrink without allow_shrink", {"name": "vol-keep", "size": "8M"}, "set allow_shrink: true"),
    ("clone_from without snapshot", {"name": "vol-clone", "clone_from": "rel-test/vol-keep"}, "names no snapshot"),
    ("clone_from too many parts", {"name": "vol-clone", "clone_from": "a/b/c/d@s"}, "is not 'pool[/namespace]/image@snapshot'"),
    ("clone_from a list", {"name": "vol-clone", "clone_from": ["rel-test", "vol-keep"]}, "clone_from must be"),
    # Ansible's own argument checks answer these two, before the module runs (see docs/security.md).
    ("images as a string", {"images": "vol-1", "size": "8M"}, "dictionary requested, could not parse JSON"),
    ("images as a list of strings", {"images": ["vol-1", "vol-2"], "size": "8M"},
     "dictionary requested, could not parse JSON"),
    ("unknown feature", {"name": "vol-feat", "size": "8M", "features": "layering,bogus"}, "bogus"),
]


@pytest.mark.parametrize("label,args,message", BAD_INPUT, ids=[case[0] for case in BAD_INPUT])
def test_bad_input_fails_clearly_and_changes_nothing(testenv, ceph, pool, label, args, message, request):
    if "vol-keep" not in image_names(ceph, pool):
        create_test_image(ceph, pool, "vol-keep", 16 * MIB, data=PATTERN, snapshot="base")
    names_before = image_names(ceph, pool)
    keep_before = image_state(ceph, pool, "vol-keep")
    result = run_module("rbd_image", dict(args, pool=pool))
    assert result.failed, (label, result.data)
    assert message in result.msg, (label, result.msg)
    assert_no_traceback(result)
    assert image_names(ceph, pool) == names_before
    assert image_state(ceph, pool, "vol-keep") == keep_before
    assert read_image(ceph, pool, "vol-keep", len(PATTERN)) == PATTERN
    print(f"FIGURE bad input {label}: {result.msg}")


def test_unicode_names_and_a_features_string_are_accepted(testenv, ceph, pool):
    name = "vol-ünïcødé-卷"
    created = run_module("rbd_image", {"pool": pool, "name": name, "size": "8M", "features": "layering"})
    assert created.changed and not created.failed, created.msg
    state = image_state(ceph, pool, name)
    assert state["size"] == 8 * MIB and state["features"] == 1  # "layering" read as [layering]
    deleted = run_module("rbd_image", {"pool": pool, "name": name, "state": "absent"})
    assert deleted.changed and not deleted.failed
    assert name not in image_names(ceph, pool)


# ---------------------------------------------------------------- data safety

def test_deleting_a_volume_in_use_with_snapshots_or_clones_is_refused_and_data_intact(testenv, ceph, fresh_pool):
    for name in ("vol-parent", "vol-snap", "vol-open"):
        create_test_image(ceph, fresh_pool, name, 16 * MIB, data=PATTERN,
                          snapshot="gold" if name != "vol-open" else None)
    with image_held_open(ceph, fresh_pool, "vol-parent") as parent:
        parent.protect_snap("gold")  # clone format 1 (this cluster's default) needs it
    clone_image(ceph, fresh_pool, "vol-parent", "gold", "vol-child")

    def delete(name: str, **extra) -> Result:
        return run_module("rbd_image", dict({"pool": fresh_pool, "name": name, "state": "absent"}, **extra))

    for name, extra, message in (
        ("vol-parent", {"force": True}, f"has clone children {fresh_pool}/vol-child"),
        ("vol-snap", {}, "has snapshots gold: set force: true"),
    ):
        refused = delete(name, **extra)
        assert refused.failed and message in refused.msg, refused.msg
        assert_no_traceback(refused)
        print(f"FIGURE delete {name}: {refused.msg}")
    with image_held_open(ceph, fresh_pool, "vol-open"):
        refused = delete("vol-open")
        assert refused.failed and "is in use, refusing to delete it: opened by (watchers)" in refused.msg, refused.msg
        print(f"FIGURE delete vol-open: {refused.msg}")
    assert image_names(ceph, fresh_pool) == ["vol-child", "vol-open", "vol-parent", "vol-snap"]
    for name in ("vol-parent", "vol-snap", "vol-open", "vol-child"):
        assert read_image(ceph, fresh_pool, name, len(PATTERN)) == PATTERN, name
    assert set(image_snapshots(ceph, fresh_pool, "vol-parent")) == {"gold"}
    assert set(image_snapshots(ceph, fresh_pool, "vol-snap")) == {"gold"}
