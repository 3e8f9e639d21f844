# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure logic of rbd_image: requests, desired state, plans and predictions (no bindings).

A *request* is one image's validated options (:func:`normalize_request`); an
*image* is the collection's image dict (see ``images.describe_image``); a *plan*
is the ordered list of changes that turns the current image into the request
(:func:`plan_image`), and :func:`predict_image` is the image after the plan,
which check mode returns.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InUseError, InvalidInputError
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.rbd_common import image_spec, parse_image_spec
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.validation import (
    format_size,
    parse_positive_size,
    parse_size,
    positive_int,
    refuse_nul,
    validate_name,
)

# librbd's feature bits (include/rbd/features.h); stable across releases.
FEATURE_BITS = {
    "layering": 1,
    "striping": 2,
    "exclusive-lock": 4,
    "object-map": 8,
    "fast-diff": 16,
    "deep-flatten": 32,
    "journaling": 64,
    "data-pool": 128,
    "operations": 256,
    "migrating": 512,
    "non-primary": 1024,
}
# Features a user chooses; striping and data-pool follow from stripe_* and data_pool.
SELECTABLE_FEATURES = ("layering", "exclusive-lock", "object-map", "fast-diff", "deep-flatten", "journaling")
# Features librbd can enable and disable on an existing image, in enabling order.
MUTABLE_FEATURES = ("exclusive-lock", "journaling", "object-map", "fast-diff")
# A feature needs the one it maps to.
FEATURE_NEEDS = {"object-map": "exclusive-lock", "fast-diff": "object-map", "journaling": "exclusive-lock"}
DEFAULT_FEATURES = ("layering", "exclusive-lock", "object-map", "fast-diff")

DEFAULT_OBJECT_SIZE = 4 * 1024 ** 2  # order 22
MIN_ORDER, MAX_ORDER = 12, 25  # 4 KiB .. 32 MiB

QOS_KEYS = tuple(
    f"{direction}{kind}_{suffix}"
    for direction in ("", "read_", "write_")
    for kind in ("iops", "bps")
    for suffix in ("limit", "burst", "burst_seconds")
)
QOS_CONFIG_PREFIX = "rbd_qos_"
# librbd stores image config overrides as metadata with this prefix.
CONFIG_METADATA_PREFIX = "conf_"

IMAGE_OPTIONS = (
    "pool", "namespace", "name", "state", "size", "allow_shrink", "features", "object_size",
    "stripe_unit", "stripe_count", "data_pool", "clone_from", "flatten", "qos", "metadata",
    "trash", "force",
)
OPTION_DEFAULTS = {
    "namespace": "", "state": "present", "allow_shrink": False, "flatten": False,
    "trash": False, "force": False,
}


# ---------------------------------------------------------------- features

def feature_names(bits: int) -> list[str]:
    """Names of the feature bits set in ``bits`` (unknown bits as 'bit-N')."""
    names = [name for name, bit in FEATURE_BITS.items() if bits & bit]
    known = sum(FEATURE_BITS.values())
    names += [f"bit-{n}" for n in range(64) if bits & ~known & (1 << n)]
    return sorted(names)


def feature_bits(names: list[str]) -> int:
    """The bitmask of feature names (already validated)."""
    bits = 0
    for name in names:
        bits |= FEATURE_BITS[name]
    return bits


def validate_features(features: Any) -> list[str]:
    """Check a features list (known, selectable, dependencies met); return it sorted."""
    if not isinstance(features, list):
        raise InvalidInputError(f"features must be a list of feature names, got {features!r}")
    wanted = []
    for name in features:
        if name not in FEATURE_BITS:
            raise InvalidInputError(
                f"unknown feature {name!r}: choose from {', '.join(SELECTABLE_FEATURES)}"
            )
        if name not in SELECTABLE_FEATURES:
            hint = "set stripe_unit/stripe_count" if name == "striping" else (
                "set data_pool" if name == "data-pool" else "librbd manages it")
            raise InvalidInputError(f"feature {name!r} cannot be requested directly: {hint}")
        if name not in wanted:
            wanted.append(name)
    for name in wanted:
        need = FEATURE_NEEDS.get(name)
        if need and need not in wanted:
            raise InvalidInputError(f"feature {name!r} needs {need!r}: add it to features")
    if "object-map" in wanted and "fast-diff" not in wanted:
        raise InvalidInputError(
            "feature 'object-map' goes with 'fast-diff' (librbd enables fast-diff along with the object "
            "map and disables both together): add 'fast-diff' to features"
        )
    return sorted(wanted)


