# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 18: defects found by trying to break the collection, each against the real cluster.

Caps injection through a rotation's keyring text, unclear messages (keyring paths, blank
keys, non-ASCII caps), keyring permissions, and what ANSIBLE_KEEP_REMOTE_FILES keeps.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .cephstate import (
    admin_key,
    create_image,
    create_test_image,
    image_state,
    image_names,
    health,
    mon,
    pool_detail,
    rbd_ioctx,
    rbd_watchers,
    read_image,
    cluster_settled,
    scratch_rbd_pool,
    wait_until,
    write_image,
)
from .conftest import TESTENV
from .harness import run_module, run_playbook
from .hypervisor_helpers import auth_get, auth_rm
from .monitoring_helpers import mgr_module_enabled

# The value from the issue: a backslash-quote closes the quoted caps value early, the
# newline starts a new line, and the section rewrites another user's key and caps.
INJECTED_KEY = "AQBXOgdrERbuMBAAGrwK+zPhC7MU7r0AwADSmg=="


def hostile_caps(other: str) -> str:
    return (f'profile rbd\\"\n[{other}]\n\tkey = {INJECTED_KEY}\n'
            '\tcaps mon = "allow *')


@pytest.fixture
def two_clients(ceph, unique_name):
    """A client to rotate and a bystander whose key and caps must never change."""
    target, other = f"client.{unique_name('rot')}", f"client.{unique_name('other')}"
    for entity in (target, other):
        mon(ceph, "auth get-or-create", entity=entity, caps=["mon", "profile rbd", "osd", "profile rbd"])
    yield target, other
    for entity in (target, other):
        auth_rm(ceph, entity)


@pytest.mark.parametrize("check_mode", [True, False], ids=["check", "apply"])
def test_caps_that_would_inject_a_keyring_section_are_refused(ceph, two_clients, check_mode):
    target, other = two_clients
    before = {entity: auth_get(ceph, entity) for entity in two_clients}
    result = run_module("ceph_client_key", {
        "name": target, "rotate": True,
        "caps": {"mon": "profile rbd", "osd": hostile_caps(other)},
    }, check=check_mode)
    assert result.failed and not result.changed, result.data
    assert "caps.osd must not contain a line break" in result.msg
    assert INJECTED_KEY not in result.msg
    assert {entity: auth_get(ceph, entity) for entity in two_clients} == before
    assert auth_get(ceph, other)["caps"] == {"mon": "profile rbd", "osd": "profile rbd"}


@pytest.mark.parametrize("caps, message", [
    ("profile rbd\nallow r", "caps.osd must not contain a line break"),
    ("profile rbd pool=vol\u00e9s", "caps.osd must be ASCII: Ceph caps are ASCII (found U+00E9)"),
    ("profile rbd pool=a\x00b", "caps.osd must not contain a NUL byte"),
    ("profile rbd # all", "caps.osd must not contain '#'"),
], ids=["newline", "non-ascii", "nul", "comment"])
def test_caps_apply_would_refuse_are_refused_in_check_mode_too(ceph, two_clients, caps, message):
    target, _other = two_clients
    before = auth_get(ceph, target)
    for check_mode in (True, False):
        for rotate in (True, False):
            result = run_module("ceph_client_key", {
                "name": target, "rotate": rotate, "caps": {"mon": "profile rbd", "osd": caps},
            }, check=check_mode)
            assert result.failed and not result.changed, result.data
            assert message in result.msg
            assert "codec" not in result.msg
    assert auth_get(ceph, target) == before


def test_rotation_keeps_quotes_and_backslashes_in_caps_exact(ceph, two_clients):
    """The strict encoder escapes what Ceph's keyring parser unescapes: caps round-trip."""
    target, other = two_clients
    other_before = auth_get(ceph, other)
    caps = {"mon": "profile rbd", "osd": 'allow rwx object_prefix "rbd\\data", allow r pool="vols"'}
    first = run_module("ceph_client_key", {"name": target, "caps": caps})
    assert first.changed and not first.failed, first.msg
    key_before = auth_get(ceph, target)["key"]
    rotated = run_module("ceph_client_key", {"name": target, "caps": caps, "rotate": True})
    assert rotated.changed and not rotated.failed, rotated.msg
    real = auth_get(ceph, target)
    assert real["caps"] == caps and real["key"] != key_before
    again = run_module("ceph_client_key", {"name": target, "caps": caps})
    assert not again.changed and not again.failed, again.msg
    assert auth_get(ceph, other) == other_before


