# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Cluster identity and health."""

from __future__ import annotations

from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import CephCluster


def summarize_health(health: dict[str, Any]) -> dict[str, Any]:
    """Reduce ``health detail`` output to status plus one message per check."""
    checks = {}
    for name, check in sorted((health.get("checks") or {}).items()):
        checks[name] = {
            "severity": check.get("severity"),
            "message": (check.get("summary") or {}).get("message", ""),
        }
    return {"health": health.get("status", "UNKNOWN"), "checks": checks}


def cluster_summary(cluster: CephCluster) -> dict[str, Any]:
    """fsid, health status and health checks of the connected cluster."""
    summary = {"fsid": cluster.fsid()}
    summary.update(summarize_health(cluster.mon_command("health", detail="detail") or {}))
    return summary
