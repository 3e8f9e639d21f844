# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one place that opens a Ceph cluster connection and runs mon/mgr commands."""

from __future__ import annotations

import json
import os
import stat
import time
import traceback
from contextlib import contextmanager
from typing import Any, Iterator

from ansible.module_utils.basic import env_fallback, missing_required_lib
from ansible.module_utils.common.warnings import warn

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.deadline import Deadline
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    CephRbdError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    UnreachableError,
    binding_call,
    error_for_errno,
    set_task_deadline,
    task_deadline,
    translate_binding_error,
    translated_errors,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.mon_addresses import ceph_mon_host, parse_mon_hosts
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.unreachable import explain_ceph_timeout

try:
    import rados

    RADOS_IMPORT_ERROR = None
except ImportError:
    rados = None
    RADOS_IMPORT_ERROR = traceback.format_exc()

try:
    import rbd  # noqa: F401  pylint: disable=unused-import

    RBD_IMPORT_ERROR = None
except ImportError:
    RBD_IMPORT_ERROR = traceback.format_exc()

RADOS_LIBRARY = "rados (Debian/Ubuntu package python3-rados)"
RBD_LIBRARY = "rbd (Debian/Ubuntu package python3-rbd)"
DEFAULT_TIMEOUT = 30


def ceph_connection_argument_spec() -> dict[str, dict[str, Any]]:
    """Argument spec of the shared connection options (doc fragment ``connection``)."""
    return {
        "cluster": {"type": "str", "default": "ceph"},
        "conf": {"type": "path", "fallback": (env_fallback, ["CEPH_CONF"])},
        "user": {"type": "str", "fallback": (env_fallback, ["CEPH_USER"])},
        "keyring": {"type": "path", "fallback": (env_fallback, ["CEPH_KEYRING"])},
        "key": {"type": "str", "no_log": True, "fallback": (env_fallback, ["CEPH_KEY"])},
        "mon_host": {"type": "list", "elements": "str"},
        "timeout": {"type": "int", "default": DEFAULT_TIMEOUT},
    }


def missing_ceph_bindings(need_rbd: bool = True) -> tuple[str, str] | None:
    """Return (library description, traceback) of a missing binding, or None."""
    if RADOS_IMPORT_ERROR:
        return RADOS_LIBRARY, RADOS_IMPORT_ERROR
    if need_rbd and RBD_IMPORT_ERROR:
        return RBD_LIBRARY, RBD_IMPORT_ERROR
    return None


def require_ceph_bindings(purpose: str = "") -> None:
    """CephRbdError when a binding is missing, for a module whose Ceph use is optional
    (``purpose`` starts the message, e.g. "record_attachment needs ")."""
    missing = missing_ceph_bindings()
    if missing:
        raise CephRbdError(f"{purpose}{missing_required_lib(missing[0])}")


def resolve_conf_path(params: dict[str, Any]) -> str | None:
    """The ceph.conf to read, or None when monitors are given and no conf exists.

    Raises InvalidInputError for an unreadable or missing file that is needed.
    """
    cluster = params.get("cluster") or "ceph"
    explicit = params.get("conf")
    path = explicit or f"/etc/ceph/{cluster}.conf"
    if os.path.isfile(path):
        if not os.access(path, os.R_OK):
            raise InvalidInputError(f"cannot read the Ceph configuration file {path}: permission denied")
        return path
    if explicit:
        raise InvalidInputError(f"the Ceph configuration file {path} does not exist")
    if params.get("mon_host"):
        return None
    raise InvalidInputError(
        f"no Ceph configuration for cluster {cluster!r}: {path} does not exist; "
        "set conf (or CEPH_CONF) or mon_host"
    )


