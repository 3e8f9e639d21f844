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


# --- rbd_pool / ceph_crush_rule (helper "pool") -------------------------------------------

POOL_SETTING_KEYS = ("pool_id", "type", "size", "min_size", "crush_rule", "pg_num_target",
                     "pg_placement_num_target", "pg_autoscale_mode", "erasure_code_profile",
                     "application_metadata", "quota_max_bytes", "quota_max_objects", "options")


def pool_settings(ceph, name: str) -> dict[str, Any] | None:
    """The settings part of a pool's `osd pool ls detail` entry (no counters, no epochs)."""
    detail = pool_detail(ceph, name)
    if detail is None:
        return None
    return {key: detail.get(key) for key in POOL_SETTING_KEYS}


def crush_rule(ceph, name: str) -> dict[str, Any] | None:
    for rule in mon(ceph, "osd crush rule dump"):
        if rule["rule_name"] == name:
            return rule
    return None


def erasure_profile(ceph, name: str) -> dict[str, Any] | None:
    if name not in mon(ceph, "osd erasure-code-profile ls"):
        return None
    return mon(ceph, "osd erasure-code-profile get", name=name)


def remove_crush_rule(ceph, name: str) -> None:
    if crush_rule(ceph, name) is not None:
        mon(ceph, "osd crush rule rm", name=name)


def remove_erasure_profile(ceph, name: str) -> None:
    if erasure_profile(ceph, name) is not None:
        mon(ceph, "osd erasure-code-profile rm", name=name)


def set_device_class(ceph, osd_ids: list[int], device_class: str) -> None:
    """Give OSDs another device class (what makes an SSD tier in a test)."""
    names = [f"osd.{osd}" for osd in osd_ids]
    mon(ceph, "osd crush rm-device-class", ids=names)
    mon(ceph, "osd crush set-device-class", **{"class": device_class, "ids": names})


def device_class_of(ceph, osd_id: int) -> str:
    return mon(ceph, "osd crush get-device-class", ids=[f"osd.{osd_id}"])[0]["device_class"]


def rbd_namespaces(ceph, pool: str) -> list[str]:
    import rbd  # pylint: disable=import-outside-toplevel

    with ceph.open_ioctx(pool) as ioctx:
        return sorted(rbd.RBD().namespace_list(ioctx))


def create_image(ceph, pool: str, name: str, namespace: str = "", size: int = 4 << 20) -> None:
    import rbd  # pylint: disable=import-outside-toplevel

    with ceph.open_ioctx(pool) as ioctx:
        ioctx.set_namespace(namespace)
        rbd.RBD().create(ioctx, name, size)


def set_monitor_option(ceph, name: str, value: str) -> None:
    """Change an option in the running monitors (beats ceph.conf; gone when they restart)."""
    leader = mon(ceph, "quorum_status")["quorum_leader_name"]
    cmd = {"prefix": "injectargs", "injected_args": [f"--{name}={value}"]}
    ret, _out, errs = ceph.mon_command(json.dumps(cmd), b"", target=leader)
    if ret != 0:
        raise RuntimeError(f"injectargs {name}: {ret} {errs}")
