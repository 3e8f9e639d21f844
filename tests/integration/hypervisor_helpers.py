# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers of the hypervisor tests (ceph_client_key, libvirt_secret, the roles):
cephx clients, libvirt secrets and domains, and the secret-leak checks.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import tempfile
import threading
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Iterable

from .cephstate import mon, small_domain_xml, usable_domain_type
from .cephstate import undefine_secret as undefine_secret_with
from .harness import BIN, COLLECTION_ROOT, ansible_env

# --- cephx clients ---------------------------------------------------------------


def auth_get(ceph, entity: str) -> dict[str, Any] | None:
    try:
        return mon(ceph, "auth get", entity=entity)[0]
    except RuntimeError as exc:
        if " -2 " in str(exc):
            return None
        raise


def auth_rm(ceph, entity: str) -> None:
    if auth_get(ceph, entity) is not None:
        mon(ceph, "auth rm", entity=entity)


def connect_as(conf: str, user: str, key: str):
    """A librados connection as client.<user> with a key (kept in memory)."""
    import rados  # pylint: disable=import-outside-toplevel

    handle = rados.Rados(rados_id=user, conffile=conf,
                         conf={"key": key, "keyring": "", "client_mount_timeout": "10",
                               "rados_mon_op_timeout": "10", "log_to_stderr": "false",
                               "err_to_stderr": "false"})
    handle.connect(timeout=10)
    return handle


def can_connect(conf: str, user: str, key: str) -> bool:
    try:
        connect_as(conf, user, key).shutdown()
    except Exception:  # pylint: disable=broad-except
        return False
    return True


def mon_v1_port(mon_host: str) -> int:
    return int(re.search(r"v1:[0-9.]+:([0-9]+)", mon_host).group(1))


# --- libvirt ------------------------------------------------------------------------


def libvirt_conn():
    import libvirt  # pylint: disable=import-outside-toplevel

    libvirt.registerErrorHandler(lambda _c, _e: None, None)
    return libvirt.open(os.environ.get("LIBVIRT_DEFAULT_URI", "qemu:///system"))


def secret_fields(secret_uuid: str) -> dict[str, Any] | None:
    """The stored secret's XML fields, None when not defined."""
    import libvirt  # pylint: disable=import-outside-toplevel

    conn = libvirt_conn()
    try:
        root = ET.fromstring(conn.secretLookupByUUIDString(secret_uuid).XMLDesc(0))
    except libvirt.libvirtError:
        return None
    finally:
        conn.close()
    usage = root.find("usage")
    return {
        "private": root.get("private"),
        "ephemeral": root.get("ephemeral"),
        "description": root.findtext("description"),
        "usage_type": usage.get("type"),
        "usage_name": usage[0].text,
    }


def secret_value(secret_uuid: str) -> bytes | None:
    conn = libvirt_conn()
    try:
        return conn.secretLookupByUUIDString(secret_uuid).value(0)
    finally:
        conn.close()


def define_secret(secret_uuid: str, usage_name: str, private: bool = True) -> None:
    conn = libvirt_conn()
    try:
        conn.secretDefineXML(
            f"<secret ephemeral='no' private='{'yes' if private else 'no'}'><uuid>{secret_uuid}</uuid>"
            f"<usage type='ceph'><name>{usage_name}</name></usage></secret>")
    finally:
        conn.close()


def undefine_secret(secret_uuid: str) -> None:
    conn = libvirt_conn()
    try:
        undefine_secret_with(conn, secret_uuid)
    finally:
        conn.close()


def rbd_disk_xml(pool: str, image: str, user: str, secret_uuid: str, mon_host: str, target: str) -> str:
    return f"""<disk type='network' device='disk'>
  <driver name='qemu' type='raw' cache='writeback'/>
  <source protocol='rbd' name='{pool}/{image}'>
    <host name='127.0.0.1' port='{mon_v1_port(mon_host)}'/>
  </source>
  <auth username='{user}'><secret type='ceph' uuid='{secret_uuid}'/></auth>
  <target dev='{target}' bus='virtio'/>
</disk>"""


