# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``qemu-img convert`` into an RBD image through QEMU's own rbd block driver: the one
place the collection runs a program (qemu-img is neither ceph, rbd nor virsh).

The cephx key never reaches a command line: qemu-img gets a ceph.conf and, when the
connection was given a ``key``, a keyring file, both mode 0600 in a private (0700)
temporary directory that is removed afterwards. Its argv names only paths, the image
spec and the cephx user. The settings come from the module's own connection (monitors,
keyring, auth) with the task's timeout, so qemu-img talks to the same cluster as the
same user, and a cluster that stops answering fails the copy instead of hanging it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from typing import Any, Iterator

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_auth import keyring_text
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import CephCluster
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    CephRbdError,
    InvalidInputError,
    UnreachableError,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.validation import image_spec

QEMU_IMG = "qemu-img"
# Client settings copied from the module's connection into qemu-img's ceph.conf.
COPIED_SETTINGS = ("mon_host", "auth_client_required", "ms_client_mode", "ms_mon_client_mode")


def _write_private(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def client_conf(cluster: CephCluster, keyring: str) -> str:
    """The ceph.conf text qemu-img uses: the connection's monitors and auth, its timeouts."""
    lines = ["[global]"]
    for name in COPIED_SETTINGS:
        value = cluster.conf_get(name)
        if value:
            lines.append(f"{name} = {value}")
    timeout = str(cluster.timeout)
    lines += [f"client_mount_timeout = {timeout}", f"rados_mon_op_timeout = {timeout}",
              f"rados_osd_op_timeout = {timeout}", f"keyring = {keyring}",
              "log_to_stderr = false", "err_to_stderr = false", "log_file = ", "admin_socket = "]
    return "\n".join(lines) + "\n"


@contextmanager
def client_files(cluster: CephCluster) -> Iterator[str]:
    """A private directory holding ``ceph.conf`` (and ``keyring`` when the connection has a key)."""
    directory = tempfile.mkdtemp(prefix="limiquantix-import-")
    try:
        key = cluster.conf_get("key")
        keyring = cluster.conf_get("keyring")
        if key:
            keyring = os.path.join(directory, "keyring")
            _write_private(keyring, keyring_text(f"client.{cluster.user or 'admin'}", key))
        _write_private(os.path.join(directory, "ceph.conf"), client_conf(cluster, keyring))
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def rbd_target(pool: str, namespace: str, name: str, directory: str, user: str) -> str:
    """QEMU's ``rbd:`` filename of the image (names never hold ``:``, ``/`` or ``@``: validated)."""
    return f"rbd:{image_spec(pool, namespace, name)}:conf={os.path.join(directory, 'ceph.conf')}:id={user}"


def convert_command(source: dict[str, Any], target: str) -> list[str]:
    """qemu-img convert into an existing image that reads as zeros: only data is written."""
    return [QEMU_IMG, "convert", "-n", "--target-is-zero", "-W", "-m", "16", "-f", source["format"],
            "-O", "raw", source["path"], target]


def qemu_img_environment() -> dict[str, str]:
    """The module's environment without the CEPH_* variables: librados would let CEPH_KEYRING and
    CEPH_ARGS override the private conf (and CEPH_KEY holds a secret qemu-img need not see)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("CEPH_")}
    return dict(env, LC_ALL="C")


def convert_to_rbd(cluster: CephCluster, source: dict[str, Any], pool: str, namespace: str, name: str,
                   timeout: float | None = None) -> None:
    """Write the source's disk into the image (which must read as zeros); raise on failure."""
    spec = image_spec(pool, namespace, name)
    with client_files(cluster) as directory:
        command = convert_command(source, rbd_target(pool, namespace, name, directory, cluster.user or "admin"))
        try:
            done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, timeout=timeout, check=False,
                                  env=qemu_img_environment())
        except FileNotFoundError:
            raise InvalidInputError(f"import into {spec}: {QEMU_IMG} is not installed on this host "
                                    "(Debian: qemu-utils and qemu-block-extra)") from None
        except subprocess.TimeoutExpired:
            raise UnreachableError(f"import into {spec}: qemu-img did not finish within {timeout:g} s") from None
    if done.returncode != 0:
        text = (done.stderr or b"").decode("utf-8", "replace").strip().replace(directory, "<private dir>")
        raise CephRbdError(f"import {source['path']} into {spec}: qemu-img convert failed "
                           f"(exit {done.returncode}): {text or 'no message'}")
