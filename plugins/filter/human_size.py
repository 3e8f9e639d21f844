# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Jinja filter ``human_size``: bytes -> "1 GiB", the way the modules print sizes."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InvalidInputError
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.validation import format_size, parse_size


def human_size(value) -> str:
    """A size in bytes (or any size the modules accept, such as 10G) in binary units."""
    try:
        return format_size(parse_size(value, "human_size input"))
    except InvalidInputError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    """Jinja filters of limiquantix.ceph_rbd."""

    def filters(self):
        return {"human_size": human_size}
