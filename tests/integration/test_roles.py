# SPDX-License-Identifier: GPL-3.0-or-later
"""The ceph_client and libvirt_secret roles and the rotate_key playbook, end to end.

The key must never be on a command line (sampled while the plays run), in the output
(-vvv, --diff), or in a file wider than the requested mode.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_secrets import value_fingerprint

from .cephstate import create_pool, delete_pool
from .harness import COLLECTION_ROOT, SYSTEM_PYTHON, run_playbook
from .hypervisor_helpers import (
    CmdlineWatcher,
    FileModeWatcher,
    auth_get,
    auth_rm,
    files_holding,
    run_playbook_text,
    secret_fields,
    undefine_secret,
)

CONNECT_SCRIPT = """
import sys, rados
conf, user, pool = sys.argv[1:4]
handle = rados.Rados(rados_id=user, conffile=conf, conf={"client_mount_timeout": "10"})
handle.connect(timeout=10)
ioctx = handle.open_ioctx(pool)
ioctx.write_full("role-check", b"ok")
print(ioctx.read("role-check").decode())
handle.shutdown()
"""


def connect_with_conf(conf: Path, user: str, pool: str) -> subprocess.CompletedProcess:
    """librados as the client, with nothing but the written conf (its [client.x] keyring)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CEPH_")}
    return subprocess.run([SYSTEM_PYTHON, "-c", CONNECT_SCRIPT, str(conf), user, pool],
                          capture_output=True, text=True, env=env, timeout=60, check=False)


def hypervisor_play(tmp_path: Path) -> Path:
    play = [{
        "name": "Hypervisor",
        "hosts": "localhost",
        "gather_facts": False,
        "roles": [
            {"role": "limiquantix.ceph_rbd.ceph_client"},
            {"role": "limiquantix.ceph_rbd.libvirt_secret"},
        ],
    }]
    path = tmp_path / "hypervisor.yml"
    path.write_text(json.dumps(play))
    return path


@pytest.fixture
def setup(testenv, ceph, unique_name, tmp_path):
    pool, user = unique_name("rpool"), unique_name("ruser")
    secret_uuid = str(uuid.uuid4())
    etc = tmp_path / "etc-ceph"
    etc.mkdir()
    create_pool(ceph, pool)
    variables = {
        "ceph_client_config_dir": str(etc),
        "ceph_client_install_packages": False,
        "ceph_client_mon_hosts": [testenv["CEPH_MON_HOST"]],
        "ceph_client_fsid": ceph.get_fsid(),
        "ceph_client_admin_host": "localhost",
        "ceph_client_user": user,
        "ceph_client_pools": [pool],
        "ceph_client_extra_config": {"client": {"rbd cache size": 268435456},
                                     "client.extra": {"log file": "/var/log/ceph/x.log"}},
        "libvirt_secret_uuid": secret_uuid,
        "libvirt_secret_ceph_user": user,
        "libvirt_secret_keyring": str(etc / f"ceph.client.{user}.keyring"),
        "libvirt_secret_uri": testenv["LIBVIRT_DEFAULT_URI"],
    }
    yield {"pool": pool, "user": user, "uuid": secret_uuid, "etc": etc, "vars": variables}
    undefine_secret(secret_uuid)
    auth_rm(ceph, f"client.{user}")
    delete_pool(ceph, pool)