@pytest.fixture
def admin_keyring_copy(testenv, tmp_path):
    """A copy of the admin keyring whose mode a test may change."""
    path = tmp_path / "admin.keyring"
    shutil.copyfile(testenv["CEPH_KEYRING"], path)
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("kind", ["directory", "dev-null", "fifo"])
def test_keyring_path_that_is_not_a_file_says_what_it_is(tmp_path, kind):
    expected = {"directory": "is a directory", "dev-null": "is a character device",
                "fifo": "is a named pipe"}[kind]
    if kind == "directory":
        path = str(tmp_path)
    elif kind == "dev-null":
        path = "/dev/null"
    else:
        path = str(tmp_path / "pipe")
        os.mkfifo(path)
    result = run_module("rbd_pool_info", {"keyring": path})
    assert result.failed
    assert f"the keyring {path} {expected}, not a keyring file" in result.msg
    assert "does not exist" not in result.msg


def test_missing_keyring_still_says_it_does_not_exist(tmp_path):
    result = run_module("rbd_pool_info", {"keyring": str(tmp_path / "missing")})
    assert result.failed and f"the keyring {tmp_path / 'missing'} does not exist" in result.msg


@pytest.mark.parametrize("blank", [" ", "   ", "\t"], ids=["space", "spaces", "tab"])
def test_blank_key_is_refused_without_a_mangled_mask(blank):
    result = run_module("rbd_pool_info", {"key": blank})
    assert result.failed
    assert result.msg == ("the key option is empty or blank: give the base64 cephx key of the user "
                          "(or leave key unset and use a keyring)")
    assert "********" not in result.stdout


@pytest.mark.parametrize("mode, readers", [(0o640, "its group"), (0o604, "others"),
                                           (0o644, "its group and others")])
def test_keyring_readable_by_others_warns_and_works(admin_keyring_copy, mode, readers):
    admin_keyring_copy.chmod(mode)
    result = run_module("rbd_pool_info", {"keyring": str(admin_keyring_copy)})
    assert not result.failed, result.msg
    warnings = result.get("warnings") or []
    assert any(f"the keyring {admin_keyring_copy} is readable by {readers} (mode {mode:04o})" in w
               and "chmod 0600" in w for w in warnings), warnings


def test_private_keyring_gives_no_warning(admin_keyring_copy):
    result = run_module("rbd_pool_info", {"keyring": str(admin_keyring_copy)})
    assert not result.failed, result.msg
    assert not result.get("warnings"), result.get("warnings")


def test_keep_remote_files_keeps_a_no_log_key_in_plain_text(testenv, tmp_path):
    """What docs/security.md says: ANSIBLE_KEEP_REMOTE_FILES keeps no_log options on disk."""
    remote_tmp = tmp_path / "remote-tmp"
    key = admin_key(testenv)
    env = {"ANSIBLE_KEEP_REMOTE_FILES": "1", "ANSIBLE_REMOTE_TMP": str(remote_tmp),
           "CEPH_KEYRING": "", "CEPH_KEY": ""}
    result = run_module("rbd_pool_info", {"key": key, "user": "admin"}, env=env)
    assert not result.failed, result.msg
    assert key not in result.stdout + result.stderr
    holding = [path for path in remote_tmp.rglob("*") if path.is_file() and key.encode() in path.read_bytes()]
    assert holding, f"the key is no longer kept in {remote_tmp}: update docs/security.md"
    assert all(path.name.startswith("AnsiballZ_") for path in holding), holding
    without = tmp_path / "remote-tmp-default"
    env.update(ANSIBLE_KEEP_REMOTE_FILES="0", ANSIBLE_REMOTE_TMP=str(without))
    result = run_module("rbd_pool_info", {"key": key, "user": "admin"}, env=env)
    assert not result.failed, result.msg
    assert not [p for p in Path(without).rglob("*") if p.is_file()]


@pytest.fixture(scope="module")
def pool(ceph):
    with scratch_rbd_pool(ceph, "hardening") as name:
        yield name


