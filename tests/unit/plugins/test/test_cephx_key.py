# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import base64

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_auth import generate_key
from ansible_collections.limiquantix.ceph_rbd.plugins.test.cephx_key import TestModule as JinjaTests


def test_cephx_key_test_accepts_keys_and_refuses_anything_else():
    is_key = JinjaTests().tests()["cephx_key"]
    assert is_key(generate_key())
    assert not is_key("not a key")
    assert not is_key(base64.b64encode(b"0123456789").decode())
    assert not is_key(None)
    assert not is_key(42)
