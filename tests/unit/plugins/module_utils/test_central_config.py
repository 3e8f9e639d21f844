# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.central_config import (
    config_value_text,
    normalize_typed,
    parse_who,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InvalidInputError


@pytest.mark.parametrize("who,expected", [
    ("mgr", ("mgr", "")), ("osd.3", ("osd.3", "")), ("client.libvirt", ("client.libvirt", "")),
    ("global", ("global", "")), ("osd/class:ssd", ("osd", "class:ssd")),
    ("osd/host:node-1/class:hdd", ("osd", "host:node-1/class:hdd")),
])
def test_who_is_split_into_section_and_mask(who, expected):
    assert parse_who(who) == expected


@pytest.mark.parametrize("who", ["", "bogus", "osd 3", "osd/ssd", "osd/class:", "mgr;rm", "../osd"])
def test_a_target_the_monitors_would_refuse_is_refused(who):
    with pytest.raises(InvalidInputError, match="is not a Ceph config target|a mask is"):
        parse_who(who)


@pytest.mark.parametrize("kind,text,expected", [
    ("bool", "TRUE", "true"), ("bool", "false", "false"), ("bool", "5", "true"), ("bool", "0", "false"),
    ("int", "007", "7"), ("int", "1K", "1000"), ("int", "-3", "-3"),
    ("uint", "2M", "2000000"),
    ("size", "4G", "4294967296"), ("size", "4Gi", "4294967296"), ("size", "4096", "4096"),
    ("float", "0.5", "0.500000"), ("float", "7", "7.000000"), ("float", "1e-1", "0.100000"),
    ("secs", "90", "90"), ("secs", "1h", "3600"), ("secs", "1h30m", "5400"),
    ("str", " a,b ", " a,b "),
])
def test_values_are_normalised_as_the_monitors_store_them(kind, text, expected):
    assert normalize_typed({"name": "mgr/x/y", "type": kind}, text) == expected


@pytest.mark.parametrize("kind,text", [
    ("bool", "yes"), ("int", "2k"), ("int", "0x10"), ("int", " 7"), ("uint", "-1"), ("size", "4GiB"),
    ("size", "4.5G"), ("float", "fast"), ("secs", "1.5"), ("secs", "1 fortnight"),
])
def test_values_the_monitors_refuse_are_refused(kind, text):
    with pytest.raises(InvalidInputError, match="is not a valid value for mgr/x/y"):
        normalize_typed({"name": "mgr/x/y", "type": kind}, text)


def test_a_value_outside_the_enumeration_is_refused_with_the_choices():
    option = {"name": "mgr/prometheus/standby_behaviour", "type": "str", "enum_values": ["default", "error"]}
    assert normalize_typed(option, "error") == "error"
    with pytest.raises(InvalidInputError, match="one of default, error"):
        normalize_typed(option, "ignore")


def test_playbook_values_become_the_text_ceph_parses():
    assert config_value_text(True) == "true"
    assert config_value_text(9283) == "9283"
    assert config_value_text("4G") == "4G"
    with pytest.raises(InvalidInputError, match="value is required"):
        config_value_text(None)
