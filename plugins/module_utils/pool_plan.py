# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure planning for rbd_pool: desired settings, checks, and the ordered list of changes.

Nothing here talks to the cluster. The module reads the current pool (a dict from
:func:`pools.describe_pool`, or None), the CRUSH rules, the erasure-code profile and
the monitors' pool defaults, and these functions decide what to do. Each change is a
typed change of ``pool_changes`` that predicts what it does to a pool dict the way Ceph
does, so check mode reports exactly the state an apply leaves.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    InUseError,
    InvalidInputError,
    NotFoundError,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.pool_changes import (  # noqa: F401 pylint: disable=unused-import
    CreateNamespace,
    CreatePool,
    DisableApplication,
    EnableApplication,
    InitRbd,
    PoolChange,
    SetQuota,
    SetVariable,
    default_min_size,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.validation import (
    parse_size,
    positive_int,
    validate_name,
)

# Pool settings changed with `osd pool set <var>`, in the order they are applied.
# size comes before min_size because Ceph resets min_size whenever size changes.
SET_VARIABLES = (
    "crush_rule",
    "size",
    "min_size",
    "pg_num",
    "pgp_num",
    "pg_autoscale_mode",
    "target_size_ratio",
    "compression_mode",
    "compression_algorithm",
    "allow_ec_overwrites",
)

# Usage counters move on their own; they are returned but left out of the diff.
USAGE_KEYS = ("stored_bytes", "used_bytes", "objects", "max_avail_bytes", "percent_used")

QUOTA_FIELDS = {"quota_max_bytes": "max_bytes", "quota_max_objects": "max_objects"}

# Type codes of pools and of CRUSH rules (the same numbers for both).

RATIO_TOLERANCE = 1e-6

NAMESPACES_NEED_REPLICATED = (
    "RBD namespaces keep their metadata in omap, which erasure-coded pools lack: create them in the "
    "replicated pool that holds the images' metadata"
)


def _non_negative_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(f"{what} must be 0 or a positive integer, got {value!r}")
    return value


def desired_pool(params: dict[str, Any]) -> dict[str, Any]:
    """The settings the user asked for (unset options left out), validated and normalised.

    Raises InvalidInputError for anything malformed or self-contradicting.
    """
    validate_name(params.get("name"), "pool name")
    wanted: dict[str, Any] = {}
    for key in ("pool_type", "pg_autoscale_mode", "compression_mode", "compression_algorithm",
                "allow_ec_overwrites"):
        if params.get(key) is not None:
            wanted[key] = params[key]
    for key in ("size", "min_size", "pg_num", "pgp_num"):
        if params.get(key) is not None:
            wanted[key] = positive_int(params[key], key)
    if "pgp_num" in wanted and "pg_num" in wanted and wanted["pgp_num"] > wanted["pg_num"]:
        raise InvalidInputError(f"pgp_num ({wanted['pgp_num']}) must not be greater than pg_num ({wanted['pg_num']})")
    if "min_size" in wanted and "size" in wanted and wanted["min_size"] > wanted["size"]:
        raise InvalidInputError(f"min_size ({wanted['min_size']}) must not be greater than size ({wanted['size']})")
    if params.get("target_size_ratio") is not None:
        ratio = float(params["target_size_ratio"])
        if ratio < 0:
            raise InvalidInputError(f"target_size_ratio must not be negative, got {ratio}")
        wanted["target_size_ratio"] = ratio
    if params.get("crush_rule") is not None:
        wanted["crush_rule"] = validate_name(params["crush_rule"], "crush_rule")
    if params.get("erasure_profile") is not None:
        wanted["erasure_profile"] = validate_name(params["erasure_profile"], "erasure_profile")
    if params.get("quota_max_bytes") is not None:
        wanted["quota_max_bytes"] = parse_size(params["quota_max_bytes"], "quota_max_bytes")
    if params.get("quota_max_objects") is not None:
        wanted["quota_max_objects"] = _non_negative_int(params["quota_max_objects"], "quota_max_objects")
    wanted["application"] = validate_name(params.get("application") or "rbd", "application")
    wanted["init"] = bool(params.get("init", True))
    if params.get("namespaces") is not None:
        wanted["namespaces"] = sorted({validate_name(ns, "namespace") for ns in params["namespaces"]})
        if wanted["application"] != "rbd":
            raise InvalidInputError("namespaces are RBD namespaces: they need application 'rbd'")
    _check_erasure_options(params, wanted)
    return wanted


def _check_erasure_options(params: dict[str, Any], wanted: dict[str, Any]) -> None:
    profile_keys = [k for k in ("erasure_k", "erasure_m", "erasure_failure_domain") if params.get(k) is not None]
    is_erasure = wanted.get("pool_type") == "erasure"
    for key in ["erasure_profile"] + profile_keys:
        if key in params and params[key] is not None and not is_erasure:
            raise InvalidInputError(f"{key} needs pool_type 'erasure'")
    if profile_keys and "erasure_profile" not in wanted:
        raise InvalidInputError(f"{', '.join(profile_keys)} describe a profile: also name it with erasure_profile")
    if wanted.get("allow_ec_overwrites") and wanted.get("pool_type") == "replicated":
        raise InvalidInputError("allow_ec_overwrites applies to erasure-coded pools only")
    if is_erasure and wanted.get("namespaces"):
        raise InvalidInputError(NAMESPACES_NEED_REPLICATED)
    if is_erasure and wanted.get("size") is not None:
        raise InvalidInputError("size of an erasure-coded pool is k+m of its erasure-code profile; do not set size")
    if params.get("erasure_k") is not None:
        positive_int(params["erasure_k"], "erasure_k")
    if params.get("erasure_m") is not None:
        positive_int(params["erasure_m"], "erasure_m")


def wanted_profile(params: dict[str, Any]) -> dict[str, Any]:
    """The erasure-code profile settings the user gave (k, m, failure_domain), unset left out."""
    keys = {"erasure_k": "k", "erasure_m": "m", "erasure_failure_domain": "failure_domain"}
    return {short: params[key] for key, short in keys.items() if params.get(key) is not None}


def check_profile(name: str, existing: dict[str, Any] | None, given: dict[str, Any]) -> dict[str, Any] | None:
    """Decide about an erasure-code profile: None to use the existing one, or the one to create.

    An existing profile is never changed: settings that differ are an error.
    """
    if existing is not None:
        different = {key: (existing.get(key), value) for key, value in given.items() if existing.get(key) != value}
        if different:
            wrong = ", ".join(f"{key} is {old} not {new}" for key, (old, new) in sorted(different.items()))
            raise InvalidInputError(
                f"erasure-code profile {name!r} exists with other settings ({wrong}); profiles are never "
                "changed (pools use them): choose another profile name"
            )
        return None
    if "k" not in given or "m" not in given:
        raise NotFoundError(
            f"erasure-code profile {name!r} does not exist: give erasure_k and erasure_m "
            "(and erasure_failure_domain) to create it"
        )
    return {"name": name, "k": given["k"], "m": given["m"], "failure_domain": given.get("failure_domain", "host")}


def check_erasure_min_size(wanted: dict[str, Any], profile: dict[str, Any]) -> None:
    """An erasure-coded pool's min_size must lie between k and k+m of its profile."""
    min_size = wanted.get("min_size")
    k, m = profile.get("k"), profile.get("m")
    if min_size is None or k is None or m is None:
        return
    if not k <= min_size <= k + m:
        raise InvalidInputError(
            f"min_size ({min_size}) of an erasure-coded pool with k={k}, m={m} must be between {k} and {k + m}"
        )


def check_rule(rule_name: str, rules: dict[str, dict[str, Any]], pool_type: str) -> None:
    """Refuse an unknown CRUSH rule or one of the wrong kind for the pool."""
    rule = rules.get(rule_name)
    if rule is None:
        known = ", ".join(sorted(rules)) or "none"
        raise NotFoundError(f"CRUSH rule {rule_name!r} does not exist (rules: {known})")
    if rule["type"] != pool_type:
        raise InvalidInputError(
            f"CRUSH rule {rule_name!r} is for {rule['type']} pools; a {pool_type} pool needs a {pool_type} rule"
        )


def check_existing(name: str, wanted: dict[str, Any], current: dict[str, Any]) -> None:
    """Refuse what an existing pool cannot become."""
    if wanted.get("pool_type") not in (None, current["type"]):
        raise InvalidInputError(
            f"pool {name!r} is {current['type']}; pool_type cannot be changed to {wanted['pool_type']} "
            "(create a new pool and move the images)"
        )
    if wanted.get("erasure_profile") not in (None, current["erasure_profile"]):
        raise InvalidInputError(
            f"pool {name!r} uses erasure-code profile {current['erasure_profile']!r}; the profile of an "
            f"existing pool cannot be changed to {wanted['erasure_profile']!r}"
        )
    if current["type"] == "erasure" and wanted.get("size") is not None:
        raise InvalidInputError("size of an erasure-coded pool is k+m of its erasure-code profile; do not set size")
    if current["type"] == "erasure" and wanted.get("namespaces"):
        raise InvalidInputError(NAMESPACES_NEED_REPLICATED)
    if current["type"] == "replicated" and wanted.get("allow_ec_overwrites"):
        raise InvalidInputError("allow_ec_overwrites applies to erasure-coded pools only")
    if current["allow_ec_overwrites"] and wanted.get("allow_ec_overwrites") is False:
        raise InvalidInputError(f"pool {name!r} allows EC overwrites; Ceph cannot turn them off again")
    size = wanted.get("size", current["size"])
    min_size = wanted.get("min_size")
    if min_size is not None and min_size > size:
        raise InvalidInputError(f"min_size ({min_size}) must not be greater than size ({size})")
    pg_num = wanted.get("pg_num", current["pg_num"])
    if wanted.get("pgp_num") is not None and wanted["pgp_num"] > pg_num:
        raise InvalidInputError(f"pgp_num ({wanted['pgp_num']}) must not be greater than pg_num ({pg_num})")


def creation(name: str, wanted: dict[str, Any], defaults: dict[str, Any],
             profile: dict[str, Any] | None) -> tuple[CreatePool, dict[str, Any]]:
    """The ``create`` change and the pool dict Ceph makes from it.

    ``defaults``: the monitors' osd_pool_default_* values (size, min_size, pg_num,
    pg_autoscale_mode, crush_rule as a name). ``profile``: k and m of the erasure-code
    profile an erasure-coded pool uses.
    """
    pool_type = wanted.get("pool_type", "replicated")
    pg_num = wanted.get("pg_num", defaults["pg_num"])
    args: dict[str, Any] = {"pool": name, "pool_type": pool_type, "pg_num": pg_num,
                            "pgp_num": wanted.get("pgp_num", pg_num)}
    if "pg_autoscale_mode" in wanted:
        args["autoscale_mode"] = wanted["pg_autoscale_mode"]
    if "crush_rule" in wanted:
        args["rule"] = wanted["crush_rule"]
    if pool_type == "erasure":
        args["erasure_code_profile"] = wanted.get("erasure_profile", "default")
        size = profile["k"] + profile["m"]
        min_size = profile["k"] + min(1, profile["m"] - 1)
        # Ceph makes an erasure rule named after the pool when none is given.
        rule = wanted.get("crush_rule", name)
    else:
        if "size" in wanted:
            args["size"] = wanted["size"]
        size = wanted.get("size", defaults["size"])
        min_size = default_min_size(size, defaults["min_size"])
        rule = wanted.get("crush_rule", defaults["crush_rule"])
    state = {
        "name": name, "id": None, "type": pool_type, "size": size, "min_size": min_size,
        "pg_num": pg_num, "pgp_num": args["pgp_num"],
        "pg_autoscale_mode": wanted.get("pg_autoscale_mode", defaults["pg_autoscale_mode"]),
        "target_size_ratio": 0.0, "crush_rule": rule,
        "erasure_profile": args.get("erasure_code_profile"), "allow_ec_overwrites": False,
        "compression_mode": "none", "compression_algorithm": None, "applications": [],
        "quota_max_bytes": 0, "quota_max_objects": 0, "namespaces": [], "rbd_initialized": False,
        "stored_bytes": 0, "used_bytes": 0, "objects": 0, "max_avail_bytes": None, "percent_used": 0.0,
    }
    return CreatePool(args=args), state


def _differs(key: str, current: Any, wanted: Any) -> bool:
    if key == "target_size_ratio":
        return abs(float(current or 0.0) - wanted) > RATIO_TOLERANCE
    return current != wanted


def plan_changes(current: dict[str, Any], wanted: dict[str, Any], defaults: dict[str, Any]) -> list[PoolChange]:
    """Ordered changes that take an existing pool (or the predicted new one) to ``wanted``.

    Only options present in ``wanted`` are compared: unset options never change.
    """
    changes: list[PoolChange] = []
    state = dict(current)
    for var in SET_VARIABLES:
        if var in wanted and _differs(var, state.get(var), wanted[var]):
            change = SetVariable(var=var, value=wanted[var])
            changes.append(change)
            change.predict(state, defaults)
    app = wanted["application"]
    if app not in state["applications"]:
        changes.append(EnableApplication(application=app))
    for other in state["applications"]:
        if other != app:
            changes.append(DisableApplication(application=other))
    if wanted["init"] and app == "rbd" and not state["rbd_initialized"]:
        changes.append(InitRbd())
    for key, field in QUOTA_FIELDS.items():
        if key in wanted and state[key] != wanted[key]:
            changes.append(SetQuota(field=field, value=wanted[key]))
    for namespace in wanted.get("namespaces", []):
        if namespace not in state["namespaces"]:
            changes.append(CreateNamespace(namespace=namespace))
    return changes


# Settings read back after an apply to tell whether another client changed them meanwhile.
KEPT_SETTINGS = ("quota_max_bytes", "quota_max_objects", "size", "min_size")


def settings_not_kept(wanted: dict[str, Any], after: dict[str, Any] | None) -> list[str]:
    """Requested settings that the pool, read again after the apply, does not hold (pure).

    Two runs that set the same pool at once: the monitors keep the last write, and the run
    that wrote first may read the other's value back. It returns what the cluster holds
    and says so with these messages (warnings: its own writes succeeded).
    """
    if after is None:
        return []
    return [
        f"{key} is {after.get(key)!r} after this run, not the requested {wanted[key]!r}: another "
        "client changed it meanwhile (the result shows what the cluster holds); run again to converge"
        for key in KEPT_SETTINGS if key in wanted and after.get(key) != wanted[key]
    ]


def predict_all(state: dict[str, Any], changes: list[PoolChange], defaults: dict[str, Any]) -> dict[str, Any]:
    """The pool dict after every change in order (``state`` is left as it is)."""
    state = dict(state)
    for change in changes:
        change.predict(state, defaults)
    return state


def settings_view(pool: dict[str, Any] | None) -> dict[str, Any]:
    """The pool dict without usage counters, for the diff ({} when there is no pool)."""
    if pool is None:
        return {}
    return {key: value for key, value in pool.items() if key not in USAGE_KEYS}


def refuse_deleting_contents(name: str, contents: dict[str, Any], limit: int) -> None:
    """Raise InUseError naming what a pool holds (``pools.pool_contents``), if anything."""
    held = []
    if contents["images"]:
        shown = ", ".join(contents["images"][:10]) + (", ..." if len(contents["images"]) > 10 else "")
        held.append(f"{len(contents['images'])} RBD image(s) ({shown})")
    if contents["objects"]:
        more = " or more" if contents["objects"] >= limit else ""
        held.append(f"{contents['objects']}{more} object(s)")
    if held:
        raise InUseError(
            f"pool {name!r} holds {' and '.join(held)}; not deleted. Set force: true to delete it "
            "with everything in it",
            **contents,
        )