def test_a_read_only_librbd_reader_is_invisible_to_rollback_and_delete(ceph, pool):
    """What docs/security.md says: a read-only open registers no watcher, so nothing sees it."""
    import rbd  # pylint: disable=import-outside-toplevel

    create_image(ceph, pool, "ro-vol", 8 << 20)
    write_image(ceph, pool, "ro-vol", b"A" * 4096)
    snap = run_module("rbd_snapshot", {"pool": pool, "image": "ro-vol", "name": "s"})
    assert snap.changed, snap.msg
    write_image(ceph, pool, "ro-vol", b"B" * 4096)
    with rbd_ioctx(ceph, pool) as ioctx, rbd.Image(ioctx, "ro-vol", read_only=True) as reader:
        assert rbd_watchers(ceph, pool, "ro-vol") == []
        rollback = run_module("rbd_snapshot", {"pool": pool, "image": "ro-vol", "name": "s", "rollback": True})
        assert rollback.changed and not rollback.failed, rollback.msg
        assert read_image(ceph, pool, "ro-vol", 4096) == b"A" * 4096
        removed = run_module("rbd_image", {"pool": pool, "name": "ro-vol", "state": "absent", "force": True})
        assert removed.changed and not removed.failed, removed.msg
        assert "ro-vol" not in image_names(ceph, pool)
        # The reader is not told: its reads of the deleted image return zeros, no error.
        assert reader.read(0, 4096) == bytes(4096)


@pytest.fixture
def format2(testenv):
    """A client that makes clone v2 images (the test cluster's default is v1): their parent
    can go to the trash while they exist."""
    import rados  # pylint: disable=import-outside-toplevel

    handle = rados.Rados(conffile=testenv["CEPH_CONF"],
                         conf={"keyring": testenv["CEPH_KEYRING"], "rbd_default_clone_format": "2"})
    handle.connect(timeout=30)
    yield handle
    handle.shutdown()


def _clone_v2(format2, pool, parent, snapshot, child):
    import rbd  # pylint: disable=import-outside-toplevel

    with rbd_ioctx(format2, pool) as ioctx:
        rbd.RBD().clone(ioctx, parent, snapshot, ioctx, child, features=1)


def _trash(ceph, pool, name):
    import rbd  # pylint: disable=import-outside-toplevel

    with rbd_ioctx(ceph, pool) as ioctx:
        rbd.RBD().trash_move(ioctx, name)


def test_a_clone_of_a_trashed_parent_is_not_a_clone_of_its_namesake(ceph, format2, pool):
    create_test_image(ceph, pool, "P4", 8 << 20, features=1, snapshot="s")
    _clone_v2(format2, pool, "P4", "s", "c4")
    _trash(ceph, pool, "P4")
    trashed = {"pool": pool, "namespace": "", "image": "P4", "snapshot": "s", "trash": True}
    info = run_module("rbd_image_info", {"pool": pool, "name": "c4"})
    assert not info.failed, info.msg
    assert info["images"][0]["parent"] == trashed
    plain = run_module("rbd_image", {"pool": pool, "name": "c4"})
    assert not plain.failed and not plain.changed, plain.msg
    assert plain["image"]["parent"] == trashed

    create_test_image(ceph, pool, "P4", 8 << 20, features=1, snapshot="s")
    before = image_state(ceph, pool, "c4")
    for check_mode in (True, False):
        result = run_module("rbd_image", {"pool": pool, "name": "c4", "clone_from": f"{pool}/P4@s"},
                            check=check_mode)
        assert result.failed and not result.changed, result.data
        assert f"image {pool}/c4 is a clone of {pool}/P4@s (in trash) (image id " in result.msg
        assert f"not of {pool}/P4@s (image id " in result.msg
        assert "an existing image keeps its clone parent" in result.msg
    assert image_state(ceph, pool, "c4") == before
    # The new P4 is really another image: a clone of it is fine and says so.
    _clone_v2(format2, pool, "P4", "s", "c5")
    ok = run_module("rbd_image", {"pool": pool, "name": "c5", "clone_from": f"{pool}/P4@s"})
    assert not ok.failed and not ok.changed, ok.msg
    assert ok["image"]["parent"] == {"pool": pool, "namespace": "", "image": "P4", "snapshot": "s"}


def test_deleting_a_parent_names_its_trashed_child_in_trash(ceph, format2, pool):
    create_test_image(ceph, pool, "G", 8 << 20, features=1, snapshot="base")
    _clone_v2(format2, pool, "G", "base", "gchild")
    _trash(ceph, pool, "gchild")
    refused = run_module("rbd_image", {"pool": pool, "name": "G", "state": "absent", "force": True})
    assert refused.failed, refused.data
    assert f"has clone children {pool}/gchild (in trash)" in refused.msg
    assert "G" in image_names(ceph, pool)


