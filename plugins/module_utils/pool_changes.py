# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Each kind of pool change in one place: what it holds, how it reads in messages,
what it does to the predicted pool (check mode) and how it is applied.

A change is a frozen dataclass, as in ``image_changes``. :meth:`PoolChange.apply` gets a
:class:`PoolTarget` from ``pools.PoolTarget`` (the binding layer), so this module stays pure.
``predict`` changes the pool dict in place the way Ceph applies the change; it needs the
monitors' pool defaults for the settings Ceph moves along (``min_size`` after ``size``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol


class PoolTarget(Protocol):
    """What a pool change is applied to; ``pools.PoolTarget`` provides it."""

    name: str

    def mon_command(self, prefix: str, **args: Any) -> Any:
        """Run a mon command (the pool's name is passed by the change)."""

    def init_rbd(self) -> None:
        """Initialise the pool for RBD (``rbd pool init``)."""

    def create_namespace(self, namespace: str) -> None:
        """Create an RBD namespace in the pool."""

    def create_erasure_profile(self, profile: dict[str, Any]) -> None:
        """Create an erasure-code profile from name, k, m and failure_domain."""

    def delete(self) -> None:
        """Delete the pool."""


def default_min_size(size: int, configured: int) -> int:
    """min_size Ceph gives a replicated pool of ``size`` (osd_pool_default_min_size, 0 = size - size/2)."""
    return min(configured, size) if configured else size - size // 2


def _set_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class PoolChange:
    """One change of one pool."""

    action: ClassVar[str] = ""

    def describe(self, pool: str) -> str:
        """The change in one line, for messages (``done`` after a partial failure)."""
        return f"pool {pool}: {self.action.replace('_', ' ')}"

    def predict(self, pool: dict[str, Any], defaults: dict[str, Any]) -> None:
        """Change the predicted pool dict (check mode) as applying would."""

    def apply(self, target: PoolTarget) -> None:
        raise NotImplementedError(self.action)

    def as_dict(self) -> dict[str, Any]:
        """The change as plain data: its action and fields."""
        return dict({"action": self.action}, **dataclasses.asdict(self))


@dataclass(frozen=True)
class CreateErasureProfile(PoolChange):
    """An erasure-code profile a new erasure-coded pool needs (never overwrites one)."""

    profile: dict[str, Any]
    action: ClassVar[str] = "create_erasure_profile"

    def describe(self, pool: str) -> str:
        return (f"pool {pool}: create erasure-code profile {self.profile['name']} "
                f"(k={self.profile['k']}, m={self.profile['m']})")

    def apply(self, target: PoolTarget) -> None:
        target.create_erasure_profile(self.profile)


@dataclass(frozen=True)
class CreatePool(PoolChange):
    """``osd pool create`` with its arguments; the pool it makes is ``pool_plan.creation``'s."""

    args: dict[str, Any]
    action: ClassVar[str] = "create"

    def apply(self, target: PoolTarget) -> None:
        target.mon_command("osd pool create", **self.args)


@dataclass(frozen=True)
class SetVariable(PoolChange):
    """``osd pool set <var> <value>``."""

    var: str
    value: Any
    action: ClassVar[str] = "set"

    def describe(self, pool: str) -> str:
        return f"pool {pool}: set {self.var} to {_set_value(self.value)}"

    def predict(self, pool: dict[str, Any], defaults: dict[str, Any]) -> None:
        if self.var == "size":
            pool["min_size"] = default_min_size(self.value, defaults["min_size"])
        if self.var == "pg_num" and pool["pgp_num"] == pool["pg_num"]:
            pool["pgp_num"] = self.value  # the monitors move pgp_num along when they were equal
        pool[self.var] = self.value

    def apply(self, target: PoolTarget) -> None:
        target.mon_command("osd pool set", pool=target.name, var=self.var, val=_set_value(self.value))


@dataclass(frozen=True)
class EnableApplication(PoolChange):
    application: str
    action: ClassVar[str] = "enable_application"
    verb: ClassVar[str] = "enable"

    def describe(self, pool: str) -> str:
        return f"pool {pool}: {self.verb} application {self.application}"

    def predict(self, pool: dict[str, Any], defaults: dict[str, Any]) -> None:
        pool["applications"] = sorted(set(pool["applications"]) | {self.application})

    def apply(self, target: PoolTarget) -> None:
        target.mon_command(f"osd pool application {self.verb}", pool=target.name, app=self.application,
                           yes_i_really_mean_it=True)


@dataclass(frozen=True)
class DisableApplication(EnableApplication):
    action: ClassVar[str] = "disable_application"
    verb: ClassVar[str] = "disable"

    def predict(self, pool: dict[str, Any], defaults: dict[str, Any]) -> None:
        pool["applications"] = [a for a in pool["applications"] if a != self.application]


@dataclass(frozen=True)
class InitRbd(PoolChange):
    """What ``rbd pool init`` does: the rbd application and self-managed snapshots."""

    action: ClassVar[str] = "init"

    def describe(self, pool: str) -> str:
        return f"pool {pool}: initialise for RBD"

    def predict(self, pool: dict[str, Any], defaults: dict[str, Any]) -> None:
        pool["applications"] = sorted(set(pool["applications"]) | {"rbd"})
        pool["rbd_initialized"] = True

    def apply(self, target: PoolTarget) -> None:
        target.init_rbd()


@dataclass(frozen=True)
class SetQuota(PoolChange):
    """``osd pool set-quota``; 0 removes the quota."""

    field: str  # max_bytes or max_objects
    value: int
    action: ClassVar[str] = "set_quota"

    def describe(self, pool: str) -> str:
        return f"pool {pool}: set quota {self.field} to {self.value}"

    def predict(self, pool: dict[str, Any], defaults: dict[str, Any]) -> None:
        pool["quota_" + self.field] = self.value

    def apply(self, target: PoolTarget) -> None:
        target.mon_command("osd pool set-quota", pool=target.name, field=self.field, val=str(self.value))


@dataclass(frozen=True)
class CreateNamespace(PoolChange):
    namespace: str
    action: ClassVar[str] = "create_namespace"

    def describe(self, pool: str) -> str:
        return f"pool {pool}: create namespace {self.namespace}"

    def predict(self, pool: dict[str, Any], defaults: dict[str, Any]) -> None:
        pool["namespaces"] = sorted(set(pool["namespaces"]) | {self.namespace})

    def apply(self, target: PoolTarget) -> None:
        target.create_namespace(self.namespace)


@dataclass(frozen=True)
class DeletePool(PoolChange):
    action: ClassVar[str] = "delete"

    def apply(self, target: PoolTarget) -> None:
        target.delete()


# Every kind of pool change by its action name.
POOL_CHANGE_KINDS: dict[str, type[PoolChange]] = {
    kind.action: kind
    for kind in (CreateErasureProfile, CreatePool, SetVariable, EnableApplication, DisableApplication, InitRbd,
                 SetQuota, CreateNamespace, DeletePool)
}


def pool_change_from_dict(data: dict[str, Any]) -> PoolChange:
    """The change whose plain data (:meth:`PoolChange.as_dict`) is ``data``."""
    return POOL_CHANGE_KINDS[data["action"]](**{key: value for key, value in data.items() if key != "action"})
