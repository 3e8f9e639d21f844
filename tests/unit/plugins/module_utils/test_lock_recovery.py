# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.lock_recovery import blocklist_entries


def test_blocklist_entries_read_the_first_of_cephs_two_lists():
    text = '[{"addr":"127.0.0.1:0/1","until":"x"}][]'
    assert blocklist_entries(text) == [{"addr": "127.0.0.1:0/1", "until": "x"}]
    assert blocklist_entries([{"addr": "a"}]) == [{"addr": "a"}]
    assert blocklist_entries(None) == []
