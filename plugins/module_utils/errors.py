# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection's error types and the one place binding exceptions are mapped.

Binding calls declare their mapping once (:func:`binding_call`); helpers raise these
errors; every module runs through ``module_runner.run_module``, which turns them into
``fail_json`` arguments.
"""

from __future__ import annotations

import errno
import functools
import inspect
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

T = TypeVar("T")

try:
    import rados
except ImportError:  # reported by the module through missing_required_lib
    rados = None

try:
    import rbd
except ImportError:
    rbd = None

try:
    import libvirt
except ImportError:
    libvirt = None


class CephRbdError(Exception):
    """Base error; its message is written for an operator."""

    def __init__(self, msg: str, **details: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.details = details

    def __str__(self) -> str:
        return self.msg


class InvalidInputError(CephRbdError):
    """A parameter is malformed or contradicts another one."""


class NotFoundError(CephRbdError):
    """A pool, image, snapshot, domain, secret ... does not exist."""


class AlreadyExistsError(CephRbdError):
    """Something exists that must not (e.g. a secret UUID used for another usage)."""


class InUseError(CephRbdError):
    """The object is held: watchers, lock owners, clone children, running domains."""


class UnreachableError(CephRbdError):
    """The cluster or libvirt daemon cannot be reached in time."""


class PermissionDeniedError(CephRbdError):
    """Authentication failed or the cephx user lacks capabilities."""


class NoSpaceError(CephRbdError):
    """A pool quota was reached or the cluster is full."""


class ClusterError(CephRbdError):
    """Any other error reported by Ceph."""


class LibvirtError(CephRbdError):
    """Any other error reported by libvirt."""


_ERRNO_CLASSES = {
    errno.ENOENT: NotFoundError,
    errno.EEXIST: AlreadyExistsError,
    errno.EBUSY: InUseError,
    errno.ENOTEMPTY: InUseError,
    errno.EPERM: PermissionDeniedError,
    errno.EACCES: PermissionDeniedError,
    errno.EINVAL: InvalidInputError,
    errno.ERANGE: InvalidInputError,
    errno.ETIMEDOUT: UnreachableError,
    errno.EINTR: UnreachableError,
    errno.ENOSPC: NoSpaceError,
    errno.EDQUOT: NoSpaceError,
}


def error_for_errno(code: int, msg: str, **details: Any) -> CephRbdError:
    """Return the collection error matching a (positive or negative) errno."""
    cls = _ERRNO_CLASSES.get(abs(code or 0), ClusterError)
    return cls(msg, errno=abs(code or 0), **details)


def _binding_errno(exc: Exception) -> int:
    code = getattr(exc, "errno", None)
    return abs(code) if isinstance(code, int) else 0


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


def translate_binding_error(exc: Exception, context: str) -> CephRbdError:
    """Map one rados/rbd/libvirt exception to the collection's error.

    ``context`` says what was being done ("open pool 'rbd'"); it starts the message.
    """
    if isinstance(exc, CephRbdError):
        return exc
    if libvirt is not None and isinstance(exc, libvirt.libvirtError):
        return translate_libvirt_error(exc, context)
    code = _binding_errno(exc)
    text = _describe(exc)
    timeout_types = tuple(
        t for t in (
            getattr(rados, "TimedOut", None),
            getattr(rados, "InterruptedOrTimeoutError", None),
            getattr(rbd, "Timeout", None),
        ) if t is not None
    )
    if timeout_types and isinstance(exc, timeout_types):
        return UnreachableError(f"{context}: timed out ({text})", errno=errno.ETIMEDOUT)
    if code == errno.ENOSPC or code == errno.EDQUOT:
        return NoSpaceError(
            f"{context}: no space: the pool's quota is reached or the cluster is full ({text})",
            errno=code,
        )
    if code in (errno.EPERM, errno.EACCES):
        return PermissionDeniedError(
            f"{context}: permission denied: check the cephx user, its key and its caps ({text})",
            errno=code,
        )
    return error_for_errno(code, f"{context}: {text}")


def translate_libvirt_error(exc: Exception, context: str) -> CephRbdError:
    """Map a ``libvirt.libvirtError`` to the collection's error."""
    code = exc.get_error_code() if hasattr(exc, "get_error_code") else None
    text = (exc.get_error_message() if hasattr(exc, "get_error_message") else None) or str(exc)
    if libvirt is None or code is None:
        return LibvirtError(f"{context}: {text}")
    not_found = {
        getattr(libvirt, name)
        for name in ("VIR_ERR_NO_DOMAIN", "VIR_ERR_NO_SECRET", "VIR_ERR_NO_STORAGE_POOL")
        if hasattr(libvirt, name)
    }
    unreachable = {
        getattr(libvirt, name)
        for name in ("VIR_ERR_NO_CONNECT", "VIR_ERR_SYSTEM_ERROR", "VIR_ERR_RPC")
        if hasattr(libvirt, name)
    }
    if code in not_found:
        return NotFoundError(f"{context}: {text}", libvirt_error_code=code)
    if code in unreachable:
        return UnreachableError(f"{context}: libvirt is not reachable: {text}", libvirt_error_code=code)
    if code == getattr(libvirt, "VIR_ERR_OPERATION_INVALID", None):
        return InUseError(f"{context}: {text}", libvirt_error_code=code)
    return LibvirtError(f"{context}: {text}", libvirt_error_code=code)


