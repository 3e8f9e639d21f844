# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one way every module runs and fails.

A module builds its ``AnsibleModule`` and hands its service function to
:func:`run_module`, which checks the bindings the module needs, runs the service
and turns the outcome into the keyword arguments of ``exit_json`` or ``fail_json``:

- a collection error (:class:`CephRbdError`) becomes its message and details, with
  ``changed: true`` when the error says that something was already done (its ``done``
  list, or ``changed=True``);
- any other exception becomes a readable message, its traceback in ``exception`` and
  the versions of the libraries involved in ``versions`` (for a bug report).

It never calls ``fail_json`` itself (module_utils never does): the module does, in one line.
"""

from __future__ import annotations

import traceback
from typing import Any, Callable

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import (
    RADOS_IMPORT_ERROR,
    RADOS_LIBRARY,
    RBD_IMPORT_ERROR,
    RBD_LIBRARY,
    forget_blank_secrets,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import CephRbdError, library_versions
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_connection import (
    LIBVIRT_IMPORT_ERROR,
    LIBVIRT_LIBRARY,
)

# The bindings a module needs, by family.
CEPH = ("rados", "rbd")
RADOS = ("rados",)
LIBVIRT = ("libvirt",)

_BINDINGS = {
    "rados": (RADOS_LIBRARY, RADOS_IMPORT_ERROR),
    "rbd": (RBD_LIBRARY, RBD_IMPORT_ERROR),
    "libvirt": (LIBVIRT_LIBRARY, LIBVIRT_IMPORT_ERROR),
}

Service = Callable[[Any], dict[str, Any]]


def missing_binding(needed: tuple[str, ...]) -> tuple[str, str] | None:
    """(library description, import traceback) of the first missing binding, or None."""
    for name in needed:
        library, import_error = _BINDINGS[name]
        if import_error:
            return library, import_error
    return None


def failure_result(error: CephRbdError) -> dict[str, Any]:
    """``fail_json`` arguments for a collection error: changed when something was already done."""
    details = dict(error.details)
    changed = bool(details.pop("changed", False)) or bool(details.get("done"))
    return dict(details, msg=str(error), changed=changed)


def unexpected_failure_result(error: BaseException, trace: str,
                              versions: dict[str, str | None]) -> dict[str, Any]:
    """``fail_json`` arguments for an exception the collection did not expect (a bug)."""
    loaded = ", ".join(f"{name} {version}" for name, version in versions.items() if version) or "none"
    return {
        "msg": (f"unexpected error {type(error).__name__}: {str(error) or 'no message'} "
                f"(a bug of the collection: please report it with the traceback in 'exception'; "
                f"libraries: {loaded})"),
        "exception": trace,
        "versions": versions,
        "changed": False,
    }


def run_module(module: Any, service: Service, bindings: tuple[str, ...] = CEPH) -> tuple[bool, dict[str, Any]]:
    """Run ``service(module)``; return (failed, keyword arguments for exit_json or fail_json).

    The module ends with ``(module.fail_json if failed else module.exit_json)(**result)``.
    Blank ``no_log`` values are not masked (:func:`forget_blank_secrets`), for every module.
    """
    forget_blank_secrets(module)
    missing = missing_binding(bindings)
    if missing:
        return True, {"msg": missing_required_lib(missing[0]), "exception": missing[1]}
    try:
        return False, service(module)
    except CephRbdError as error:
        return True, failure_result(error)
    except Exception as error:  # pylint: disable=broad-except
        return True, unexpected_failure_result(error, traceback.format_exc(), library_versions())
