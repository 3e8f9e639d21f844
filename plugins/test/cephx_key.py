# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Jinja test ``cephx_key``: is a string a base64 cephx key (never echoes it)."""

from __future__ import annotations

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_auth import decode_key
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InvalidInputError


def is_cephx_key(value) -> bool:
    """True for a base64 cephx key (type AES, 16-byte secret), False otherwise."""
    try:
        decode_key(value)
    except InvalidInputError:
        return False
    return True


class TestModule:
    """Jinja tests of limiquantix.ceph_rbd."""

    def tests(self):
        return {"cephx_key": is_cephx_key}
