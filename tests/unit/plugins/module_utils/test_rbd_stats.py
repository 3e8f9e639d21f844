# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils import rbd_stats
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import ClusterError, InvalidInputError
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.rbd_stats import (
    converge_rbd_stats,
    parse_entries,
    wanted_entries,
    with_rbd_stats,
)


def test_entries_are_split_on_commas_and_spaces_without_duplicates():
    assert parse_entries("a, b c,,a") == ["a", "b", "c"]
    assert parse_entries(None) == []


def test_adding_a_pool_keeps_other_entries_in_order_and_replaces_its_namespace_entries():
    assert wanted_entries(["a", "vol/ns1", "b/x"], "vol", True) == ["a", "b/x", "vol"]


def test_a_pool_already_covered_is_not_changed():
    assert wanted_entries(["vol", "vol/ns1"], "vol", True) == ["vol", "vol/ns1"]
    assert wanted_entries(["*"], "vol", True) == ["*"]


def test_removing_a_pool_removes_its_namespaces_only():
    assert wanted_entries(["a", "vol", "vol/ns", "volume2"], "vol", False) == ["a", "volume2"]


def test_star_cannot_exclude_one_pool_but_a_deleted_pool_leaves_star_alone():
    with pytest.raises(InvalidInputError, match="'\\*' collects every pool"):
        wanted_entries(["*", "vol"], "vol", False)
    assert wanted_entries(["*", "vol"], "vol", None) == ["*"]


def test_rbd_stats_is_added_to_a_pool_view_but_not_to_none():
    assert with_rbd_stats({"name": "vol"}, ["vol"], "vol") == {"name": "vol", "rbd_stats": True}
    assert with_rbd_stats({}, ["vol"], "vol") == {}


class RacingConfig:
    """A config store where another writer replaces the value right after our first writes."""

    def __init__(self, value, rival_writes):
        self.value = value
        self.rival_writes = list(rival_writes)
        self.writes = []

    def get(self, _cluster, _who, _name):
        return self.value

    def set(self, _cluster, _who, _name, value):
        self.writes.append(value)
        self.value = value
        if self.rival_writes:  # the rival read before our write and writes after it
            self.value = self.rival_writes.pop(0)

    def remove(self, _cluster, _who, _name):
        self.set(_cluster, _who, _name, "")


@pytest.fixture
def racing(monkeypatch):
    def install(value, rival_writes):
        store = RacingConfig(value, rival_writes)
        monkeypatch.setattr(rbd_stats, "get_config_entry", store.get)
        monkeypatch.setattr(rbd_stats, "set_config", store.set)
        monkeypatch.setattr(rbd_stats, "remove_config", store.remove)
        return store
    return install


def test_an_entry_lost_to_a_concurrent_writer_is_written_again(racing):
    store = racing("a", ["a,b"])
    result = converge_rbd_stats(None, "vol", True, False, sleep=lambda _s: None)
    assert result == {"changed": True, "before": ["a"], "after": ["a", "b", "vol"]}
    assert store.writes == ["a,vol", "a,b,vol"]


def test_check_mode_writes_nothing(racing):
    store = racing("a", [])
    assert converge_rbd_stats(None, "vol", True, True, sleep=lambda _s: None)["after"] == ["a", "vol"]
    assert store.writes == []


def test_giving_up_after_the_attempts_says_so(racing):
    racing("", ["other"] * 20)
    with pytest.raises(ClusterError, match="other writers kept replacing it"):
        converge_rbd_stats(None, "vol", True, False, sleep=lambda _s: None)
