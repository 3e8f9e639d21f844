# SPDX-License-Identifier: GPL-3.0-or-later
"""Read and set up the real cluster's state from tests (admin librados connection)."""

from __future__ import annotations

import json
from typing import Any


def mon(ceph, prefix: str, **args: Any) -> Any:
    """Run a mon command as admin; raise on failure; return parsed JSON or None."""
    cmd = {"prefix": prefix, "format": "json"}
    cmd.update(args)
    ret, out, errs = ceph.mon_command(json.dumps(cmd), b"")
    if ret != 0:
        raise RuntimeError(f"{prefix}: {ret} {errs}")
    return json.loads(out) if out.strip() else None


def pool_detail(ceph, name: str) -> dict[str, Any] | None:
    for pool in mon(ceph, "osd pool ls", detail="detail"):
        if pool["pool_name"] == name:
            return pool
    return None


def create_pool(ceph, name: str, pg_num: int = 8, rbd: bool = True) -> None:
    mon(ceph, "osd pool create", pool=name, pg_num=pg_num, pgp_num=pg_num)
    if rbd:
        mon(ceph, "osd pool application enable", pool=name, app="rbd")


def delete_pool(ceph, name: str) -> None:
    if pool_detail(ceph, name) is not None:
        mon(ceph, "osd pool delete", pool=name, pool2=name, yes_i_really_really_mean_it=True)