def feature_changes(current: list[str], wanted: list[str]) -> tuple[list[str], list[str]]:
    """(enable, disable) lists in an order librbd accepts; refuse immutable changes.

    Only selectable features are compared: striping and data-pool follow the layout.
    """
    have = [f for f in current if f in SELECTABLE_FEATURES]
    enable = [f for f in MUTABLE_FEATURES + SELECTABLE_FEATURES if f in wanted and f not in have]
    disable = [f for f in reversed(MUTABLE_FEATURES + ("deep-flatten", "layering"))
               if f in have and f not in wanted]
    enable = list(dict.fromkeys(enable))
    for name in enable:
        if name not in MUTABLE_FEATURES:
            raise InvalidInputError(
                f"feature {name!r} cannot be enabled on an existing image "
                f"(librbd can change only {', '.join(MUTABLE_FEATURES)}; deep-flatten can only be disabled)"
            )
    for name in disable:
        if name not in MUTABLE_FEATURES + ("deep-flatten",):
            raise InvalidInputError(
                f"feature {name!r} cannot be disabled on an existing image "
                f"(librbd can change only {', '.join(MUTABLE_FEATURES)}; deep-flatten can only be disabled)"
            )
    return enable, disable


# ---------------------------------------------------------------- qos and metadata

def normalize_qos(qos: Any) -> dict[str, int] | None:
    """Validate a qos dict: known keys, whole non-negative numbers (bps keys take sizes)."""
    if qos is None:
        return None
    if not isinstance(qos, dict):
        raise InvalidInputError(f"qos must be a dict of QoS settings, got {qos!r}")
    result = {}
    for key, value in qos.items():
        short = key[len(QOS_CONFIG_PREFIX):] if key.startswith(QOS_CONFIG_PREFIX) else key
        if short not in QOS_KEYS:
            raise InvalidInputError(f"unknown qos setting {key!r}: choose from {', '.join(QOS_KEYS)}")
        if "bps" in short and not short.endswith("_seconds"):
            result[short] = parse_size(value, f"qos {short}")
        elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            result[short] = value
        elif isinstance(value, str) and value.isdigit():
            result[short] = int(value)
        else:
            raise InvalidInputError(f"qos {short} must be a whole number >= 0, got {value!r}")
    return result