def start_domain(name: str):
    """Start a small transient domain without disks (ACPI: disks can be hot-plugged)."""
    return libvirt_conn().createXML(small_domain_xml(name, usable_domain_type()), 0)


def attach_rbd_disk(domain, pool: str, image: str, user: str, secret_uuid: str, mon_host: str, target: str) -> None:
    """Hot-plug an RBD disk: QEMU opens the image with the secret's current value, or fails."""
    import libvirt  # pylint: disable=import-outside-toplevel

    xml = rbd_disk_xml(pool, image, user, secret_uuid, mon_host, target)
    domain.attachDeviceFlags(xml, libvirt.VIR_DOMAIN_AFFECT_LIVE)


def create_image(ceph, pool: str, name: str, size: int = 4 * 1024 * 1024) -> None:
    import rbd  # pylint: disable=import-outside-toplevel

    ioctx = ceph.open_ioctx(pool)
    try:
        rbd.RBD().create(ioctx, name, size)
    finally:
        ioctx.close()


# --- secret leaks --------------------------------------------------------------------


def process_command_lines() -> list[tuple[str, str]]:
    """(pid, command line) of every process, arguments joined by spaces."""
    lines = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            lines.append((entry, Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
                          .decode("utf-8", "replace")))
        except OSError:
            continue
    return lines


class _Sampler:
    """Runs ``_scan`` in a thread until the block ends; collects ``hits``."""

    def __init__(self, secrets: Iterable[str], interval: float = 0.01) -> None:
        self.secrets = [s for s in secrets if s]
        self.interval = interval
        self.hits: list[str] = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _scan(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            self._scan()
            self.samples += 1
            self._stop.wait(self.interval)

    def add(self, secret: str) -> None:
        self.secrets.append(secret)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        assert self.samples > 10, f"{type(self).__name__} did not sample"


class CmdlineWatcher(_Sampler):
    """Samples every process's command line; records any that holds a secret."""

    def _scan(self) -> None:
        for entry, cmdline in process_command_lines():
            for secret in self.secrets:
                if secret in cmdline:
                    self.hits.append(f"pid {entry}: {cmdline[:80]}...")


class FileModeWatcher(_Sampler):
    """Samples the files under a directory; records any holding a secret with a mode wider than allowed."""

    def __init__(self, directory: Path, secrets: Iterable[str], allowed_mode: int) -> None:
        super().__init__(secrets, interval=0.002)
        self.directory = directory
        self.allowed_mode = allowed_mode

    def _scan(self) -> None:
        for path in self.directory.rglob("*"):
            try:
                mode = stat.S_IMODE(path.stat().st_mode)
                if mode & ~self.allowed_mode and any(s.encode() in path.read_bytes() for s in self.secrets):
                    self.hits.append(f"{path} mode {mode:o}")
            except OSError:
                continue


def run_playbook_text(playbook: Path, extra_vars: dict[str, Any], *, verbosity: int = 3,
                      check: bool = False, diff: bool = True, inventory: str | None = None,
                      env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run a playbook with the default (human) output at a verbosity; vars go in a 0600 file."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(extra_vars, handle)
        vars_file = handle.name
    cmd = [str(BIN / "ansible-playbook"), str(playbook), "-i", inventory or "localhost,",
           "-e", f"@{vars_file}", "-" + "v" * verbosity]
    if inventory is None:
        cmd += ["-c", "local"]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    run_env = ansible_env(dict(ANSIBLE_STDOUT_CALLBACK="default", **(env or {})))
    try:
        return subprocess.run(cmd, capture_output=True, text=True, env=run_env, timeout=600,
                              check=False, cwd=str(COLLECTION_ROOT))
    finally:
        os.unlink(vars_file)


def files_holding(directory: Path, secret: str) -> list[tuple[Path, int]]:
    """(path, mode) of every file under a directory that holds the secret."""
    found = []
    for path in directory.rglob("*"):
        if path.is_file() and secret.encode() in path.read_bytes():
            found.append((path, stat.S_IMODE(path.stat().st_mode)))
    return found


def unique_uuid() -> str:
    return str(uuid.uuid4())
