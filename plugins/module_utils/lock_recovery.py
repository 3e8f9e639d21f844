# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""An image's exclusive lock left by a dead client, found and broken before a change.

librbd asks the lock's owner to make a change (or to hand the lock over) and waits while
the owner's watch on the image header lasts: a client killed a moment ago keeps its watch
until the OSD gives up on it (``osd_client_watch_timeout``, 30 s), and librbd waits that
long inside one call, whatever the task's ``timeout``. Before changing an image this
service decides, within the task's deadline:

- no exclusive lock, or an owner that answers: nothing to do (librbd does the rest);
- an owner that is provably dead (its address no longer watches the header, or it is
  blocklisted): its lock is broken with blocklisting, as ``rbd lock rm`` and librbd do;
- an owner that still watches but does not answer (killed a moment ago, or hung): never
  broken; the task fails at its deadline naming the owner.
"""

from __future__ import annotations

import json
from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import CephCluster
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InUseError
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.rbd_common import (
    break_exclusive_lock,
    exclusive_lock_owner,
    image_spec,
    open_image,
    watchers_answer,
    watches,
)

# The longest single wait for the image's clients to answer, so that a dead owner's watch
# that expires meanwhile is noticed soon after.
ANSWER_WAIT_SECONDS = 3.0


def blocklist_entries(output: Any) -> list[dict[str, Any]]:
    """The entries of ``osd blocklist ls``: Ceph 16 prints the address list and then a second
    JSON list (address ranges), which the connection hands back as text."""
    if isinstance(output, str):
        output, _end = json.JSONDecoder().raw_decode(output.strip())
    return [entry for entry in output or [] if isinstance(entry, dict)]


def blocklisted(cluster: CephCluster, addr: str) -> bool:
    """Whether a client address is on the OSD blocklist."""
    return any(entry.get("addr") == addr for entry in blocklist_entries(cluster.mon_command("osd blocklist ls")))


def _stuck_message(spec: str, client: str, addr: str, seconds: float) -> str:
    return (
        f"image {spec} is locked by {client} ({addr}) (exclusive lock), which still watches the image "
        f"but did not answer within the task's timeout of {seconds:g} s: a client killed less than "
        "osd_client_watch_timeout (30 s) ago, or a hung one. Its lock is not broken while it watches "
        "the image; run again once its watch has expired (a dead owner's lock is then broken and the "
        "client blocklisted), or stop that client"
    )


def release_dead_owner(cluster: CephCluster, pool: str, namespace: str, name: str) -> str | None:
    """Make the image ready for a change by this client; a note when a dead owner's lock was
    broken, None when nothing was needed. InUseError at the task's deadline when the owner
    still watches the image but does not answer."""
    spec = image_spec(pool, namespace, name)
    deadline = cluster.deadline
    while True:
        with open_image(cluster, pool, namespace, name) as image:  # read-only: no watch of ours
            owner = exclusive_lock_owner(image)
            if owner is None:
                return None
            client, addr = owner
            alive = watches(image, addr) and not blocklisted(cluster, addr)
            image_id = image.id()
        if not alive:
            with open_image(cluster, pool, namespace, name, read_only=False) as image:
                break_exclusive_lock(image, spec, addr)
            return (f"image {spec}: broke the exclusive lock of {client} ({addr}), a dead client "
                    "(it no longer watched the image); it is blocklisted")
        wait = max(1.0, min(deadline.remaining(), ANSWER_WAIT_SECONDS))
        if watchers_answer(cluster.ioctx(pool, namespace), spec, image_id, wait):
            return None
        if deadline.remaining() <= 0:
            raise InUseError(_stuck_message(spec, client, addr, deadline.seconds), image=spec,
                             lockers=[f"{client} ({addr})"])