def connection_settings(params: dict[str, Any]) -> dict[str, str]:
    """Config options set on the client before connecting (timeouts, auth, monitors)."""
    timeout = params.get("timeout") or DEFAULT_TIMEOUT
    if timeout <= 0:
        raise InvalidInputError(f"timeout must be a positive number of seconds, got {timeout}")
    settings = {
        "client_mount_timeout": str(timeout),
        "rados_mon_op_timeout": str(timeout),
        "rados_osd_op_timeout": str(timeout),
        # Never let librados print to the module's stderr.
        "log_to_stderr": "false",
        "err_to_stderr": "false",
        "log_file": "",
    }
    if params.get("keyring"):
        keyring = params["keyring"]
        check_keyring_file(keyring)
        settings["keyring"] = keyring
    if params.get("key") is not None:
        settings["key"] = check_key_text(params["key"])
    if params.get("mon_host"):
        # Any spelling Ceph uses (msgr2 address vectors too), checked and rewritten in
        # Ceph's own syntax; a vector cut at its comma by Ansible's list parsing is rejoined.
        settings["mon_host"] = ceph_mon_host(parse_mon_hosts(params["mon_host"], "mon_host"))
    return settings


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


def check_keyring_file(path: str) -> None:
    """Refuse a keyring path that is not a readable regular file, saying what it is.

    A keyring that group or others may read is used, with a warning (ssh refuses such
    keys; Ceph does not): the task goes on, the operator is told to narrow the mode.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InvalidInputError(f"the keyring {path} does not exist") from None
    except OSError as exc:
        raise InvalidInputError(f"cannot read the keyring {path}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise InvalidInputError(
            f"the keyring {path} is {_file_kind(info.st_mode)}, not a keyring file: "
            "give the path of the keyring file itself"
        )
    if not os.access(path, os.R_OK):
        raise InvalidInputError(f"cannot read the keyring {path}: permission denied")
    if info.st_size == 0:
        raise InvalidInputError(f"the keyring {path} is empty")
    readers = [who for bit, who in ((stat.S_IRGRP, "its group"), (stat.S_IROTH, "others"))
               if info.st_mode & bit]
    if readers:
        warn(
            f"the keyring {path} is readable by {' and '.join(readers)} "
            f"(mode {stat.S_IMODE(info.st_mode):04o}): a cephx key should be readable by its "
            f"owner only (chmod 0600 {path})"
        )


def check_key_text(key: Any) -> str:
    """The ``key`` option as librados gets it; a blank one is refused (and not echoed)."""
    if not isinstance(key, str) or not key.strip():
        raise InvalidInputError(
            "the key option is empty or blank: give the base64 cephx key of the user "
            "(or leave key unset and use a keyring)"
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in key.strip()):
        raise InvalidInputError("the key option contains control characters: it is not a cephx key")
    return key.strip()


def forget_blank_secrets(module: Any) -> None:
    """Stop masking blank ``no_log`` values (a space is no secret).

    Ansible masks every ``no_log`` value in the whole result; a ``key`` of ``' '`` would
    turn every space of the error message into ``********``. Call right after creating
    the AnsibleModule: ``module_runner.run_module`` does, for every module.
    """
    for value in list(module.no_log_values):
        if isinstance(value, str) and not value.strip():
            module.no_log_values.discard(value)


def _configured_monitors(handle: Any, params: dict[str, Any], conf_path: str | None) -> str:
    """The monitor addresses the client will try, for error messages."""
    if params.get("mon_host"):
        return ", ".join(params["mon_host"])
    try:
        return handle.conf_get("mon_host") or f"none configured in {conf_path}"
    except Exception:  # pylint: disable=broad-except
        return f"from {conf_path}"


@binding_call("ceph {prefix}")
def _send_command(call: Any, prefix: str, cmd: str, inbuf: bytes, timeout: float) -> tuple[int, bytes, str]:
    return call(cmd, inbuf, timeout=timeout)


@binding_call("ceph {prefix}", shares_deadline=False)
def _send_command_anyway(call: Any, prefix: str, cmd: str, inbuf: bytes, timeout: float) -> tuple[int, bytes, str]:
    """A command with a timeout of its own, sent even when the task's deadline is spent."""
    return call(cmd, inbuf, timeout=timeout)


