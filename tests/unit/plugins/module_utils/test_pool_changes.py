# SPDX-License-Identifier: GPL-3.0-or-later
"""Each kind of pool change: its line, its prediction, and the calls it makes on a target."""
from __future__ import annotations

import pytest

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.pool_changes import (
    POOL_CHANGE_KINDS,
    CreateErasureProfile,
    CreateNamespace,
    CreatePool,
    DeletePool,
    DisableApplication,
    EnableApplication,
    InitRbd,
    SetQuota,
    SetVariable,
    pool_change_from_dict,
)


class Recorder:
    """A stand-in target that records the calls (pure logic: which call each change makes)."""

    name = "vols"

    def __init__(self):
        self.calls = []

    def mon_command(self, prefix, **args):
        self.calls.append((prefix, args))

    def init_rbd(self):
        self.calls.append(("init_rbd",))

    def create_namespace(self, namespace):
        self.calls.append(("create_namespace", namespace))

    def create_erasure_profile(self, profile):
        self.calls.append(("create_erasure_profile", profile["name"]))

    def delete(self):
        self.calls.append(("delete",))


PROFILE = {"name": "k2m1", "k": 2, "m": 1, "failure_domain": "osd"}


@pytest.mark.parametrize("change, line, call", [
    (CreateErasureProfile(profile=PROFILE), "pool vols: create erasure-code profile k2m1 (k=2, m=1)",
     ("create_erasure_profile", "k2m1")),
    (CreatePool(args={"pool": "vols", "pg_num": 8}), "pool vols: create", ("osd pool create", {"pool": "vols", "pg_num": 8})),
    (SetVariable(var="allow_ec_overwrites", value=True), "pool vols: set allow_ec_overwrites to true",
     ("osd pool set", {"pool": "vols", "var": "allow_ec_overwrites", "val": "true"})),
    (EnableApplication(application="rbd"), "pool vols: enable application rbd",
     ("osd pool application enable", {"pool": "vols", "app": "rbd", "yes_i_really_mean_it": True})),
    (DisableApplication(application="rgw"), "pool vols: disable application rgw",
     ("osd pool application disable", {"pool": "vols", "app": "rgw", "yes_i_really_mean_it": True})),
    (InitRbd(), "pool vols: initialise for RBD", ("init_rbd",)),
    (SetQuota(field="max_bytes", value=0), "pool vols: set quota max_bytes to 0",
     ("osd pool set-quota", {"pool": "vols", "field": "max_bytes", "val": "0"})),
    (CreateNamespace(namespace="t1"), "pool vols: create namespace t1", ("create_namespace", "t1")),
    (DeletePool(), "pool vols: delete", ("delete",)),
])
def test_each_kind_describes_itself_and_makes_one_call(change, line, call):
    target = Recorder()
    change.apply(target)
    assert target.calls == [call]
    assert change.describe("vols") == line
    assert pool_change_from_dict(change.as_dict()) == change


def test_every_kind_is_registered_once():
    assert sorted(POOL_CHANGE_KINDS) == sorted({kind.action for kind in POOL_CHANGE_KINDS.values()})
    assert len(POOL_CHANGE_KINDS) == 9


def test_predictions_follow_ceph():
    pool = {"size": 3, "min_size": 2, "pg_num": 32, "pgp_num": 32, "applications": ["rgw"],
            "rbd_initialized": False, "namespaces": [], "quota_max_bytes": 0}
    for change in (SetVariable(var="size", value=2), SetVariable(var="pg_num", value=64),
                   DisableApplication(application="rgw"), InitRbd(), SetQuota(field="max_bytes", value=5),
                   CreateNamespace(namespace="a")):
        change.predict(pool, {"min_size": 0})
    assert pool == {"size": 2, "min_size": 1, "pg_num": 64, "pgp_num": 64, "applications": ["rbd"],
                    "rbd_initialized": True, "namespaces": ["a"], "quota_max_bytes": 5}
