# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils import libvirt_secrets as ls
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    AlreadyExistsError,
    InvalidInputError,
)

UUID = "a5d4c91e-1234-5678-90ab-cdef12345678"


def stored(**changes):
    secret = {"uuid": UUID, "usage_type": "ceph", "usage_name": "client.libvirt secret",
              "description": "d", "private": True, "ephemeral": False}
    secret.update(changes)
    return secret


def test_fingerprint_depends_on_value_and_uuid():
    one = ls.value_fingerprint(UUID, b"value", iterations=10)
    assert len(one) == 32
    assert one == ls.value_fingerprint(UUID.upper(), b"value", iterations=10)
    assert one != ls.value_fingerprint(UUID, b"other", iterations=10)
    assert one != ls.value_fingerprint("11111111-1234-5678-90ab-cdef12345678", b"value", iterations=10)


def test_description_keeps_the_user_text_and_the_marker_apart():
    joined = ls.join_description("Ceph key", "0" * 32)
    assert joined == f"Ceph key [value fingerprint: pbkdf2-sha256:100000:{'0' * 32}]"
    user, marker = ls.split_description(joined)
    assert user == "Ceph key" and marker["digest"] == "0" * 32 and marker["iterations"] == 100000
    assert ls.split_description(ls.join_description(None, "1" * 32))[0] is None
    assert ls.split_description("plain") == ("plain", None)
    assert ls.join_description("plain", None) == "plain"


def test_fingerprint_matches_only_the_same_value():
    digest = ls.value_fingerprint(UUID, b"v")
    marker = ls.split_description(ls.join_description("x", digest))[1]
    assert ls.fingerprint_matches(UUID, marker, b"v")
    assert not ls.fingerprint_matches(UUID, marker, b"w")
    assert not ls.fingerprint_matches(UUID, None, b"v")


def test_secret_xml_round_trip():
    secret = stored(description="a <b> & c")
    xml = ls.build_secret_xml(secret)
    assert "private=\"yes\"" in xml and "<name>client.libvirt secret</name>" in xml
    assert ls.parse_secret_xml(xml) == secret
    volume = stored(usage_type="volume", usage_name="/var/lib/x.img", private=False)
    assert "<volume>/var/lib/x.img</volume>" in ls.build_secret_xml(volume)


def test_domain_secret_references():
    xml = """<domain><devices><disk><auth username='libvirt'>
      <secret type='ceph' uuid='%s'/></auth></disk>
      <disk><auth username='x'><secret type='ceph' usage='other'/></auth></disk></devices></domain>""" % UUID
    assert ls.secrets_used_by_domain(xml) == [{"type": "ceph", "uuid": UUID}, {"type": "ceph", "usage": "other"}]


def test_plan_new_secret_and_no_change():
    assert ls.plan_secret(None, stored(), False, False, []) == ["define", "set_value"]
    assert ls.plan_secret(None, stored(), None, False, []) == ["define"]
    assert ls.plan_secret(stored(), stored(), True, False, []) == []
    assert ls.plan_secret(stored(), stored(), None, False, []) == []


def test_plan_new_value_and_description_apply_in_place():
    assert ls.plan_secret(stored(), stored(), False, False, ["vm1"]) == ["set_value"]
    assert ls.plan_secret(stored(), stored(description="new"), False, False, []) == ["define", "set_value"]


def test_private_flag_change_is_refused_and_says_why():
    with pytest.raises(AlreadyExistsError, match="cannot change the private flag") as info:
        ls.plan_secret(stored(), stored(private=False), True, False, ["vm1"])
    assert "force=true" in str(info.value) and "vm1" in str(info.value)


def test_usage_change_is_refused_without_force():
    with pytest.raises(AlreadyExistsError, match="already defined for usage ceph 'client.libvirt secret'"):
        ls.plan_secret(stored(), stored(usage_name="other"), None, False, [])


def test_forced_redefinition_needs_the_value_of_a_private_secret():
    with pytest.raises(InvalidInputError, match="needs its value"):
        ls.plan_secret(stored(), stored(private=False), None, True, [])
    assert ls.plan_secret(stored(), stored(private=False), True, True, []) == ["undefine", "define", "set_value"]


def test_describe_secret_strips_the_marker():
    described = ls.describe_secret(stored(description=ls.join_description("d", "f" * 32)),
                                   [{"name": "vm", "running": True}])
    assert described["description"] == "d"
    assert described["value_fingerprint"] == "f" * 32
    assert described["used_by"] == ["vm"]


def test_decode_value():
    assert ls.decode_value("aGk=") == b"hi"
    with pytest.raises(InvalidInputError, match="not valid base64"):
        ls.decode_value("***")