def _binding_error_types() -> tuple:
    types = []
    for mod, name in ((rados, "Error"), (rbd, "Error"), (libvirt, "libvirtError")):
        if mod is not None and hasattr(mod, name):
            types.append(getattr(mod, name))
    return tuple(types)


@contextmanager
def translated_errors(context: str) -> Iterator[None]:
    """Run a block and turn any binding exception into the collection's error."""
    binding_errors = _binding_error_types()
    try:
        yield
    except CephRbdError:
        raise
    except binding_errors as exc:  # pylint: disable=catching-non-exception
        raise translate_binding_error(exc, context) from exc


# The task's deadline (``deadline.Deadline``), shared by every binding call and mon/mgr
# command of the task: set once by the connection that opens the cluster
# (``ceph_connection.open_cluster``); a module process runs one task.
_TASK_DEADLINE: list[Any] = [None]


def set_task_deadline(deadline: Any) -> None:
    """Make ``deadline`` the one every binding call of this task checks and feeds."""
    _TASK_DEADLINE[0] = deadline


def task_deadline() -> Any:
    """The task's deadline, or None before a cluster was opened."""
    return _TASK_DEADLINE[0]


@contextmanager
def explaining_failure() -> Iterator[None]:
    """Calls that explain a failure (ask the monitors why) are no new work: a spent deadline
    does not hold them back."""
    deadline = _TASK_DEADLINE[0]
    if deadline is None:
        yield
        return
    with deadline.explaining():
        yield


class _Raise:
    """Marker: a binding call whose "not found" is an error like any other."""

    def __repr__(self) -> str:
        return "RAISE"


RAISE = _Raise()


def binding_call(context: str | Callable[[dict[str, Any]], str], not_found: Any = RAISE,
                 shares_deadline: bool = True) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Declare, once per binding call, how its exceptions become the collection's errors.

    ``context`` says what the call does; it is formatted with the call's arguments by
    name (``"open image {name}"``), or is a function of the arguments (by name) that
    returns the text, and starts the message. When the binding reports
    "not found" the call returns ``not_found`` (e.g. ``None``), unless it is ``RAISE``.
    Every other rados/rbd/libvirt exception is translated (:func:`translate_binding_error`);
    the collection's own errors pass through. The arguments are only formatted on failure.
    Every call shares the task's deadline (:func:`set_task_deadline`): a timeout is noted in
    it, and once one was noted and the deadline is spent no further call starts (unless
    ``shares_deadline`` is false: a call with a short timeout of its own that explains one).
    """
    def decorate(func: Callable[..., T]) -> Callable[..., T]:
        binding_errors = _binding_error_types()
        signature = inspect.signature(func)

        def described(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            return _format_context(context, bound.arguments)

        @functools.wraps(func)
        def call(*args: Any, **kwargs: Any) -> T:
            deadline = _TASK_DEADLINE[0] if shares_deadline else None
            if deadline is not None and deadline.blocks():
                deadline.check(described(args, kwargs))
            try:
                return func(*args, **kwargs)
            except CephRbdError as error:
                if deadline is not None:
                    deadline.note(error)
                raise
            except binding_errors as exc:  # pylint: disable=catching-non-exception
                error = translate_binding_error(exc, described(args, kwargs))
                if isinstance(error, NotFoundError) and not_found is not RAISE:
                    return not_found
                if deadline is not None:
                    deadline.note(error)
                raise error from exc

        return call

    return decorate


def _format_context(context: str | Callable[[dict[str, Any]], str], arguments: dict[str, Any]) -> str:
    try:
        return context(arguments) if callable(context) else context.format(**arguments)
    except Exception:  # pylint: disable=broad-except
        return context if isinstance(context, str) else "call libvirt or Ceph"


def _version(read: Callable[[], Any]) -> str | None:
    try:
        value = read()
    except Exception:  # pylint: disable=broad-except
        return None
    if isinstance(value, tuple):
        return ".".join(str(part) for part in value)
    if isinstance(value, int):  # libvirt: major * 1000000 + minor * 1000 + release
        return f"{value // 1000000}.{value // 1000 % 1000}.{value % 1000}"
    return str(value)


def library_versions() -> dict[str, str | None]:
    """Versions of librados, librbd and libvirt as loaded (None when not installed)."""
    return {
        "librados": _version(lambda: rados.Rados.version(None)) if rados else None,
        "librbd": _version(lambda: rbd.RBD().version()) if rbd else None,
        "libvirt": _version(libvirt.getVersion) if libvirt else None,
    }
