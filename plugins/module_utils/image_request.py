# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The image options of rbd_image, defined once, and their validation into requests (pure).

A *request* (:class:`ImageRequest`) is one image's validated options
(:func:`normalize_request`); the batch form merges each item with the task's options
(:func:`merge_item`). Also the vocabulary shared with planning and reading: feature
bits, QoS keys and how librbd stores them as image metadata.
"""

from __future__ import annotations

from typing import Any, Optional, TypedDict

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.attachment_records import (
    is_reserved_metadata_key,
    refuse_reserved_metadata_keys,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.disk_formats import SOURCE_FORMATS
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InvalidInputError
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.validation import (
    format_size,
    image_spec,
    parse_image_spec,
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

# The image options, defined once: the argument spec of one item of ``images`` (no
# defaults there, so that an item's unset option falls back to the task's) and each
# option's default (the task-level argument spec carries it). A new option is one row
# here, one field of :class:`ImageRequest` set in :func:`normalize_request`, and its docs.
IMAGE_OPTIONS: dict[str, tuple[dict[str, Any], Any]] = {
    "name": ({"type": "str", "required": True}, None),
    "pool": ({"type": "str"}, None),
    "namespace": ({"type": "str"}, ""),
    "state": ({"type": "str", "choices": ["present", "absent"]}, "present"),
    "size": ({"type": "raw"}, None),
    "allow_shrink": ({"type": "bool"}, False),
    "features": ({"type": "list", "elements": "str"}, None),
    "object_size": ({"type": "raw"}, None),
    "stripe_unit": ({"type": "raw"}, None),
    "stripe_count": ({"type": "int"}, None),
    "data_pool": ({"type": "str"}, None),
    "clone_from": ({"type": "raw"}, None),
    "flatten": ({"type": "bool"}, False),
    "qos": ({"type": "dict"}, None),
    "metadata": ({"type": "dict"}, None),
    "trash": ({"type": "bool"}, False),
    "force": ({"type": "bool"}, False),
    "source": ({"type": "path"}, None),
    "source_format": ({"type": "str", "choices": list(SOURCE_FORMATS)}, "auto"),
}
OPTION_DEFAULTS = {name: default for name, (_spec, default) in IMAGE_OPTIONS.items() if default is not None}


def item_argument_spec() -> dict[str, dict[str, Any]]:
    """The argument spec of one item of ``images`` (no defaults)."""
    return {name: dict(spec) for name, (spec, _default) in IMAGE_OPTIONS.items()}


def task_argument_spec() -> dict[str, dict[str, Any]]:
    """The task-level image options: none required (``images`` may hold the names), defaults set."""
    spec = {}
    for name, (option, default) in IMAGE_OPTIONS.items():
        spec[name] = dict(option, required=False)
        if default is not None:
            spec[name]["default"] = default
    return spec


class ImageRequest(TypedDict):
    """One image's validated options (:func:`normalize_request`); sizes in bytes."""

    pool: str
    namespace: str
    name: str
    state: str
    size: Optional[int]
    allow_shrink: bool
    features: Optional[list[str]]
    object_size: Optional[int]
    stripe_unit: Optional[int]
    stripe_count: Optional[int]
    data_pool: Optional[str]
    clone_from: Optional[dict[str, Any]]  # pool, namespace, image, snapshot
    flatten: bool
    qos: Optional[dict[str, int]]
    metadata: Optional[dict[str, str]]
    trash: bool
    force: bool
    source: Optional[str]  # path of a disk image file on the managed host
    source_format: str  # auto, raw, qcow2


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
    refuse_reserved_metadata_keys(result)
    return result


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
        elif not key.startswith(CONFIG_METADATA_PREFIX) and not is_reserved_metadata_key(key):
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
    request.update(_source_options(options, request))
    _check_layout(request)
    if request["clone_from"] and request["features"] is not None and "layering" not in request["features"]:
        raise InvalidInputError("a clone needs the 'layering' feature: add it to features")
    return request


def _source_options(options: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """``source`` (an absolute path, not with clone_from) and ``source_format``."""
    source, source_format = options.get("source"), options.get("source_format") or "auto"
    if source_format not in SOURCE_FORMATS:
        raise InvalidInputError(f"source_format must be one of {', '.join(SOURCE_FORMATS)}, got {source_format!r}")
    if source is None or request["state"] == "absent":
        return {"source": None, "source_format": source_format}
    if not isinstance(source, str) or not source.startswith("/"):
        raise InvalidInputError(f"source must be the absolute path of a disk image file, got {source!r}")
    refuse_nul(source, "source")
    if request["clone_from"]:
        raise InvalidInputError("source and clone_from exclude each other: an image is either imported or a clone")
    return {"source": source, "source_format": source_format}


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
