# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InvalidInputError
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.validation import (
    format_size,
    parse_positive_size,
    parse_size,
    validate_name,
    validate_uuid,
)


@pytest.mark.parametrize("value, expected", [
    (0, 0),
    (4096, 4096),
    ("4096", 4096),
    ("1B", 1),
    ("1K", 1024),
    ("10M", 10 * 1024 ** 2),
    ("1G", 1073741824),
    ("1g", 1073741824),
    ("2T", 2 * 1024 ** 4),
    ("1P", 1024 ** 5),
    ("10GiB", 10 * 1024 ** 3),
    ("4 MiB", 4 * 1024 ** 2),
    (" 8K ", 8192),
    (2.0, 2),
])
def test_sizes_use_binary_units_like_the_rbd_cli(value, expected):
    assert parse_size(value) == expected


@pytest.mark.parametrize("value, message", [
    ("1.5G", "is not a size"),
    ("1e9", "is not a size"),
    ("10Q", "unknown unit 'Q'"),
    ("10GB", "unknown unit 'GB'"),
    ("-1", "is not a size"),
    (-1, "must not be negative"),
    ("", "is not a size"),
    ("G", "is not a size"),
    (True, "must be a number of bytes"),
    (None, "must be a number of bytes"),
    (1.5, "whole number"),
])
def test_malformed_sizes_are_refused_with_a_clear_message(value, message):
    with pytest.raises(InvalidInputError, match=message):
        parse_size(value)


def test_zero_is_refused_where_a_positive_size_is_needed():
    with pytest.raises(InvalidInputError, match="greater than 0"):
        parse_positive_size("0", "size")
    assert parse_positive_size("1M") == 1048576


@pytest.mark.parametrize("name", ["vol-abc123", "limiquantix-volumes", "tenant_a.1", "golden-ubuntu-22.04", "bände"])
def test_valid_names_are_accepted(name):
    assert validate_name(name, "image name") == name


@pytest.mark.parametrize("name, message", [
    ("", "must not be empty"),
    ("a/b", "must not contain '/'"),
    ("x@y", "must not contain '@'"),
    ("a:b", "must not contain ':'"),
    ("a b", "must not contain whitespace"),
    ("a\tb", "must not contain whitespace"),
    ("a\x00b", "must not contain NUL"),
    ("a\x07b", "control characters"),
    ("..", "must not be"),
    ("x" * 251, "the limit is 250 bytes"),
    ("ü" * 126, "the limit is 250 bytes"),
    (["a"], "must be a string"),
    (5, "must be a string"),
])
def test_names_that_break_rbd_specs_are_refused(name, message):
    with pytest.raises(InvalidInputError, match=message):
        validate_name(name, "image name")


def test_empty_name_is_allowed_where_it_means_default():
    assert validate_name("", "namespace", allow_empty=True) == ""


def test_uuids_are_canonicalised_and_garbage_refused():
    assert validate_uuid("A5D4C91E-1234-5678-90AB-CDEF12345678") == "a5d4c91e-1234-5678-90ab-cdef12345678"
    with pytest.raises(InvalidInputError, match="not a valid UUID"):
        validate_uuid("not-a-uuid")


def test_format_size_is_human_readable():
    assert format_size(10 * 1024 ** 3) == "10 GiB"
    assert format_size(1536) == "1.5 KiB"