@pytest.mark.parametrize("metadata, message", [
    ({"owner": "a\x00b"}, "metadata 'owner' value 'a\\x00b' must not contain a NUL byte"),
    ({"own\x00er": "x"}, "metadata key 'own\\x00er' must not contain a NUL byte"),
], ids=["value", "key"])
def test_nul_in_metadata_is_refused(ceph, pool, metadata, message):
    create_test_image(ceph, pool, "meta-nul", 8 << 20, features=1)
    try:
        before = image_state(ceph, pool, "meta-nul")
        for check_mode in (True, False):
            result = run_module("rbd_image", {"pool": pool, "name": "meta-nul", "metadata": metadata},
                                check=check_mode)
            assert result.failed and not result.changed, result.data
            assert message in result.msg
        assert image_state(ceph, pool, "meta-nul") == before
    finally:
        run_module("rbd_image", {"pool": pool, "name": "meta-nul", "state": "absent", "force": True})


def test_concurrent_quota_runs_return_what_the_cluster_holds_and_the_loser_says_so(ceph):
    """Two rbd_pool runs at once with different quotas, five times: every run returns the
    quota the cluster held when it read back, and a run whose value did not stick warns."""
    warned_rounds = 0
    with scratch_rbd_pool(ceph, "hardening-quota") as name:
        for round_ in range(5):
            requested = [(2 * round_ + 1) << 20, (2 * round_ + 2) << 20]
            with ThreadPoolExecutor(2) as executor:
                results = list(executor.map(
                    lambda quota: run_module("rbd_pool", {"name": name, "quota_max_bytes": quota}),
                    requested))
            final = pool_detail(ceph, name)["quota_max_bytes"]
            reported = [result["pool"]["quota_max_bytes"] for result in results]
            for quota, result, got in zip(requested, results, reported):
                assert not result.failed, result.msg
                warnings = result.get("warnings") or []
                if got == quota:
                    assert not warnings, warnings
                else:
                    assert got in requested, (got, requested)
                    assert any(w.startswith(f"quota_max_bytes is {got} after this run, not the requested "
                                            f"{quota}: another client changed it meanwhile") for w in warnings), warnings
                    warned_rounds += 1
            assert final in reported, (final, reported)
    print(f"rounds where a run read back the other's quota: {warned_rounds} of 5")


@pytest.fixture
def paused(ceph, pool):
    """The cluster paused (``ceph osd pause``: the OSDs serve no reads or writes) for one test."""
    mon(ceph, "osd pause")
    try:
        yield pool
    finally:
        mon(ceph, "osd unpause")


@pytest.mark.parametrize("count, timeout", [(10, 3), (20, 5)])
def test_timeout_bounds_a_whole_batch_on_a_paused_cluster(ceph, paused, count, timeout):
    images = [{"name": f"paused-{count}-{index}", "size": "8M"} for index in range(count)]
    started = time.monotonic()
    result = run_module("rbd_image", {"pool": paused, "images": images, "timeout": timeout})
    seconds = time.monotonic() - started
    assert result.failed, result.data
    # A bound on the timeout's meaning, not a benchmark: one timeout for the task (not one
    # per item as before: 34 s and 110 s), plus ansible's start-up and the explanation.
    assert seconds < 2 * timeout + 10, (seconds, result.msg)
    assert f"the task's timeout of {timeout} s is spent" in result.msg
    assert "the cluster is paused (osd flags pauserd,pausewr; 'ceph osd unpause' resumes it)" in result.msg
    print(f"{count} images, timeout {timeout}: failed after {seconds:.1f} s")