class CephCluster:
    """An open cluster connection plus cached I/O contexts (one per pool/namespace)."""

    def __init__(self, handle: Any, timeout: int, started: float | None = None) -> None:
        self.handle = handle
        self.timeout = timeout
        # One time budget for the whole task (see deadline.py), from the connection's start.
        # A second connection of the same task (libvirt_rbd_disk's records) shares the first's.
        self.deadline = task_deadline() or Deadline(timeout, started)
        set_task_deadline(self.deadline)  # shared by every binding call (errors.binding_call)
        self._ioctxs: dict[tuple[str, str], Any] = {}

    @binding_call("read the cluster fsid", shares_deadline=False)  # local: no wait on the cluster
    def fsid(self) -> str:
        return self.handle.get_fsid()

    @property
    def user(self) -> str | None:
        """The cephx user the connection authenticated as (without ``client.``)."""
        return getattr(self.handle, "rados_id", None)

    @binding_call("read the client instance id", shares_deadline=False)  # local: no wait on the cluster
    def instance_id(self) -> int:
        """This client's instance id (``client.<id>`` in watcher lists)."""
        return self.handle.get_instance_id()

    @binding_call("look up pool id {pool_id}", shares_deadline=False)  # local: no wait on the cluster
    def pool_name(self, pool_id: int) -> str:
        """The name of the pool with id ``pool_id``."""
        return self.handle.pool_reverse_lookup(pool_id)

    @binding_call("read the client setting {name}", shares_deadline=False)  # local: no wait on the cluster
    def conf_get(self, name: str) -> Any:
        """A setting of the client's own configuration."""
        return self.handle.conf_get(name)

    @binding_call("open pool {pool!r}")
    def _open_ioctx(self, pool: str) -> Any:
        return self.handle.open_ioctx(pool)

    @contextmanager
    def uncached_ioctx(self, pool: str) -> Iterator[Any]:
        """An I/O context of its own on a pool (for a namespace setting of its own), closed after."""
        ioctx = self._open_ioctx(pool)
        try:
            # A scope, not one call: the caller's calls on this I/O context run inside it, so
            # their errors are mapped here (binding_call declares single calls only).
            with translated_errors(f"pool {pool!r}"):
                yield ioctx
        finally:
            ioctx.close()

    def ioctx(self, pool: str, namespace: str = "") -> Any:
        """Open (once) an I/O context on a pool and namespace; NotFoundError if no pool."""
        key = (pool, namespace)
        if key not in self._ioctxs:
            try:
                ioctx = self.handle.open_ioctx(pool)
            except rados.ObjectNotFound:
                raise NotFoundError(f"pool {pool!r} does not exist", pool=pool) from None
            except rados.Error as exc:
                raise translate_binding_error(exc, f"open pool {pool!r}") from exc
            if namespace:
                ioctx.set_namespace(namespace)
            self._ioctxs[key] = ioctx
        return self._ioctxs[key]

    def forget_ioctx(self, pool: str) -> None:
        """Close cached I/O contexts of a pool (before the pool is deleted)."""
        for key in [k for k in self._ioctxs if k[0] == pool]:
            self._ioctxs.pop(key).close()

    def mon_command(self, prefix: str, inbuf: bytes = b"", **args: Any) -> Any:
        """Run a mon command; return its parsed JSON output (None when it prints nothing).

        ``inbuf`` is the command's input (what ``ceph -i FILE`` sends), e.g. a keyring
        for ``auth import``: it goes through librados memory, never a command line.
        ``_timeout`` overrides the connection's timeout for this one command.
        """
        return self._command("mon", prefix, args, inbuf)

    def mgr_command(self, prefix: str, **args: Any) -> Any:
        """Run a mgr command; return its parsed JSON output (None when it prints nothing)."""
        return self._command("mgr", prefix, args)

    def _command(self, target: str, prefix: str, args: dict[str, Any], inbuf: bytes = b"") -> Any:
        # An explicit _timeout (the explanation of a timeout in write_errors) is not held back
        # by the spent deadline; every other command shares it through _send_command.
        explicit = args.pop("_timeout", None)
        timeout = explicit or self.timeout
        cmd = {"prefix": prefix, "format": "json"}
        cmd.update({k: v for k, v in args.items() if v is not None})
        call = self.handle.mon_command if target == "mon" else self.handle.mgr_command
        send = _send_command if explicit is None else _send_command_anyway
        ret, outbuf, outs = send(call, prefix, json.dumps(cmd), inbuf, timeout)
        if ret != 0:
            detail = (outs or "").strip() or os.strerror(abs(ret))
            raise error_for_errno(ret, f"ceph {prefix}: {detail}", command=prefix)
        if not outbuf or not outbuf.strip():
            return None
        try:
            return json.loads(outbuf)
        except ValueError:
            return outbuf.decode("utf-8", "replace")

    def close(self) -> None:
        for ioctx in self._ioctxs.values():
            try:
                ioctx.close()
            except Exception:  # pylint: disable=broad-except
                pass
        self._ioctxs.clear()
        try:
            self.handle.shutdown()
        except Exception:  # pylint: disable=broad-except
            pass


