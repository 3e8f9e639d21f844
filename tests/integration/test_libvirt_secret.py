# SPDX-License-Identifier: GPL-3.0-or-later
"""libvirt_secret against the real libvirtd: lifecycle, rotation, private secrets, refusals.

libvirtd is shared with other test runs: every test uses its own UUIDs and usage names
and removes its secrets and domains.
"""

from __future__ import annotations

import base64
import uuid

import pytest

from .cephstate import create_pool, delete_pool
from .harness import run_module, run_playbook, write_playbook
from .hypervisor_helpers import (
    CmdlineWatcher,
    attach_rbd_disk,
    auth_get,
    auth_rm,
    create_image,
    define_secret,
    run_playbook_text,
    secret_fields,
    secret_value,
    start_domain,
    undefine_secret,
)

MODULE = "limiquantix.ceph_rbd.libvirt_secret"


def new_key() -> str:
    import os
    import struct
    import time
    header = struct.pack("<HIIH", 1, int(time.time()), 0, 16)
    return base64.b64encode(header + os.urandom(16)).decode()


@pytest.fixture
def secret():
    """A fresh UUID and usage name; the secret is undefined afterwards."""
    secret_uuid = str(uuid.uuid4())
    yield secret_uuid, f"test client.{secret_uuid[:8]} secret"
    undefine_secret(secret_uuid)


def secret_task(tmp_path, args: dict, name: str = "play.yml"):
    """A playbook whose one task runs the module with args taken from extra vars (keys off argv)."""
    task = {"name": "Secret", MODULE: args, "register": "out"}
    return write_playbook(tmp_path, [task], name)


def test_lifecycle_with_a_private_secret(testenv, secret, tmp_path):
    secret_uuid, usage = secret
    first, second = new_key(), new_key()
    args = {"uuid": "{{ u }}", "usage_name": "{{ n }}", "description": "Ceph test key", "value": "{{ k }}"}
    playbook = secret_task(tmp_path, args)
    variables = {"u": secret_uuid, "n": usage, "k": first}

    with CmdlineWatcher([first, second]) as watcher:
        check = run_playbook(playbook, extra_vars=variables, check=True)
        assert check.changed and not check.failed, check.msg
        assert secret_fields(secret_uuid) is None
        predicted = check["secret"]
        assert predicted["private"] is True and predicted["description"] == "Ceph test key"
        assert check.diff["before"] == {}

        applied = run_playbook(playbook, extra_vars=variables)
        assert applied.changed, applied.msg
        assert applied["secret"] == predicted
        stored = secret_fields(secret_uuid)
        assert stored["private"] == "yes" and stored["ephemeral"] == "no"
        assert stored["usage_name"] == usage
        assert stored["description"] == f"Ceph test key [value fingerprint: pbkdf2-sha256:100000:{predicted['value_fingerprint']}]"

        for check_mode in (True, False):
            again = run_playbook(playbook, extra_vars=variables, check=check_mode)
            assert not again.changed and not again.failed, again.msg
            assert again["secret"] == predicted

        rotated = run_playbook(playbook, extra_vars=dict(variables, k=second))
        assert rotated.changed
        assert rotated["secret"]["value_fingerprint"] != predicted["value_fingerprint"]
        assert rotated.diff["before"]["value_fingerprint"] == predicted["value_fingerprint"]
        assert secret_fields(secret_uuid)["private"] == "yes"

        keyring = tmp_path / "ceph.client.test.keyring"
        keyring.write_text(f"[client.test]\n\tkey = {second}\n")
        from_keyring = run_module("libvirt_secret", {"uuid": secret_uuid, "usage_name": usage,
                                                     "value_from_keyring": {"path": str(keyring), "entity": "test"}})
        assert not from_keyring.changed, from_keyring.msg

        described = run_module("libvirt_secret", {"uuid": secret_uuid, "usage_name": usage, "description": "new"})
        assert described.changed
        assert described["secret"]["value_fingerprint"] == rotated["secret"]["value_fingerprint"]
        assert secret_fields(secret_uuid)["description"].startswith("new [value fingerprint:")

        check_delete = run_module("libvirt_secret", {"uuid": secret_uuid, "state": "absent"}, check=True)
        assert check_delete.changed and secret_fields(secret_uuid) is not None
        deleted = run_module("libvirt_secret", {"usage_name": usage, "state": "absent"})
        assert deleted.changed and deleted["secret"] is None
        assert secret_fields(secret_uuid) is None
        gone = run_module("libvirt_secret", {"uuid": secret_uuid, "state": "absent"})
        assert not gone.changed
    assert watcher.hits == []
    for result in (check, applied, rotated):
        assert first not in result.stdout and second not in result.stdout


def test_non_private_secret_holds_the_decoded_key(testenv, secret, tmp_path):
    secret_uuid, usage = secret
    key = new_key()
    playbook = secret_task(tmp_path, {"uuid": "{{ u }}", "usage_name": "{{ n }}", "value": "{{ k }}",
                                      "private": False})
    result = run_playbook(playbook, extra_vars={"u": secret_uuid, "n": usage, "k": key})
    assert result.changed and result["secret"]["private"] is False
    assert secret_value(secret_uuid) == base64.b64decode(key)
    again = run_playbook(playbook, extra_vars={"u": secret_uuid, "n": usage, "k": key})
    assert not again.changed