def test_a_stopped_osd_holding_pgs_is_named_when_a_task_times_out(testenv, ceph):
    """A size-1 pool with PGs on a stopped OSD: writes there cannot go anywhere; the task
    fails within about its timeout naming the down OSD and the inactive PGs of the pool."""
    with scratch_rbd_pool(ceph, "hardening-size1") as name:
        mon(ceph, "osd pool set", pool=name, var="size", val="1", yes_i_really_mean_it=True)
        wait_until("PGs active+clean", lambda: cluster_settled(ceph), seconds=120)
        # The OSD that holds the PG of vol-0's id object, the first object the task writes (a
        # fixed OSD may hold none of the pool's 8 PGs: then every write succeeds).
        osd = f"osd.{mon(ceph, 'osd map', pool=name, object='rbd_id.vol-0')['acting_primary']}"
        subprocess.run([str(TESTENV), "stop", testenv["TESTENV_DIR"], osd], check=True, timeout=120,
                       capture_output=True)
        try:
            wait_until(f"{osd} marked down", lambda: "OSD_DOWN" in (health(ceph).get("checks") or {}),
                       seconds=60)
            images = [{"name": f"vol-{index}", "size": "4M"} for index in range(12)]
            started = time.monotonic()
            result = run_module("rbd_image", {"pool": name, "images": images, "timeout": 5})
            seconds = time.monotonic() - started
            assert result.failed, result.data
            assert seconds < 2 * 5 + 10, (seconds, result.msg)
            assert f"OSDs down: {osd}" in result.msg, result.msg
            assert f"PGs of pool {name!r} have no OSD up to serve them (inactive): pg " in result.msg, result.msg
            print(f"stopped OSD: failed after {seconds:.1f} s: {result.msg}")
        finally:
            subprocess.run([str(TESTENV), "start", testenv["TESTENV_DIR"], osd], check=True, timeout=120,
                           capture_output=True)
    wait_until("all OSDs up and PGs active+clean", lambda: cluster_settled(ceph), seconds=180)


@pytest.mark.parametrize("override", [
    {"ceph_client_user": "libvirt]\n[client.admin"},
    {"ceph_client_mon_hosts": ["127.0.0.1:6789\n[global]\nkeyring = /tmp/x"]},
    {"ceph_client_extra_config": {"client": {"rbd cache size": "1\n[client.admin]\nkeyring = /tmp/x"}}},
    {"ceph_client_extra_config": {"client]\n[global": {"x": "1"}}},
    {"ceph_client_extra_config": {"client": {"log file = /tmp/x\nrbd cache": "1"}}},
], ids=["user", "mon-host", "extra-value", "extra-section", "extra-option"])
def test_ceph_client_role_refuses_values_that_add_lines_to_its_files(tmp_path, override):
    etc = tmp_path / "etc-ceph"
    etc.mkdir()
    play = tmp_path / "play.yml"
    play.write_text('[{"hosts": "localhost", "gather_facts": false, '
                    '"roles": [{"role": "limiquantix.ceph_rbd.ceph_client"}]}]')
    variables = {"ceph_client_config_dir": str(etc), "ceph_client_install_packages": False,
                 "ceph_client_mon_hosts": ["127.0.0.1:6789"], "ceph_client_key": INJECTED_KEY}
    variables.update(override)
    for check_mode in (True, False):
        result = run_playbook(play, extra_vars=variables, check=check_mode)
        assert result["_rc"] != 0 and result.failed, result.stdout[-2000:]
        assert "must be one line each" in result.msg, result.msg
        assert list(etc.iterdir()) == []


# A python process that takes an image's exclusive lock (by writing) and keeps it.
LOCK_HOLDER = """
import sys, time, rados, rbd
handle = rados.Rados(conffile=sys.argv[1], conf={"keyring": sys.argv[2]})
handle.connect()
image = rbd.Image(handle.open_ioctx(sys.argv[3]), sys.argv[4])
image.write(b"h" * 4096, 0)
print(handle.get_instance_id(), flush=True)
time.sleep(600)
"""


@pytest.fixture
def lock_holder(testenv, ceph, pool, unique_name):
    """Start a process holding the exclusive lock of a new image; yields (process, client, addr, image)."""
    import rbd  # pylint: disable=import-outside-toplevel

    name = unique_name("locked")
    create_test_image(ceph, pool, name, 8 << 20, features=1 | 4)
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        ["/usr/bin/python3", "-c", LOCK_HOLDER, testenv["CEPH_CONF"], testenv["CEPH_KEYRING"], pool, name],
        stdout=subprocess.PIPE, text=True)
    try:
        client = f"client.{process.stdout.readline().strip()}"
        with rbd_ioctx(ceph, pool) as ioctx, rbd.Image(ioctx, name, read_only=True) as image:
            lockers = image.list_lockers()["lockers"]
        assert [entry[0] for entry in lockers] == [client], lockers
        yield process, client, lockers[0][2], name
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.kill()
            process.wait()


