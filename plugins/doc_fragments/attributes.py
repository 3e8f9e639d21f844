# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Attributes shared by the collection's modules."""

    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
"""

    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
"""

    CEPH_GROUP = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/limiquantix.ceph_rbd.ceph) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - limiquantix.ceph_rbd.ceph
notes:
  - Set the connection options once for a play with
    C(module_defaults) and the action group C(group/limiquantix.ceph_rbd.ceph).
"""

    LIBVIRT_GROUP = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/limiquantix.ceph_rbd.libvirt) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - limiquantix.ceph_rbd.libvirt
"""
