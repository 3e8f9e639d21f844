# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import errno

import pytest

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils import errors

rados = pytest.importorskip("rados")
rbd = pytest.importorskip("rbd")


@pytest.mark.parametrize("exc, cls", [
    (rbd.ImageNotFound("x", errno=errno.ENOENT), errors.NotFoundError),
    (rbd.ImageBusy("x", errno=errno.EBUSY), errors.InUseError),
    (rbd.ImageHasSnapshots("x", errno=errno.ENOTEMPTY), errors.InUseError),
    (rados.PermissionDeniedError("x", errno=errno.EACCES), errors.PermissionDeniedError),
    (rados.TimedOut("x", errno=errno.ETIMEDOUT), errors.UnreachableError),
    (rados.NoSpace("x", errno=errno.ENOSPC), errors.NoSpaceError),
    (rbd.DiskQuotaExceeded("x", errno=errno.EDQUOT), errors.NoSpaceError),
    (rbd.InvalidArgument("x", errno=errno.EINVAL), errors.InvalidInputError),
    (rados.Error("odd"), errors.ClusterError),
])
def test_binding_exceptions_map_to_collection_errors(exc, cls):
    mapped = errors.translate_binding_error(exc, "do something")
    assert isinstance(mapped, cls) and mapped.__class__.__name__ == cls.__name__
    assert str(mapped).startswith("do something")


def test_translated_errors_reraises_with_context_and_keeps_collection_errors():
    with pytest.raises(errors.NotFoundError, match="open image 'a'"):
        with errors.translated_errors("open image 'a'"):
            raise rbd.ImageNotFound("gone", errno=errno.ENOENT)
    with pytest.raises(errors.InUseError, match="as is"):
        with errors.translated_errors("ignored"):
            raise errors.InUseError("as is")


def test_mon_command_errno_maps_by_value():
    assert isinstance(errors.error_for_errno(-errno.ENOENT, "m"), errors.NotFoundError)
    assert isinstance(errors.error_for_errno(-errno.EPERM, "m"), errors.PermissionDeniedError)
    assert isinstance(errors.error_for_errno(-999, "m"), errors.ClusterError)
    assert errors.error_for_errno(-errno.EBUSY, "m").details == {"errno": errno.EBUSY}


@errors.binding_call("open image {name} in {pool}", not_found=None)
def _open_or_none(pool, name, exc=None):
    if exc is not None:
        raise exc
    return f"{pool}/{name}"


@errors.binding_call("remove image {name}")
def _remove(name, exc):
    raise exc


def test_binding_call_returns_the_value_of_a_call_that_succeeds():
    assert _open_or_none("rbd", "vol-1") == "rbd/vol-1"


def test_binding_call_turns_not_found_into_the_declared_value():
    assert _open_or_none("rbd", "vol-1", rbd.ImageNotFound("x", errno=errno.ENOENT)) is None


def test_binding_call_maps_every_other_error_naming_the_call_and_its_arguments():
    with pytest.raises(errors.InUseError, match=r"^open image vol-1 in rbd: "):
        _open_or_none("rbd", "vol-1", exc=rbd.ImageBusy("busy", errno=errno.EBUSY))


def test_binding_call_raises_not_found_when_no_value_is_declared():
    with pytest.raises(errors.NotFoundError, match=r"^remove image vol-2: "):
        _remove("vol-2", rbd.ImageNotFound("x", errno=errno.ENOENT))


def test_binding_call_lets_the_collections_own_errors_and_other_exceptions_through():
    with pytest.raises(errors.InvalidInputError, match="^bad$"):
        _remove("vol-2", errors.InvalidInputError("bad"))
    with pytest.raises(KeyError):
        _remove("vol-2", KeyError("k"))
