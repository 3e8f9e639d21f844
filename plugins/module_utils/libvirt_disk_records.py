# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The attachment records that ``libvirt_rbd_disk`` keeps on its images (see ``attachments``):
written before an attach, removed after a verified detach, cleared for a domain that is gone."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.attachment_records import (
    ImageRef,
    disk_image,
    images_in_use,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.attachments import (
    libvirt_host_name,
    open_record_cluster,
    sync_domain_records,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import require_ceph_bindings
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_disk_xml import parse_disk
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_domain import (
    domain_identity,
    domain_rbd_disks,
)


def records_cluster(stack: ExitStack, params: dict[str, Any], images: set[ImageRef]) -> Any:
    """The Ceph connection for the attachment records when they are kept for ``images``, else None."""
    if not params["record_attachment"] or not images:
        return None
    require_ceph_bindings("record_attachment needs ")
    cluster = open_record_cluster(params)
    stack.callback(cluster.close)
    return cluster


def clears_stale_record(params: dict[str, Any]) -> bool:
    """Whether a run for a domain this host does not have clears that domain's record."""
    return params["state"] == "absent" and params["record_attachment"] and bool(params["pool"] and params["image"])


def clear_records_of_missing_domain(params: dict[str, Any], conn: Any, check_mode: bool) -> dict[str, Any]:
    """state=absent for a domain this host does not have: clear the records naming it here."""
    image = (params["pool"], params["namespace"], params["image"])
    with ExitStack() as stack:
        cluster = records_cluster(stack, params, {image})
        actions = sync_domain_records(cluster, libvirt_host_name(conn), params["domain"], "", {image: False},
                                      check_mode)
    return {"changed": bool(actions), "xml": None, "qemu_spec": None, "live": False, "config": False,
            "actions": actions, "size": None, "diff": {"before": {}, "after": {}}}


class DiskRecords:
    """The records one run keeps for a domain: the image it attaches, the images it may leave."""

    def __init__(self, stack: ExitStack, params: dict[str, Any], conn: Any, dom: Any,
                 plan: dict[str, Any], wanted: dict[str, Any] | None) -> None:
        current = plan["current"]
        self.leaving = {disk_image(parse_disk(current[s])) for s in plan["scopes"] if current[s] is not None} - {None}
        if not wanted and params["pool"] and params["image"]:
            self.leaving.add((params["pool"], params["namespace"], params["image"]))
        self.attaching = {disk_image(wanted)} if wanted else set()
        self.dom = dom
        self.cluster = records_cluster(stack, params, self.leaving | self.attaching)
        self.host = libvirt_host_name(conn) if self.cluster else ""
        self.name, self.uuid = domain_identity(dom) if self.cluster else ("", "")

    def before_apply(self, check_mode: bool) -> list[str]:
        """Record the image being attached (before the attach: a crash leaves a record, never a gap)."""
        if not (self.cluster and self.attaching):
            return []
        return sync_domain_records(self.cluster, self.host, self.name, self.uuid,
                                   dict.fromkeys(self.attaching, True), check_mode)

    def after_apply(self, plan: dict[str, Any], target: str, check_mode: bool) -> list[str]:
        """Remove the records of images the domain no longer uses (read back; predicted in check mode)."""
        leaving = self.leaving - self.attaching
        if not (self.cluster and leaving):
            return []
        gone = [s for s in plan["scopes"] if plan["plans"].get(s) in ("detach", "replace")] if check_mode else []
        used = images_in_use(domain_rbd_disks(self.dom)["disks"], target, gone)
        return sync_domain_records(self.cluster, self.host, self.name, self.uuid,
                                   {image: image in used for image in leaving}, check_mode)
