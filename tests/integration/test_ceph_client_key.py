# SPDX-License-Identifier: GPL-3.0-or-later
"""ceph_client_key against the real cluster: lifecycle, exact caps, rotation, key secrecy."""

from __future__ import annotations

import hashlib

import pytest

from .cephstate import create_pool, delete_pool
from .harness import run_module, run_playbook, write_playbook
from .hypervisor_helpers import (
    CmdlineWatcher,
    auth_get,
    auth_rm,
    can_connect,
    connect_as,
    files_holding,
    run_playbook_text,
)


def fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


@pytest.fixture
def client(ceph, unique_name):
    name = unique_name("ckey")
    yield name
    auth_rm(ceph, f"client.{name}")


def test_lifecycle_check_apply_idempotent_modify_rotate_delete(testenv, ceph, client):
    entity = f"client.{client}"
    args = {"name": client, "pools": ["vols", "imgs/tenant-a"]}
    wanted = {"mon": "profile rbd",
              "osd": "profile rbd pool=vols, profile rbd pool=imgs namespace=tenant-a",
              "mgr": "profile rbd pool=vols, profile rbd pool=imgs namespace=tenant-a"}

    check = run_module("ceph_client_key", args, check=True)
    assert check.changed and not check.failed, check.msg
    assert check["client"] == {"entity": entity, "caps": wanted, "key_fingerprint": None}
    assert check.diff == {"before": {}, "after": check["client"]}
    assert auth_get(ceph, entity) is None

    created = run_module("ceph_client_key", args)
    assert created.changed, created.msg
    real = auth_get(ceph, entity)
    assert real["caps"] == wanted
    assert created["client"]["key_fingerprint"] == fingerprint(real["key"])
    assert "key" not in created.data
    assert real["key"] not in created.stdout + created.stderr

    for check_mode in (True, False):
        again = run_module("ceph_client_key", dict(args, name=entity), check=check_mode)
        assert not again.changed and not again.failed, again.msg
        assert again["client"] == created["client"]
    assert auth_get(ceph, entity) == real

    narrowed = run_module("ceph_client_key", {"name": client, "caps": {"mon": "profile rbd", "osd": "profile rbd pool=vols"}})
    assert narrowed.changed
    assert auth_get(ceph, entity)["caps"] == {"mon": "profile rbd", "osd": "profile rbd pool=vols"}
    assert narrowed.diff["before"]["caps"] == wanted
    assert narrowed.diff["after"]["caps"] == {"mon": "profile rbd", "osd": "profile rbd pool=vols"}
    assert narrowed["client"]["key_fingerprint"] == fingerprint(real["key"])

    check_rotate = run_module("ceph_client_key", dict(args, rotate=True), check=True)
    assert check_rotate.changed and check_rotate["client"]["key_fingerprint"] is None
    assert auth_get(ceph, entity)["key"] == real["key"]

    rotated = run_module("ceph_client_key", dict(args, rotate=True))
    assert rotated.changed
    after = auth_get(ceph, entity)
    assert after["key"] != real["key"] and after["caps"] == wanted
    assert rotated["client"]["key_fingerprint"] == fingerprint(after["key"])
    assert rotated.diff["before"]["key_fingerprint"] == fingerprint(real["key"])
    assert after["key"] not in rotated.stdout and real["key"] not in rotated.stdout

    check_delete = run_module("ceph_client_key", {"name": client, "state": "absent"}, check=True)
    assert check_delete.changed and check_delete["client"] is None
    assert auth_get(ceph, entity) is not None
    deleted = run_module("ceph_client_key", {"name": client, "state": "absent"})
    assert deleted.changed and deleted.diff["after"] == {}
    assert auth_get(ceph, entity) is None
    again = run_module("ceph_client_key", {"name": client, "state": "absent"})
    assert not again.changed and again["client"] is None


def test_rotation_keeps_open_sessions_and_refuses_the_old_key_for_new_ones(testenv, ceph, client, unique_name):
    pool = unique_name("ckpool")
    create_pool(ceph, pool)
    try:
        assert run_module("ceph_client_key", {"name": client, "pools": [pool]}).changed
        old_key = auth_get(ceph, f"client.{client}")["key"]
        session = connect_as(testenv["CEPH_CONF"], client, old_key)
        try:
            ioctx = session.open_ioctx(pool)
            ioctx.write_full("before-rotation", b"x")
            assert run_module("ceph_client_key", {"name": client, "pools": [pool], "rotate": True}).changed
            new_key = auth_get(ceph, f"client.{client}")["key"]
            # The open session (as in a running QEMU) still reads and writes.
            ioctx.write_full("after-rotation", b"y")
            assert ioctx.read("before-rotation") == b"x"
            ioctx.close()
        finally:
            session.shutdown()
        assert not can_connect(testenv["CEPH_CONF"], client, old_key)
        assert can_connect(testenv["CEPH_CONF"], client, new_key)
    finally:
        delete_pool(ceph, pool)


