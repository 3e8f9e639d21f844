# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Live-migrate a domain from this libvirt host to another: refuse up front, move, verify."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    InvalidInputError,
    LibvirtError,
    NotFoundError,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_connection import libvirt_connection
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_domain import check_secret
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_domain_reads import (
    domain_state,
    domain_xml,
    find_domain,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_migration import (
    host_name,
    host_uuid,
    migrate,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.migration_plan import (
    MIGRATION_FLAGS,
    classify_disks,
    disk_label,
    refuse_local_disks,
    refuse_not_running,
)


@dataclass(frozen=True)
class MigrationRequest:
    domain: str
    source_uri: str
    target_uri: str
    check_mode: bool


@dataclass(frozen=True)
class Hosts:
    source: str
    target: str


def _running(conn: Any, name: str) -> Any:
    """The domain when it runs on this connection's host, else None."""
    dom = find_domain(conn, name)
    return dom if dom is not None and domain_state(dom)["running"] else None


def _result(request: MigrationRequest, hosts: Hosts, disks: list[dict[str, Any]], changed: bool) -> dict[str, Any]:
    return {
        "changed": changed, "domain": request.domain, "source": hosts.source, "target": hosts.target,
        "source_uri": request.source_uri, "target_uri": request.target_uri, "duration": 0.0,
        "disks": disks, "flags": list(MIGRATION_FLAGS) if changed else [],
    }


def _refuse_missing_secrets(target: Any, hosts: Hosts, domain: str, disks: list[dict[str, Any]]) -> None:
    """Every disk's libvirt secret must exist on the target (its value is checked by the access check)."""
    for disk in disks:
        if not disk["secret_uuid"] and not disk["secret_usage"]:
            continue
        try:
            check_secret(target, disk["secret_uuid"], disk["secret_usage"])
        except NotFoundError as error:
            raise NotFoundError(
                f"cannot live-migrate VM {domain!r} from {hosts.source} to {hosts.target}: disk "
                f"{disk_label(disk)}: {error.msg.replace('this host', hosts.target)}",
                domain=domain, source=hosts.source, target=hosts.target, disk=disk["target"]) from None


def _verify_moved(source: Any, target: Any, domain: str, hosts: Hosts) -> None:
    if _running(target, domain) is None:
        raise LibvirtError(f"VM {domain!r} does not run on {hosts.target} after the migration", changed=True)
    if find_domain(source, domain) is not None:
        raise LibvirtError(f"VM {domain!r} is still defined on {hosts.source} after the migration", changed=True)


def _already_moved(request: MigrationRequest, target: Any, hosts: Hosts, defined_here: bool) -> dict[str, Any]:
    dom = _running(target, request.domain)
    if dom is not None:
        disks, _local = classify_disks(domain_xml(dom, "live"))
        return _result(request, hosts, disks, changed=False)
    if defined_here:
        refuse_not_running(hosts.source, request.domain)
    raise NotFoundError(f"VM {request.domain!r} runs neither on {hosts.source} nor on {hosts.target}",
                        domain=request.domain)


def migrate_domain(request: MigrationRequest) -> dict[str, Any]:
    """Move the running domain live to the target; ``ok`` when it already runs there."""
    with libvirt_connection(request.source_uri) as source, libvirt_connection(request.target_uri) as target:
        hosts = Hosts(host_name(source, request.source_uri), host_name(target, request.target_uri))
        if host_uuid(source, request.source_uri) == host_uuid(target, request.target_uri):
            raise InvalidInputError(f"{request.target_uri} is this host ({hosts.source}): choose another target")
        dom = _running(source, request.domain)
        if dom is None:
            return _already_moved(request, target, hosts, find_domain(source, request.domain) is not None)
        disks, local = classify_disks(domain_xml(dom, "live"))
        refuse_local_disks(hosts.source, request.domain, local)
        _refuse_missing_secrets(target, hosts, request.domain, disks)
        result = _result(request, hosts, disks, changed=True)
        if request.check_mode:
            return result
        started = time.monotonic()
        migrate(dom, target, request.target_uri, MIGRATION_FLAGS, {})
        duration = round(time.monotonic() - started, 2)
        _verify_moved(source, target, request.domain, hosts)
    return dict(result, duration=duration)
