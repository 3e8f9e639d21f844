# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Connection options shared by the Ceph modules, and the libvirt URI."""

    DOCUMENTATION = r"""
options:
  cluster:
    description:
      - Name of the Ceph cluster. Selects C(/etc/ceph/<cluster>.conf) when O(conf) is not set.
    type: str
    default: ceph
  conf:
    description:
      - Path of the Ceph configuration file.
      - When not set, the environment variable E(CEPH_CONF) is used, then C(/etc/ceph/<cluster>.conf).
      - May be left out when O(mon_host) is given and no configuration file exists.
    type: path
  user:
    description:
      - The cephx user (client id) without the C(client.) prefix, for example C(admin) or C(libvirt).
      - When not set, the environment variable E(CEPH_USER) is used, then C(admin).
    type: str
  keyring:
    description:
      - Path of a keyring file holding the key of O(user).
      - When not set, the environment variable E(CEPH_KEYRING) is used, then the keyring
        that the configuration file names (by default C(/etc/ceph/<cluster>.client.<user>.keyring)).
    type: path
  key:
    description:
      - The cephx key (base64 secret) of O(user), given directly, for example from an AWX credential.
      - When not set, the environment variable E(CEPH_KEY) is used.
      - The key is kept in memory only; it never appears on a command line, in logs or in the result.
    type: str
  mon_host:
    description:
      - Monitor addresses, overriding the monitors of the configuration file, in any spelling
        Ceph uses, alone or mixed - V(10.0.0.1:6789), V(mon1.example.net),
        V([2001:db8::1]:6789), or the msgr2 address vector of one monitor
        V([v2:10.0.0.1:3300,v1:10.0.0.1:6789]) as C(ceph mon dump) prints it (nonces such as
        C(/0) are dropped). Checked before connecting and given to librados in Ceph's own syntax.
    type: list
    elements: str
  timeout:
    description:
      - Seconds to wait for the monitors and for each monitor or OSD operation
        (C(client_mount_timeout), C(rados_mon_op_timeout), C(rados_osd_op_timeout)),
        so that an unreachable or stuck cluster fails the task instead of hanging it.
      - The task's deadline too, counted from the connection's start and shared by every
        operation of the task (every image of a M(limiquantix.ceph_rbd.rbd_image) batch, every
        pool, image or snapshot a module reads). Once an operation has timed out and that
        deadline is spent, no further operation is started, so a cluster that does not answer
        fails the task after about O(timeout), not O(timeout) per item; the message names the
        task's timeout.
    type: int
    default: 30
requirements:
  - python3-rados and python3-rbd (Ceph's Python bindings, from the distribution) on the managed node
"""

    LIBVIRT = r"""
options:
  uri:
    description:
      - The libvirt connection URI.
      - When not set, the environment variable E(LIBVIRT_DEFAULT_URI) is used, then V(qemu:///system).
    type: str
    default: qemu:///system
requirements:
  - python3-libvirt (libvirt's Python bindings) on the managed node
notes:
  - Set O(uri) once for a play with C(module_defaults) and the action group C(group/limiquantix.ceph_rbd.libvirt).
"""
