# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-image RBD metrics of the mgr's prometheus module: ``mgr/prometheus/rbd_stats_pools``.

The setting is one string shared by every pool: a comma or space separated list of
``pool`` or ``pool/namespace`` entries (``*`` for every pool). A bare ``pool`` entry covers
every namespace of the pool, present and future, so that is what a pool gets. Two runs
changing different pools at the same time must not lose each other's entry, and Ceph has
no compare-and-set for config options: each change is re-read after a pause and redone
when another writer replaced it.
"""

from __future__ import annotations

import random
import re
import time
from typing import Any, Callable

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.central_config import (
    get_config_entry,
    remove_config,
    set_config,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import CephCluster
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import ClusterError, InvalidInputError

RBD_STATS_OPTION = "mgr/prometheus/rbd_stats_pools"
RBD_STATS_WHO = "mgr"
SETTLE_SECONDS = 1.0
ATTEMPTS = 10


def parse_entries(value: str | None) -> list[str]:
    """The entries of the setting, in order, without duplicates."""
    entries: list[str] = []
    for entry in re.split(r"[\s,]+", value or ""):
        if entry and entry not in entries:
            entries.append(entry)
    return entries


def pool_entries(entries: list[str], pool: str) -> list[str]:
    """The entries naming ``pool`` (``pool`` and ``pool/<namespace>``)."""
    return [e for e in entries if e == pool or e.startswith(pool + "/")]


def is_covered(entries: list[str], pool: str) -> bool:
    """Whether every namespace of ``pool`` is collected (its bare entry, or ``*``)."""
    return pool in entries or "*" in entries


def wanted_entries(entries: list[str], pool: str, enabled: bool | None) -> list[str]:
    """The setting with ``pool`` added (all namespaces) or removed; other entries kept in order.

    ``enabled`` None forgets the pool's own entries (a deleted pool) and leaves ``*`` alone;
    False with a ``*`` entry (every pool) is an error: ``*`` cannot exclude one pool.
    """
    if enabled is None:
        return [e for e in entries if e not in pool_entries(entries, pool)]
    if enabled:
        if is_covered(entries, pool):
            return entries
        others = [e for e in entries if e not in pool_entries(entries, pool)]
        return others + [pool]
    if "*" in entries or any(e.startswith("*/") for e in entries):
        raise InvalidInputError(
            f"{RBD_STATS_OPTION} is {','.join(entries)!r}: '*' collects every pool, so pool {pool!r} cannot be "
            "left out; replace '*' by the list of pools (rbd_stats: true on each)")
    return [e for e in entries if e not in pool_entries(entries, pool)]


def rbd_stats_enabled(cluster: CephCluster, pool: str) -> bool:
    """Whether the prometheus module collects per-image metrics of every namespace of ``pool``."""
    return is_covered(parse_entries(get_config_entry(cluster, RBD_STATS_WHO, RBD_STATS_OPTION)), pool)


def _write(cluster: CephCluster, entries: list[str]) -> None:
    if entries:
        set_config(cluster, RBD_STATS_WHO, RBD_STATS_OPTION, ",".join(entries))
    else:
        remove_config(cluster, RBD_STATS_WHO, RBD_STATS_OPTION)


def converge_rbd_stats(cluster: CephCluster, pool: str, enabled: bool | None, check_mode: bool,
                       sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Add or remove ``pool`` in the setting; returns {changed, before, after} (entry lists).

    After a write the setting is read again after SETTLE_SECONDS (plus jitter): when a
    concurrent writer replaced it without this pool's change, the change is made again on
    the fresh value, up to ATTEMPTS times.
    """
    current = parse_entries(get_config_entry(cluster, RBD_STATS_WHO, RBD_STATS_OPTION))
    before = list(current)
    changed = False
    for _attempt in range(ATTEMPTS):
        wanted = wanted_entries(current, pool, enabled)
        if wanted == current:
            return {"changed": changed, "before": before, "after": current}
        changed = True
        if check_mode:
            return {"changed": True, "before": before, "after": wanted}
        _write(cluster, wanted)
        sleep(SETTLE_SECONDS + random.uniform(0, SETTLE_SECONDS))
        current = parse_entries(get_config_entry(cluster, RBD_STATS_WHO, RBD_STATS_OPTION))
    raise ClusterError(
        f"could not {'add' if enabled else 'remove'} pool {pool!r} in {RBD_STATS_OPTION}: other writers kept "
        f"replacing it ({ATTEMPTS} attempts); run again")


def with_rbd_stats(view: dict[str, Any], entries: list[str], pool: str) -> dict[str, Any]:
    """A pool dict (or its diff view) with ``rbd_stats``; {} (no pool) stays {}."""
    return dict(view, rbd_stats=is_covered(entries, pool)) if view else view
