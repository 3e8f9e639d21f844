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