def _blocklisted(ceph, addr):
    # Ceph 16 prints two JSON lists (addresses, then ranges): the first is read.
    _ret, out, _err = ceph.mon_command(json.dumps({"prefix": "osd blocklist ls", "format": "json"}), b"")
    entries, _end = json.JSONDecoder().raw_decode(out.decode().strip() or "[]")
    return any(entry["addr"] == addr for entry in entries)


def _lock_owner(ceph, pool, name):
    import rbd  # pylint: disable=import-outside-toplevel

    with rbd_ioctx(ceph, pool) as ioctx, rbd.Image(ioctx, name, read_only=True) as image:
        return [(client, addr) for client, _cookie, addr in image.list_lockers().get("lockers", [])]


def test_a_killed_clients_lock_is_broken_once_it_is_provably_dead(ceph, pool, lock_holder):
    process, client, addr, name = lock_holder
    process.kill()
    process.wait()
    # Killed a moment ago: its watch lasts (osd_client_watch_timeout): not provably dead.
    started = time.monotonic()
    early = run_module("rbd_snapshot", {"pool": pool, "image": name, "name": "s1", "timeout": 5})
    early_seconds = seconds = time.monotonic() - started
    assert early.failed and not early.changed, early.data
    assert f"image {pool}/{name} is locked by {client} ({addr}) (exclusive lock), which still watches" in early.msg
    assert "the task's timeout of 5 s" in early.msg
    assert seconds < 2.5 * 5 + 5, (seconds, early.msg)  # a bound on the deadline's meaning, not a benchmark
    assert not _blocklisted(ceph, addr) and _lock_owner(ceph, pool, name) == [(client, addr)]
    # Once its watch has expired it is provably dead: its lock is broken, it is blocklisted.
    waited = wait_until("the killed client's watch expired", lambda: addr not in rbd_watchers(ceph, pool, name),
                        seconds=90)
    started = time.monotonic()
    rerun = run_module("rbd_snapshot", {"pool": pool, "image": name, "name": "s1", "timeout": 10})
    seconds = time.monotonic() - started
    assert rerun.changed and not rerun.failed, rerun.msg
    assert any(f"broke the exclusive lock of {client} ({addr}), a dead client" in w for w in rerun.get("warnings") or [])
    assert _blocklisted(ceph, addr)
    assert "s1" in image_state(ceph, pool, name)["snapshots"]
    print(f"watch expired {waited:.1f} s after the kill; early run failed after {early_seconds:.1f} s; "
          f"re-run after expiry: {seconds:.1f} s")


def test_a_live_lock_owner_is_never_broken(ceph, pool, lock_holder):
    process, client, addr, name = lock_holder
    # A live owner that answers: librbd has it take the snapshot; its lock stays.
    live = run_module("rbd_snapshot", {"pool": pool, "image": name, "name": "live", "timeout": 10})
    assert live.changed and not live.failed, live.msg
    assert not live.get("warnings"), live.get("warnings")
    # A live owner that does not answer (stopped): refused at the deadline, never broken.
    process.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        stuck = run_module("rbd_snapshot", {"pool": pool, "image": name, "name": "stuck", "timeout": 5})
        seconds = time.monotonic() - started
    finally:
        process.send_signal(signal.SIGCONT)
    assert stuck.failed and not stuck.changed, stuck.data
    assert f"is locked by {client} ({addr}) (exclusive lock)" in stuck.msg
    assert seconds < 2.5 * 5 + 5, (seconds, stuck.msg)
    assert not _blocklisted(ceph, addr) and _lock_owner(ceph, pool, name) == [(client, addr)]
    assert process.poll() is None
    assert list(image_state(ceph, pool, name)["snapshots"]) == ["live"]


@pytest.fixture(scope="module")
def deadline_items(ceph, pool):
    """Several images (one with several snapshots) and one more pool, made once."""
    for index in range(4):
        create_test_image(ceph, pool, f"many-{index}", 8 << 20, features=1)
    create_test_image(ceph, pool, "snaps", 8 << 20, features=1)
    assert not run_module("rbd_pool", {"name": f"{pool}-extra", "pg_num": 1, "size": 1}).failed
    for index in range(4):
        assert not run_module("rbd_snapshot", {"pool": pool, "image": "snaps", "name": f"s{index}"}).failed
    yield pool
    run_module("rbd_pool", {"name": f"{pool}-extra", "state": "absent", "force": True})