def normalize_metadata(metadata: Any) -> dict[str, str] | None:
    """Validate a metadata dict: string keys (not the config prefix), scalar values as strings."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise InvalidInputError(f"metadata must be a dict of strings, got {metadata!r}")
    result = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not key:
            raise InvalidInputError(f"metadata keys must be non-empty strings, got {key!r}")
        if key.startswith(CONFIG_METADATA_PREFIX):
            raise InvalidInputError(
                f"metadata key {key!r} starts with {CONFIG_METADATA_PREFIX!r}, which librbd reserves "
                "for image config overrides: use the qos option for rbd_qos_* settings"
            )
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise InvalidInputError(f"metadata {key!r} must be a string or a number, got {value!r}")
        refuse_nul(key, "metadata key")
        refuse_nul(str(value), f"metadata {key!r} value")
        result[key] = str(value)
    return result


def dict_changes(current: dict[str, Any], wanted: dict[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
    """(to set, to remove) that make ``current`` equal ``wanted``; nothing when wanted is None."""
    if wanted is None:
        return {}, []
    to_set = {k: v for k, v in sorted(wanted.items()) if current.get(k) != v}
    to_remove = sorted(k for k in current if k not in wanted)
    return to_set, to_remove


def split_image_metadata(entries: list[tuple[str, str]]) -> tuple[dict[str, int], dict[str, str]]:
    """Split an image's raw metadata into (qos settings, user metadata).

    Keys ``conf_rbd_qos_*`` are QoS config overrides; other ``conf_*`` keys are
    other config overrides and belong to neither.
    """
    qos: dict[str, int] = {}
    metadata: dict[str, str] = {}
    qos_prefix = CONFIG_METADATA_PREFIX + QOS_CONFIG_PREFIX
    for key, value in entries:
        if key.startswith(qos_prefix):
            try:
                qos[key[len(qos_prefix):]] = int(value)
            except ValueError:
                qos[key[len(qos_prefix):]] = value
        elif not key.startswith(CONFIG_METADATA_PREFIX):
            metadata[key] = value
    return qos, metadata


# ---------------------------------------------------------------- requests

def merge_item(defaults: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """One batch item's options: the item's own values, else the top-level ones, else defaults."""
    merged = {}
    for option in IMAGE_OPTIONS:
        value = item.get(option)
        if value is None:
            value = defaults.get(option)
        if value is None:
            value = OPTION_DEFAULTS.get(option)
        merged[option] = value
    return merged


def parse_clone_from(value: Any) -> dict[str, Any] | None:
    """``pool[/namespace]/image@snap`` or a dict (pool, namespace, image, snapshot)."""
    if value is None:
        return None
    if isinstance(value, dict):
        unknown = set(value) - {"pool", "namespace", "image", "snapshot"}
        if unknown:
            raise InvalidInputError(
                f"clone_from has unknown keys {', '.join(sorted(unknown))}: use pool, namespace, image, snapshot"
            )
        for key in ("pool", "image", "snapshot"):
            if not value.get(key):
                raise InvalidInputError(f"clone_from needs {key!r} (pool, image and snapshot are required)")
        return {
            "pool": validate_name(value["pool"], "clone_from pool name"),
            "namespace": validate_name(value.get("namespace") or "", "clone_from namespace", allow_empty=True),
            "image": validate_name(value["image"], "clone_from image name"),
            "snapshot": validate_name(value["snapshot"], "clone_from snapshot name"),
        }
    if isinstance(value, str):
        return parse_image_spec(value, need_snapshot=True)
    raise InvalidInputError(f"clone_from must be 'pool[/namespace]/image@snapshot' or a dict, got {value!r}")


def _object_order(object_size: Any) -> int | None:
    if object_size is None:
        return None
    size = parse_positive_size(object_size, "object_size")
    order = size.bit_length() - 1
    if size != 1 << order or not MIN_ORDER <= order <= MAX_ORDER:
        raise InvalidInputError(
            f"object_size must be a power of two from 4K to 32M, got {object_size!r}"
        )
    return order


def normalize_request(options: dict[str, Any]) -> dict[str, Any]:
    """Validate one image's merged options; return the request (sizes in bytes, names checked)."""
    name = options.get("name")
    if name is None:
        raise InvalidInputError("name is required for every image")
    request = {
        "pool": validate_name(options.get("pool"), "pool name") if options.get("pool") is not None else None,
        "namespace": validate_name(options.get("namespace") or "", "namespace", allow_empty=True),
        "name": validate_name(name, "image name"),
        "state": options.get("state") or "present",
    }
    if request["pool"] is None:
        raise InvalidInputError(f"image {name!r} has no pool: set pool on the task or on the item")
    if request["state"] not in ("present", "absent"):
        raise InvalidInputError(f"state must be present or absent, got {request['state']!r}")
    order = _object_order(options.get("object_size"))
    stripe_unit = options.get("stripe_unit")
    stripe_count = options.get("stripe_count")
    request.update(
        size=parse_positive_size(options["size"], "size") if options.get("size") is not None else None,
        allow_shrink=bool(options.get("allow_shrink")),
        features=validate_features(options["features"]) if options.get("features") is not None else None,
        object_size=(1 << order) if order is not None else None,
        stripe_unit=parse_positive_size(stripe_unit, "stripe_unit") if stripe_unit is not None else None,
        stripe_count=positive_int(stripe_count, "stripe_count") if stripe_count is not None else None,
        data_pool=validate_name(options["data_pool"], "data_pool") if options.get("data_pool") else None,
        clone_from=parse_clone_from(options.get("clone_from")),
        flatten=bool(options.get("flatten")),
        qos=normalize_qos(options.get("qos")),
        metadata=normalize_metadata(options.get("metadata")),
        trash=bool(options.get("trash")),
        force=bool(options.get("force")),
    )
    _check_layout(request)
    if request["clone_from"] and request["features"] is not None and "layering" not in request["features"]:
        raise InvalidInputError("a clone needs the 'layering' feature: add it to features")
    return request


