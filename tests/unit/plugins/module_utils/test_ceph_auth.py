# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import base64
import struct

import pytest

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils import ceph_auth
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    InvalidInputError,
    NotFoundError,
)


def test_generated_key_has_the_cephx_layout():
    key = ceph_auth.generate_key(now=1700000000.5)
    raw = base64.b64decode(key)
    assert len(raw) == 28
    assert struct.unpack("<HIIH", raw[:12]) == (1, 1700000000, 500000000, 16)
    assert ceph_auth.validate_key(key) == key
    assert ceph_auth.generate_key() != ceph_auth.generate_key()


@pytest.mark.parametrize("bad, message", [
    ("not base64!", "not valid base64"),
    (base64.b64encode(b"x" * 10).decode(), "not a cephx key"),
    (base64.b64encode(struct.pack("<HIIH", 2, 0, 0, 16) + b"x" * 16).decode(), "wrong key type"),
    ("", "non-empty"),
])
def test_malformed_keys_are_refused_without_echo(bad, message):
    with pytest.raises(InvalidInputError, match=message) as info:
        ceph_auth.validate_key(bad)
    if bad:
        assert bad not in str(info.value)


def test_fingerprint_is_short_stable_and_not_the_key():
    key = ceph_auth.generate_key()
    assert ceph_auth.key_fingerprint(key) == ceph_auth.key_fingerprint(key + "\n")
    assert len(ceph_auth.key_fingerprint(key)) == 16
    assert ceph_auth.key_fingerprint(key) not in key


@pytest.mark.parametrize("name, entity", [("libvirt", "client.libvirt"), ("client.libvirt", "client.libvirt"),
                                          ("a.b_c-d", "client.a.b_c-d")])
def test_entity_names(name, entity):
    assert ceph_auth.entity_name(name) == entity


@pytest.mark.parametrize("name", ["", "client.", "a b", "x/y"])
def test_invalid_entity_names(name):
    with pytest.raises(InvalidInputError):
        ceph_auth.entity_name(name)


def test_pool_caps_list_every_pool_and_namespace():
    assert ceph_auth.pool_caps(["a", "b/ns"]) == {
        "mon": "profile rbd",
        "osd": "profile rbd pool=a, profile rbd pool=b namespace=ns",
        "mgr": "profile rbd pool=a, profile rbd pool=b namespace=ns",
    }
    assert ceph_auth.pool_caps([]) == {"mon": "profile rbd", "osd": "profile rbd", "mgr": "profile rbd"}


def test_explicit_caps_are_exact_and_checked():
    assert ceph_auth.desired_caps({"mon": " profile rbd ", "osd": ""}, ["ignored"]) == {"mon": "profile rbd"}
    with pytest.raises(InvalidInputError, match="unknown services"):
        ceph_auth.desired_caps({"rgw": "allow"}, None)


def test_keyring_round_trip():
    key = ceph_auth.generate_key()
    text = ceph_auth.keyring_text("client.x", key, {"mon": 'allow "r"'})
    assert 'caps mon = "allow \\"r\\""' in text
    assert ceph_auth.parse_keyring(text + "[client.y]\nkey=abc\n") == {"client.x": key, "client.y": "abc"}


def test_keyring_text_escapes_backslash_and_quote_so_caps_stay_one_value():
    key = ceph_auth.generate_key()
    text = ceph_auth.keyring_text("client.x", key, {"osd": 'allow r object_prefix "a\\b"'})
    assert text == f'[client.x]\n\tkey = {key}\n\tcaps osd = "allow r object_prefix \\"a\\\\b\\""\n'


@pytest.mark.parametrize("value, message", [
    ('profile rbd\\"\n[client.other]\n\tcaps mon = "allow *', "must not contain a line break"),
    ("allow r\rx", "must not contain a line break"),
    ("allow r\x00x", "must not contain a NUL byte"),
    ("allow r\x1bx", "control characters"),
    ("allow r pool=caf\u00e9", "must be ASCII"),
    ("allow r ; x", "must not contain ';'"),
    ("allow r # x", "must not contain '#'"),
])
def test_caps_that_could_leave_their_line_are_refused_everywhere(value, message):
    with pytest.raises(InvalidInputError, match=message):
        ceph_auth.desired_caps({"osd": value}, None)
    with pytest.raises(InvalidInputError, match=message):
        ceph_auth.keyring_text("client.x", ceph_auth.generate_key(), {"osd": value})
    with pytest.raises(InvalidInputError):
        ceph_auth.desired_caps(None, [value.replace(" ", "_").replace(",", "_").replace("=", "_")])


def test_keyring_text_refuses_a_bad_entity_or_key():
    with pytest.raises(InvalidInputError, match="is not valid"):
        ceph_auth.keyring_text("client.x]\n[client.y", ceph_auth.generate_key())
    with pytest.raises(InvalidInputError):
        ceph_auth.keyring_text("client.x", "AQ==\n[client.y]")


def test_read_key_from_keyring(tmp_path):
    key = ceph_auth.generate_key()
    path = tmp_path / "k"
    path.write_text(ceph_auth.keyring_text("client.libvirt", key))
    assert ceph_auth.read_key_from_keyring(str(path), "libvirt") == key
    with pytest.raises(NotFoundError, match="no key for client.other"):
        ceph_auth.read_key_from_keyring(str(path), "other")
    with pytest.raises(NotFoundError, match="does not exist"):
        ceph_auth.read_key_from_keyring(str(tmp_path / "missing"), "libvirt")


@pytest.mark.parametrize("before, state, rotate, expected", [
    (None, "present", False, ["create"]),
    (None, "present", True, ["create"]),
    (None, "absent", False, []),
    ({"caps": {"mon": "profile rbd"}}, "present", False, []),
    ({"caps": {"mon": "allow r"}}, "present", False, ["set_caps"]),
    ({"caps": {"mon": "allow r"}}, "present", True, ["rotate"]),
    ({"caps": {"mon": "profile rbd"}}, "absent", False, ["remove"]),
])
def test_plan_client(before, state, rotate, expected):
    assert ceph_auth.plan_client(before, state, {"mon": "profile rbd"}, rotate) == expected


def test_describe_client_never_holds_the_key():
    key = ceph_auth.generate_key()
    described = ceph_auth.describe_client("client.x", {"mon": "profile rbd"}, key)
    assert key not in repr(described)
    assert described["key_fingerprint"] == ceph_auth.key_fingerprint(key)