@pytest.fixture
def paused_with_items(deadline_items, paused):  # pylint: disable=unused-argument
    """The items above, the cluster paused for one test (unpaused whatever happens)."""
    return deadline_items


@pytest.mark.parametrize("module, args", [
    ("rbd_snapshot", {"image": "snaps", "name": "new"}),
    ("rbd_snapshot", {"image": "snaps", "name": "s1", "state": "absent"}),
    ("rbd_image_info", {}),
    ("rbd_pool_info", {}),
    ("rbd_pool", {"namespaces": ["ns1"]}),
    ("rbd_image", {"name": "many-0", "size": "16M"}),
], ids=["snapshot-create", "snapshot-remove", "image-info", "pool-info", "pool", "image"])
def test_every_module_has_one_deadline_on_a_paused_cluster(paused_with_items, module, args):
    """Every module that talks to Ceph shares one deadline per task: on a paused cluster it
    fails after about one timeout, not one per snapshot, image or pool, naming the deadline
    and why the cluster did not answer (explained once, by the connection, for every module)."""
    timeout = 3
    where = {"name": paused_with_items} if module.startswith("rbd_pool") else {"pool": paused_with_items}
    if module == "rbd_pool_info":
        where = {}
    started = time.monotonic()
    result = run_module(module, dict(where, timeout=timeout, **args))
    seconds = time.monotonic() - started
    assert result.failed and not result.changed, result.data
    assert f"the task's timeout of {timeout} s" in result.msg, result.msg
    paused_reason = "the cluster is paused (osd flags pauserd,pausewr; 'ceph osd unpause' resumes it)"
    assert result.msg.count(paused_reason) == 1 and result["reasons"][0] == paused_reason, result.msg
    # A bound on the deadline's meaning, not a benchmark: about one timeout, plus ansible's start-up.
    assert seconds < 2.5 * timeout + 5, (seconds, result.msg)
    print(f"{module} {args}: failed after {seconds:.1f} s: {result.msg}")


def _rule_names(ceph) -> list[str]:
    return [rule["rule_name"] for rule in mon(ceph, "osd crush rule dump")]


def _config_value(ceph, who: str, name: str) -> str | None:
    return next((entry["value"] for entry in mon(ceph, "config dump")
                 if entry["section"] == who and entry["name"] == name), None)


def test_monitor_only_modules_work_on_a_paused_cluster(ceph, paused):
    """ceph_client_key, ceph_config, ceph_crush_rule and ceph_mgr_module talk only to the
    monitors, which a paused cluster (no OSD reads or writes) does not stop: each converges
    both ways within the task's timeout, and the monitors hold the result."""
    timeout, user = 3, "client.paused-test"
    steps = [
        ("ceph_client_key", {"name": user, "pools": [paused]}, ("present", "absent"),
         lambda: auth_get(ceph, user) is not None),
        ("ceph_config", {"who": "client", "name": "rbd_cache_max_dirty_age", "value": "2"}, ("present", "absent"),
         lambda: _config_value(ceph, "client", "rbd_cache_max_dirty_age") == "2.000000"),
        ("ceph_crush_rule", {"name": "paused-rule", "device_class": "hdd"}, ("present", "absent"),
         lambda: "paused-rule" in _rule_names(ceph)),
        ("ceph_mgr_module", {"name": "iostat"}, ("disabled", "enabled"),
         lambda: not mgr_module_enabled(ceph, "iostat")),
    ]
    assert "pauserd" in mon(ceph, "osd dump")["flags"] and mgr_module_enabled(ceph, "iostat")
    try:
        for module, args, (changed_to, back_to), applied in steps:
            for state in (changed_to, back_to):
                started = time.monotonic()
                result = run_module(module, dict(args, state=state, timeout=timeout))
                seconds = time.monotonic() - started
                assert not result.failed and result.changed, result.data
                assert applied() is (state == changed_to), (module, state)
                assert seconds < 2 * timeout + 5, (module, state, seconds)
                print(f"{module} {state} on a paused cluster: {seconds:.1f} s")
    finally:  # whatever a failed step left behind
        auth_rm(ceph, user)
        ceph.mon_command(json.dumps({"prefix": "config rm", "who": "client", "name": "rbd_cache_max_dirty_age"}), b"")
        ceph.mon_command(json.dumps({"prefix": "mgr module enable", "module": "iostat"}), b"")
        ceph.mon_command(json.dumps({"prefix": "osd crush rule rm", "name": "paused-rule"}), b"")