def test_roles_converge_idempotent_and_rotate_without_leaking_the_key(testenv, ceph, setup, tmp_path):
    etc, user, pool, secret_uuid = setup["etc"], setup["user"], setup["pool"], setup["uuid"]
    play = hypervisor_play(tmp_path)
    entity = f"client.{user}"

    check = run_playbook(play, extra_vars=setup["vars"], check=True)
    assert check["_rc"] == 0, check.stdout[-3000:]
    assert any(t.get("changed") for t in check.tasks)
    assert list(etc.iterdir()) == []
    assert auth_get(ceph, entity) is None and secret_fields(secret_uuid) is None

    with CmdlineWatcher([]) as watcher:
        applied = run_playbook_text(play, setup["vars"], verbosity=3)
        key = auth_get(ceph, entity)["key"]
        watcher.add(key)
        again = run_playbook(play, extra_vars=setup["vars"])
        check_again = run_playbook(play, extra_vars=setup["vars"], check=True)
    assert applied.returncode == 0, applied.stdout[-3000:]
    assert key not in applied.stdout + applied.stderr
    assert "changed=0" not in applied.stdout
    for result in (again, check_again):
        assert result["_rc"] == 0 and not [t["_task"] for t in result.tasks if t.get("changed")]
        assert key not in result.stdout

    conf = (etc / "ceph.conf").read_text()
    assert f"mon host = {testenv['CEPH_MON_HOST']}" in conf and f"fsid = {ceph.get_fsid()}" in conf
    for line in ("rbd cache = true", "rbd cache size = 268435456", "rbd cache max dirty = 100663296",
                 "rbd cache target dirty = 67108864", "rbd cache writethrough until flush = false",
                 "rbd concurrent management ops = 20", "[client.extra]", "log file = /var/log/ceph/x.log",
                 f"keyring = {etc}/ceph.client.{user}.keyring"):
        assert line in conf
    assert (etc / "ceph.conf").stat().st_mode & 0o777 == 0o644
    keyring = etc / f"ceph.client.{user}.keyring"
    assert keyring.read_text() == f"[{entity}]\n\tkey = {key}\n"
    assert files_holding(etc, key) == [(keyring, 0o600)]
    assert auth_get(ceph, entity)["caps"]["osd"] == f"profile rbd pool={pool}"
    stored = secret_fields(secret_uuid)
    assert stored["private"] == "yes" and stored["usage_name"] == f"client.{user} secret"
    digest = value_fingerprint(secret_uuid, base64.b64decode(key))
    assert stored["description"] == f"Ceph client.{user} key [value fingerprint: pbkdf2-sha256:100000:{digest}]"
    connected = connect_with_conf(etc / "ceph.conf", user, pool)
    assert connected.returncode == 0 and connected.stdout.strip() == "ok", connected.stderr[-2000:]

    inventory = tmp_path / "hosts.ini"
    inventory.write_text(f"[hypervisors]\nlocalhost ansible_connection=local ansible_python_interpreter={SYSTEM_PYTHON}\n")
    # The hypervisors' ceph_client_* variables, as group_vars would hold them, plus the rotation's.
    rotate_vars = dict(setup["vars"], rotate_key_user=user, rotate_key_pools=[pool],
                       rotate_key_secret_uuid=secret_uuid, rotate_key_config_dir=str(etc))
    playbook = COLLECTION_ROOT / "playbooks" / "rotate_key.yml"
    check_rotation = run_playbook(playbook, extra_vars=rotate_vars, inventory=inventory, check=True)
    assert check_rotation["_rc"] == 0 and any(t.get("changed") for t in check_rotation.tasks)
    assert auth_get(ceph, entity)["key"] == key and keyring.read_text() == f"[{entity}]\n\tkey = {key}\n"

    keyring.unlink()  # the rotation creates the keyring anew: its mode must be right from the start
    with CmdlineWatcher([key]) as watcher, FileModeWatcher(etc, ["key = "], 0o600) as modes:
        rotated = run_playbook_text(playbook, rotate_vars, inventory=str(inventory), verbosity=3)
        new_key = auth_get(ceph, entity)["key"]
        watcher.add(new_key)
    assert rotated.returncode == 0, rotated.stdout[-4000:]
    assert watcher.hits == [] and modes.hits == []
    assert new_key != key
    assert new_key not in rotated.stdout + rotated.stderr and key not in rotated.stdout
    assert keyring.read_text() == f"[{entity}]\n\tkey = {new_key}\n"
    assert files_holding(etc, new_key) == [(keyring, 0o600)]
    new_digest = value_fingerprint(secret_uuid, base64.b64decode(new_key))
    assert secret_fields(secret_uuid)["description"].endswith(f":{new_digest}]")
    assert connect_with_conf(etc / "ceph.conf", user, pool).returncode == 0
    assert "Write the Ceph configuration" in rotated.stdout
    assert (etc / "ceph.conf").read_text() == conf

    settled = run_playbook(play, extra_vars=setup["vars"])
    assert settled["_rc"] == 0 and not [t["_task"] for t in settled.tasks if t.get("changed")]


def test_given_key_wider_mode_and_bad_inputs(testenv, ceph, setup, tmp_path):
    etc, user = setup["etc"], setup["user"]
    play = hypervisor_play(tmp_path)
    key = base64.b64encode(bytes([1, 0]) + bytes(8) + bytes([16, 0]) + os.urandom(16)).decode()

    bad_cases = [
        ({"ceph_client_key": "not a key!"}, "must be a base64 cephx key"),
        ({"ceph_client_key": base64.b64encode(b"0123456789").decode()}, "must be a base64 cephx key"),
        ({"ceph_client_config_dir": str(tmp_path / "missing")}, f"{tmp_path / 'missing'} does not exist"),
        ({"ceph_client_mon_hosts": ["abc:def:1"]}, "ceph_client_mon_hosts entry 'abc:def:1' is not a monitor address"),
        # refused by the role's first check, before any parsing: no value may add a line or a section
        ({"ceph_client_mon_hosts": ["10.0.0.1\n[client.admin]"]}, "they are written into ceph.conf and the keyring"),
        ({"ceph_client_key": key, "libvirt_secret_uuid": "nope", "libvirt_secret_key": key},
         "uuid 'nope' is not a valid UUID"),
    ]
    for changes, message in bad_cases:
        result = run_playbook(play, extra_vars=dict(setup["vars"], **changes))
        assert result["_rc"] != 0
        failed = [t for t in result.tasks if t.get("failed")]
        assert failed and message in failed[-1].get("msg", ""), (changes, failed[-1:])
        assert not (tmp_path / "missing").exists()
        assert "not a key!" not in result.stdout
        if "libvirt_secret_uuid" not in changes:
            assert list(etc.iterdir()) == []
        assert auth_get(ceph, f"client.{user}") is None
        assert secret_fields(setup["uuid"]) is None

    # The monitors as `ceph mon dump` prints them (nonces), in one string that the role's list
    # option cuts at the vector's comma: written back as the cluster's own mon_host.
    dumped = testenv["CEPH_MON_HOST"][:-1].replace(",", "/0,") + "/0]"
    given = dict(setup["vars"], ceph_client_key=key, ceph_client_keyring_mode="0640",
                 ceph_client_admin_host="", libvirt_secret_key=key, ceph_client_mon_hosts=dumped)
    with CmdlineWatcher([key]) as watcher:
        applied = run_playbook_text(play, given, verbosity=3)
    assert applied.returncode == 0, applied.stdout[-3000:]
    assert key not in applied.stdout + applied.stderr
    assert watcher.hits == []
    keyring = etc / f"ceph.client.{user}.keyring"
    assert f"mon host = {testenv['CEPH_MON_HOST']}\n" in (etc / "ceph.conf").read_text()
    assert files_holding(etc, key) == [(keyring, 0o640)]
    assert auth_get(ceph, f"client.{user}") is None  # a given key touches no cluster
    digest = value_fingerprint(setup["uuid"], base64.b64decode(key))
    assert secret_fields(setup["uuid"])["description"].endswith(f":{digest}]")