def test_verbose_output_and_diff_never_show_the_value(testenv, secret, tmp_path):
    secret_uuid, usage = secret
    key = new_key()
    playbook = secret_task(tmp_path, {"uuid": "{{ u }}", "usage_name": "{{ n }}", "value": "{{ k }}"})
    with CmdlineWatcher([key]) as watcher:
        proc = run_playbook_text(playbook, {"u": secret_uuid, "n": usage, "k": key}, verbosity=4)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "value_fingerprint" in proc.stdout  # the diff and result were printed
    assert key not in proc.stdout + proc.stderr
    assert base64.b64decode(key).hex() not in proc.stdout
    assert watcher.hits == []


def test_bad_input_fails_and_changes_nothing(testenv, secret, tmp_path):
    secret_uuid, usage = secret
    other_uuid = str(uuid.uuid4())
    define_secret(other_uuid, f"other {other_uuid[:8]}")
    try:
        key = new_key()
        cases = [
            ({"uuid": secret_uuid, "usage_name": usage, "value": "not base64!"}, "value is not valid base64"),
            ({"uuid": secret_uuid, "usage_name": usage, "value": base64.b64encode(b"short").decode()},
             "value is not a cephx key"),
            ({"uuid": "not-a-uuid", "usage_name": usage, "value": key}, "uuid 'not-a-uuid' is not a valid UUID"),
            ({"uuid": other_uuid, "usage_name": usage, "value": key},
             f"secret {other_uuid} is already defined for usage ceph 'other {other_uuid[:8]}'"),
            ({"uuid": secret_uuid, "usage_name": f"other {other_uuid[:8]}", "value": key},
             f"is already used by libvirt secret {other_uuid}"),
            ({"uuid": secret_uuid, "usage_name": usage,
              "value_from_keyring": {"path": str(tmp_path / "missing"), "entity": "x"}}, "does not exist"),
        ]
        for args, message in cases:
            playbook = secret_task(tmp_path, {k: "{{ a.%s }}" % k for k in args}, "bad.yml")
            result = run_playbook(playbook, extra_vars={"a": args})
            assert result.failed and message in result.msg, (args, result.msg)
            assert "not base64!" not in result.stdout.replace("********", "")
            assert secret_fields(secret_uuid) is None
            assert secret_fields(other_uuid)["usage_name"] == f"other {other_uuid[:8]}"
    finally:
        undefine_secret(other_uuid)


def test_private_flag_cannot_change_without_force(testenv, secret, tmp_path):
    secret_uuid, usage = secret
    key = new_key()
    playbook = secret_task(tmp_path, {"uuid": "{{ u }}", "usage_name": "{{ n }}", "value": "{{ k | default(omit) }}",
                                      "private": "{{ p }}", "force": "{{ f }}"})
    variables = {"u": secret_uuid, "n": usage, "k": key, "p": True, "f": False}
    assert run_playbook(playbook, extra_vars=variables).changed
    before = secret_fields(secret_uuid)

    refused = run_playbook(playbook, extra_vars=dict(variables, p=False))
    assert refused.failed
    assert "libvirt cannot change the private flag of an existing secret" in refused.msg
    assert "force=true" in refused.msg
    assert secret_fields(secret_uuid) == before

    no_value = {"u": secret_uuid, "n": usage, "p": False, "f": True}
    needs_value = run_playbook(playbook, extra_vars=no_value)
    assert needs_value.failed and "needs its value" in needs_value.msg
    assert secret_fields(secret_uuid) == before

    forced = run_playbook(playbook, extra_vars=dict(variables, p=False, f=True))
    assert forced.changed and forced["secret"]["private"] is False
    assert secret_value(secret_uuid) == base64.b64decode(key)


def test_secret_used_by_a_running_domain(testenv, ceph, secret, tmp_path, unique_name):
    """A running domain opens its RBD volume with the secret; rotation applies in place,
    a volume hot-plugged after it opens with the new key; removal is refused unless forced."""
    secret_uuid, usage = secret
    pool, client = unique_name("lsp"), unique_name("lsc")
    mon_host = testenv["CEPH_MON_HOST"]
    create_pool(ceph, pool)
    create_image(ceph, pool, "vol-1")
    create_image(ceph, pool, "vol-2")
    domain = None
    try:
        assert run_module("ceph_client_key", {"name": client, "pools": [pool]}).changed
        key = auth_get(ceph, f"client.{client}")["key"]
        playbook = secret_task(tmp_path, {"uuid": "{{ u }}", "usage_name": "{{ n }}", "value": "{{ k }}"})
        assert run_playbook(playbook, extra_vars={"u": secret_uuid, "n": usage, "k": key}).changed
        domain = start_domain(unique_name("lsdom"))
        attach_rbd_disk(domain, pool, "vol-1", client, secret_uuid, mon_host, "vda")

        assert run_module("ceph_client_key", {"name": client, "pools": [pool], "rotate": True}).changed
        rotated_key = auth_get(ceph, f"client.{client}")["key"]
        applied = run_playbook(playbook, extra_vars={"u": secret_uuid, "n": usage, "k": rotated_key})
        assert applied.changed and applied["secret"]["used_by"] == [domain.name()]
        assert domain.isActive()
        attach_rbd_disk(domain, pool, "vol-2", client, secret_uuid, mon_host, "vdb")
        assert "vol-2" in domain.XMLDesc(0)

        refused = run_module("libvirt_secret", {"uuid": secret_uuid, "state": "absent"})
        assert refused.failed
        assert f"running domains use it ({domain.name()})" in refused.msg
        assert secret_fields(secret_uuid) is not None

        forced = run_module("libvirt_secret", {"uuid": secret_uuid, "state": "absent", "force": True})
        assert forced.changed and secret_fields(secret_uuid) is None
        assert domain.isActive()
    finally:
        if domain is not None and domain.isActive():
            domain.destroy()
        auth_rm(ceph, f"client.{client}")
        delete_pool(ceph, pool)