def _connect_error(exc: Exception, params: dict[str, Any], monitors: str) -> Exception:
    user = params.get("user") or "admin"
    timeout = params.get("timeout") or DEFAULT_TIMEOUT
    if isinstance(exc, (rados.TimedOut, rados.InterruptedOrTimeoutError)) or abs(getattr(exc, "errno", 0) or 0) == 110:
        return UnreachableError(
            f"cannot reach the Ceph monitors ({monitors}) within {timeout} s", monitors=monitors
        )
    if isinstance(exc, (rados.PermissionError, rados.PermissionDeniedError)):
        return PermissionDeniedError(
            f"the Ceph monitors ({monitors}) refused client.{user}: wrong key or keyring, "
            "or the user does not exist"
        )
    if isinstance(exc, rados.ObjectNotFound):
        return PermissionDeniedError(
            f"no key found for client.{user}: set keyring (or CEPH_KEYRING) or key (or CEPH_KEY)"
        )
    if isinstance(exc, rados.InvalidArgumentError) and params.get("key"):
        return InvalidInputError("key is not a valid cephx key (expected the base64 secret of the user)")
    return translate_binding_error(exc, f"connect to the Ceph monitors ({monitors}) as client.{user}")


def open_cluster(params: dict[str, Any]) -> CephCluster:
    """Connect with the timeouts applied; the caller must call ``close()``."""
    started = time.monotonic()
    conf_path = resolve_conf_path(params)
    settings = connection_settings(params)
    timeout = params.get("timeout") or DEFAULT_TIMEOUT
    user = params.get("user") or "admin"
    try:
        handle = rados.Rados(
            rados_id=user,
            clustername=params.get("cluster") or "ceph",
            conffile=conf_path,
            conf=settings,
        )
    except rados.Error as exc:
        raise translate_binding_error(exc, "configure the Ceph client") from exc
    try:
        handle.connect(timeout=timeout)
    except rados.Error as exc:
        monitors = _configured_monitors(handle, params, conf_path)
        try:
            handle.shutdown()
        except Exception:  # pylint: disable=broad-except
            pass
        raise _connect_error(exc, params, monitors) from exc
    return CephCluster(handle, timeout, started)


@contextmanager
def cluster_connection(params: dict[str, Any]) -> Iterator[CephCluster]:
    """Context manager around :func:`open_cluster` that always closes; a Ceph operation's
    timeout leaves it explained (unreachable.py: paused, OSDs down) and naming the deadline."""
    cluster = open_cluster(params)
    try:
        yield cluster
    except UnreachableError as error:
        explained = cluster.deadline.named_in(explain_ceph_timeout(cluster, error))
        if explained is error:
            raise
        raise explained from error
    finally:
        cluster.close()
