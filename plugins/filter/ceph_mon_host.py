# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Jinja filter ``ceph_mon_host``: monitor addresses in any Ceph spelling -> ceph.conf's ``mon host``."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InvalidInputError
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.mon_addresses import ceph_mon_host, parse_mon_hosts


def mon_host(value, option: str = "mon_host") -> str:
    """Checked monitor addresses in Ceph's own ``mon host`` syntax."""
    try:
        monitors = parse_mon_hosts(value, option)
    except InvalidInputError as exc:
        raise AnsibleFilterError(str(exc)) from None
    if not monitors:
        raise AnsibleFilterError(f"{option} holds no monitor address")
    return ceph_mon_host(monitors)


class FilterModule:
    """Jinja filters of limiquantix.ceph_rbd."""

    def filters(self):
        return {"ceph_mon_host": mon_host}
