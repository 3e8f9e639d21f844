# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Can this host open RBD disks the way its QEMU would? (the pre-flight of a live migration)

QEMU opens an RBD disk with librbd: this host's ceph.conf (the disk's monitors, when its
XML names some, override the file's), the disk's cephx user and, as key, the value of the
libvirt secret the disk names. This check does the same with a short timeout: a missing
secret, another key, a ceph.conf or monitors that reach no cluster (or another one), a
missing image or one without exclusive-lock are each reported in seconds, where QEMU
would wait for librbd's connect timeout (5 minutes) in the middle of a migration.
The key stays in memory: never on a command line, never in the result.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import cluster_connection
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import CephRbdError, NotFoundError, UnreachableError
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_request import feature_names
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_secrets import (
    get_secret,
    stored_secret_value,
    uuid_for_usage,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.migration_plan import (
    credential_of,
    credentials_of,
    disk_label,
    fsid_problem,
    image_problem,
    secret_remedy,
    unreachable_remedy,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.rbd_common import open_image


@dataclass(frozen=True)
class AccessRequest:
    host: str
    domain: str
    disks: list[dict[str, Any]]
    conf: str | None
    cluster: str
    fsid: str | None
    timeout: int
    secrets_dir: str


def _secret_key(conn: Any, request: AccessRequest, uuid: str | None, usage: str | None) -> tuple[str | None, str]:
    """(the key as base64 text, None and why) from the secret the disks name."""
    if not uuid and usage:
        uuid = uuid_for_usage(conn, "ceph", usage)
    name = f"libvirt secret {uuid or usage}"
    if not uuid and not usage:
        return None, "the disk names no libvirt secret (no cephx key for QEMU)"
    stored = get_secret(conn, uuid) if uuid else None
    if stored is None:
        return None, f"{name} is not defined on {request.host} (define it with limiquantix.ceph_rbd.libvirt_secret)"
    value = stored_secret_value(conn, uuid, stored["private"], request.secrets_dir)
    if not value:
        return None, f"{name} on {request.host} has no value (set it with limiquantix.ceph_rbd.libvirt_secret)"
    return base64.b64encode(value).decode("ascii"), name


def _image_features(cluster: Any, disk: dict[str, Any]) -> list[str] | None:
    try:
        with open_image(cluster, disk["pool"], disk.get("namespace") or "", disk["image"]) as image:
            return feature_names(image.features())
    except NotFoundError:
        return None


def _check_group(request: AccessRequest, key: str, user: str, mons: tuple[str, ...],
                 disks: list[dict[str, Any]], report: dict[str, Any]) -> None:
    # QEMU reads ceph.conf when there is one; the disk's monitors are enough without.
    conf = request.conf if request.conf and os.path.isfile(request.conf) else None
    params = {"conf": conf, "cluster": request.cluster, "user": user, "key": key,
              "mon_host": list(mons) or None, "timeout": request.timeout}
    with cluster_connection(params) as cluster:
        fsid = cluster.fsid()
        report["fsid"] = fsid
        problem = fsid_problem(request.host, request.domain, user, fsid, request.fsid)
        if problem:
            _note(report, *problem)
            return
        for disk in disks:
            features = _image_features(cluster, disk)
            report["disks"].append(dict(disk, features=features or []))
            problem = image_problem(request.host, request.domain, disk, features)
            if problem:
                _note(report, *problem)


def _note(report: dict[str, Any], problem: str, remedy: str) -> None:
    report["problems"].append(problem)
    if remedy not in report["remedies"]:
        report["remedies"].append(remedy)


def check_access(conn: Any, request: AccessRequest) -> dict[str, Any]:
    """``host``, ``fsid``, ``disks`` (with their features), ``problems`` (empty when QEMU can open them
    all) and ``remedies`` (what to do about them)."""
    report: dict[str, Any] = {"host": request.host, "fsid": None, "disks": [], "problems": [], "remedies": []}
    for credential in credentials_of(request.disks):
        user, uuid, usage, mons = credential
        group = [disk for disk in request.disks if credential_of(disk) == credential]
        where = f"{request.host}: VM {request.domain!r} disk {', '.join(disk_label(d) for d in group)}"
        key, secret = _secret_key(conn, request, uuid, usage)
        if key is None:
            _note(report, f"{where}: {secret}", secret_remedy(request.host, user))
            continue
        try:
            _check_group(request, key, user, mons, group, report)
        except UnreachableError as error:
            _note(report, f"{where}: client.{user} with the key of {secret} cannot use the cluster: {error}. A key "
                  f"the monitors refuse looks the same: check that {secret} holds the current key of client.{user} "
                  "and that this host reaches the disk's monitors or those of its ceph.conf",
                  unreachable_remedy(request.host, user))
        except CephRbdError as error:
            _note(report, f"{where}: client.{user} with the key of {secret} cannot use the cluster: {error}",
                  unreachable_remedy(request.host, user))
    return report