def _check_layout(request: dict[str, Any]) -> None:
    unit, count = request["stripe_unit"], request["stripe_count"]
    object_size = request["object_size"] or DEFAULT_OBJECT_SIZE
    if unit is not None and (unit > object_size or object_size % unit):
        raise InvalidInputError(
            f"stripe_unit ({format_size(unit)}) must divide object_size ({format_size(object_size)})"
        )
    if count is not None and count > 1 and unit is None:
        raise InvalidInputError("stripe_count above 1 needs stripe_unit")


def request_spec(request: dict[str, Any]) -> str:
    """``pool/[namespace/]name`` of a request."""
    return image_spec(request["pool"], request["namespace"], request["name"])


def normalize_requests(defaults: dict[str, Any], items: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Validate every item (or the single form, when items is None) before anything changes.

    Errors name the item. An empty list is a batch with nothing to do.
    """
    if items is None:
        return [normalize_request(merge_item(defaults, {}))]
    requests = []
    seen = set()
    for index, item in enumerate(items):
        label = item.get("name") if isinstance(item, dict) else None
        try:
            if not isinstance(item, dict):
                raise InvalidInputError(f"must be a dict of image options, got {item!r}")
            request = normalize_request(merge_item(defaults, item))
        except InvalidInputError as error:
            raise InvalidInputError(f"images[{index}] ({label!r}): {error}", item=label) from None
        spec = request_spec(request)
        if spec in seen:
            raise InvalidInputError(f"images[{index}]: image {spec} is listed more than once", item=label)
        seen.add(spec)
        requests.append(request)
    return requests


# ---------------------------------------------------------------- plans

def _immutable_mismatches(current: dict[str, Any], request: dict[str, Any]) -> list[str]:
    problems = []
    for key in ("object_size", "stripe_unit", "stripe_count", "data_pool"):
        if request[key] is not None and request[key] != current[key]:
            problems.append(f"{key} is {current[key]!r}, requested {request[key]!r}")
    return problems


def plan_image(current: dict[str, Any] | None, request: dict[str, Any],
               parent_size: int | None = None) -> list[dict[str, Any]]:
    """Ordered changes turning ``current`` (None when missing) into the request.

    ``parent_size`` is the size of the clone parent's snapshot when a clone is created.

    Raises InvalidInputError for what cannot be done (shrink without allow_shrink,
    immutable layout, features librbd cannot change). Deletion checks (in use,
    snapshots) need the cluster; ``deletion_plan`` plans a deletion from what they found.
    """
    spec = request_spec(request)
    if request["state"] == "absent":
        if current is None:
            return []
        return [{"action": "trash" if request["trash"] else "remove"}]
    changes: list[dict[str, Any]] = []
    if current is None:
        if request["clone_from"] is None and request["size"] is None:
            raise InvalidInputError(f"size is required to create image {spec}")
        changes.append({"action": "clone" if request["clone_from"] else "create"})
        # Size, features and layout are part of create (a clone starts at its parent's size).
        current_size = request["size"] if request["clone_from"] is None else parent_size
        current_features: list[str] = []
        current_qos: dict[str, Any] = {}
        current_metadata: dict[str, Any] = {}
        parent = request["clone_from"]
    else:
        problems = _immutable_mismatches(current, request)
        if problems:
            raise InvalidInputError(
                f"image {spec} exists with another layout, which cannot change: {'; '.join(problems)}"
            )
        current_size = current["size"]
        current_features = current["features"]
        current_qos, current_metadata, parent = current["qos"], current["metadata"], current["parent"]

    if request["size"] is not None and request["size"] != current_size:
        if current_size is not None and request["size"] < current_size and not request["allow_shrink"]:
            raise InvalidInputError(
                f"image {spec} is {format_size(current_size)}; shrinking it to {format_size(request['size'])} "
                "destroys data beyond the new end: set allow_shrink: true to do it"
            )
        changes.append({"action": "resize", "from": current_size, "to": request["size"]})

    if current is not None and request["features"] is not None:
        enable, disable = feature_changes(current_features, request["features"])
        if disable:
            changes.append({"action": "disable_features", "features": disable})
        if enable:
            changes.append({"action": "enable_features", "features": enable})

    qos_set, qos_remove = dict_changes(current_qos, request["qos"])
    if qos_set or qos_remove:
        changes.append({"action": "qos", "set": qos_set, "remove": qos_remove})
    meta_set, meta_remove = dict_changes(current_metadata, request["metadata"])
    if meta_set or meta_remove:
        changes.append({"action": "metadata", "set": meta_set, "remove": meta_remove})
    if request["flatten"] and parent is not None:
        changes.append({"action": "flatten"})
    return changes


def describe_change(spec: str, change: dict[str, Any]) -> str:
    """One line for the result's ``actions`` list."""
    action = change["action"]
    if action == "resize":
        start = format_size(change["from"]) if change["from"] is not None else "the parent's size"
        return f"{spec}: resize from {start} to {format_size(change['to'])}"
    if action in ("enable_features", "disable_features"):
        verb = "enable" if action == "enable_features" else "disable"
        return f"{spec}: {verb} features {', '.join(change['features'])}"
    if action in ("qos", "metadata"):
        parts = [f"set {', '.join(change['set'])}"] if change["set"] else []
        parts += [f"remove {', '.join(change['remove'])}"] if change["remove"] else []
        return f"{spec}: {action} {'; '.join(parts)}"
    if action == "protect_parent_snapshot":
        return f"{spec}: protect snapshot {change['snapshot']} (clone format 1)"
    if action == "remove_snapshots":
        return f"{spec}: remove snapshots {', '.join(change['snapshots'])}"
    return f"{spec}: {action}"


def predict_image(current: dict[str, Any] | None, request: dict[str, Any],
                  changes: list[dict[str, Any]], parent_image: dict[str, Any] | None = None,
                  with_watchers: bool = True) -> dict[str, Any] | None:
    """The image after the plan (what check mode reports); None when it will not exist.

    ``parent_image`` holds the clone parent snapshot's ``size`` and ``object_size`` (a clone inherits them).
    Values only the cluster knows (a new image's id) are None; so are a new image's
    watchers (none) when watchers are not reported (``with_watchers``).
    """
    if request["state"] == "absent":
        return None
    if not changes:
        return current
    if current is None:
        image = new_image_dict(request, parent_image, with_watchers)
    else:
        image = dict(current)
    for change in changes:
        action = change["action"]
        if action == "resize":
            image["size"] = image["provisioned_bytes"] = change["to"]
        elif action == "enable_features":
            image["features"] = sorted(set(image["features"]) | set(change["features"]))
        elif action == "disable_features":
            gone = set(change["features"])
            image["features"] = sorted(f for f in image["features"] if f not in gone)
        elif action in ("qos", "metadata"):
            values = {k: v for k, v in image[action].items() if k not in change["remove"]}
            values.update(change["set"])
            image[action] = dict(sorted(values.items()))
        elif action == "flatten":
            image["parent"] = None
    return image


def new_image_dict(request: dict[str, Any], parent_image: dict[str, Any] | None,
                   with_watchers: bool = True) -> dict[str, Any]:
    """The image dict a create (or clone) makes, before resize and the rest (watchers: none,
    or None when watchers are not reported)."""
    features = list(request["features"] or DEFAULT_FEATURES)
    object_size = request["object_size"] or (parent_image or {}).get("object_size") or DEFAULT_OBJECT_SIZE
    stripe_unit = request["stripe_unit"] or object_size
    stripe_count = request["stripe_count"] or 1
    if stripe_unit != object_size or stripe_count != 1:
        features.append("striping")
    if request["data_pool"]:
        features.append("data-pool")
    size = request["size"] if request["clone_from"] is None else (parent_image or {}).get("size")
    return {
        "pool": request["pool"],
        "namespace": request["namespace"],
        "name": request["name"],
        "id": None,
        "size": size,
        "features": sorted(features),
        "object_size": object_size,
        "stripe_unit": stripe_unit,
        "stripe_count": stripe_count,
        "data_pool": request["data_pool"],
        "parent": dict(request["clone_from"]) if request["clone_from"] else None,
        "snapshots": [],
        "watchers": [] if with_watchers else None,
        "provisioned_bytes": size,
        "used_bytes": None,
        "qos": {},
        "metadata": {},
    }


def deletion_blockers(spec: str, watchers: list[str], lockers: list[str], children: list[str],
                      domains: list[str] | None = None) -> str | None:
    """Why an image must not be deleted, naming who holds it; None when nothing does."""
    reasons = []
    if domains:
        reasons.append(f"used by libvirt domain(s) {', '.join(domains)} on this host (detach the disk first)")
    if watchers:
        reasons.append(f"opened by (watchers) {', '.join(watchers)}")
    if lockers:
        reasons.append(f"locked by {', '.join(lockers)}")
    if children:
        reasons.append(f"has clone children {', '.join(children)} (flatten or delete them first)")
    if not reasons:
        return None
    return f"image {spec} is in use, refusing to delete it: {'; '.join(reasons)}"


def deletion_plan(request: dict[str, Any], current: dict[str, Any],
                  users: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Changes that delete (or trash) an existing image, or InUseError saying why not.

    ``users`` holds the image's ``watchers``, ``lockers``, ``children`` and optionally the
    libvirt ``domains`` of this host whose disks use it. An image in use
    is never deleted; its snapshots are deleted (unprotected first) only with ``force``;
    the trash keeps snapshots, so it needs no ``force``.
    """
    spec = request_spec(request)
    blocker = deletion_blockers(spec, users["watchers"], users["lockers"], users["children"],
                                users.get("domains"))
    if blocker:
        raise InUseError(blocker, image=spec, **users)
    if request["trash"]:
        return [{"action": "trash"}]
    snapshots = [s["name"] for s in current["snapshots"]]
    if snapshots and not request["force"]:
        raise InUseError(
            f"image {spec} has snapshots {', '.join(snapshots)}: set force: true to delete them with it "
            "(or trash: true to move the image and its snapshots to the trash)",
            image=spec, snapshots=snapshots,
        )
    changes = []
    if snapshots:
        protected = [s["name"] for s in current["snapshots"] if s["protected"]]
        changes.append({"action": "remove_snapshots", "snapshots": snapshots, "unprotect": protected})
    return changes + [{"action": "remove"}]


def clone_format(setting: str, require_min_compat_client: str) -> int:
    """The clone format librbd uses: '1', '2', or 'auto' (2 when mimic+ clients are required)."""
    if setting in ("1", "2"):
        return int(setting)
    releases = ("argonaut", "bobtail", "cuttlefish", "dumpling", "emperor", "firefly", "giant",
                "hammer", "infernalis", "jewel", "kraken", "luminous", "mimic", "nautilus",
                "octopus", "pacific", "quincy", "reef", "squid", "tentacle")
    try:
        return 2 if releases.index(require_min_compat_client) >= releases.index("mimic") else 1
    except ValueError:
        return 1