def test_returned_key_is_registered_but_never_shown(testenv, ceph, client, tmp_path):
    keyfile = tmp_path / "out" / "key"
    keyfile.parent.mkdir()
    tasks = [
        {"name": "Fetch", "limiquantix.ceph_rbd.ceph_client_key": {"name": client, "return_key": True},
         "register": "fetched"},
        {"name": "Rotate", "limiquantix.ceph_rbd.ceph_client_key": {"name": client, "rotate": True, "return_key": True},
         "register": "rotated"},
        {"name": "Use", "ansible.builtin.copy": {
            "content": "{{ fetched.key }} {{ rotated.key }}", "dest": str(keyfile), "mode": "0600"},
         "no_log": True, "diff": False},
        {"name": "Compare", "ansible.builtin.assert": {"that": [
            "rotated.client.key_fingerprint == (rotated.key | hash('sha256'))[:16]",
            "fetched.key != rotated.key"]}},
    ]
    playbook = write_playbook(tmp_path, tasks)
    assert run_module("ceph_client_key", {"name": client}).changed
    first_key = auth_get(ceph, f"client.{client}")["key"]
    with CmdlineWatcher([first_key]) as watcher:
        proc = run_playbook_text(playbook, {}, verbosity=3)
        new_key = auth_get(ceph, f"client.{client}")["key"]
        watcher.add(new_key)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert keyfile.read_text() == f"{first_key} {new_key}"
    output = proc.stdout + proc.stderr
    assert first_key not in output and new_key not in output
    assert "the output has been hidden" in output
    assert watcher.hits == []
    assert files_holding(tmp_path / "out", new_key) == [(keyfile, 0o600)]
    structured = run_playbook(playbook)
    assert not structured.failed
    assert all(t.get("key") in (None, "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER") for t in structured.tasks)


def test_bad_input_fails_and_changes_nothing(testenv, ceph, client):
    entity = f"client.{client}"
    cases = [
        ({"name": "bad name"}, "is not valid"),
        ({"name": client, "caps": {"rgw": "allow *"}}, "unknown services ['rgw']"),
        ({"name": client, "rotate": True, "state": "absent"}, "rotate needs state=present"),
        ({"name": client, "restore_key": "AQAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAA==", "state": "absent"},
         "restore_key needs state=present"),
        ({"name": client, "restore_key": "AQAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAA=="}, "does not exist; nothing to restore"),
        ({"name": client, "pools": ["a b"]}, "not a valid pool"),
        ({"name": client, "caps": {"mon": "profile rbd"}, "pools": ["a"]}, "mutually exclusive"),
    ]
    for args, message in cases:
        result = run_module("ceph_client_key", args)
        assert result.failed and message in result.msg, (args, result.msg)
        assert auth_get(ceph, entity) is None


def test_restore_key_puts_a_previous_key_back_with_the_caps(testenv, ceph, client):
    entity = f"client.{client}"
    args = {"name": client, "pools": ["vols"]}
    assert run_module("ceph_client_key", args).changed
    old_key = auth_get(ceph, entity)["key"]
    assert run_module("ceph_client_key", dict(args, rotate=True)).changed
    new_key = auth_get(ceph, entity)["key"]
    assert new_key != old_key
    restore = dict(args, restore_key=old_key)
    predicted = run_module("ceph_client_key", restore, check=True)
    assert predicted.changed and auth_get(ceph, entity)["key"] == new_key
    restored = run_module("ceph_client_key", restore)
    assert restored.changed and not restored.failed, restored.msg
    assert auth_get(ceph, entity)["key"] == old_key
    assert auth_get(ceph, entity)["caps"]["osd"] == "profile rbd pool=vols"
    assert old_key not in restored.stdout and new_key not in restored.stdout
    assert not can_connect(testenv["CEPH_CONF"], client, new_key)
    for check in (True, False):
        again = run_module("ceph_client_key", restore, check=check)
        assert not again.changed and not again.failed, again.msg
    refused = run_module("ceph_client_key", dict(args, restore_key=old_key, rotate=True))
    assert refused.failed and "mutually exclusive" in refused.msg
    assert auth_get(ceph, entity)["key"] == old_key
