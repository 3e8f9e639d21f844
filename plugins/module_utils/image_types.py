# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The image dict rbd_image and rbd_image_info return, as types (base layer: no logic).

The wire format stays a plain dict (what ``exit_json`` returns, documented in the modules'
``RETURN``); these TypedDicts say what it holds, for the code that builds it
(``image_reads``, ``image_bindings``), plans from it (``image_plan``) and predicts it
(``image_changes``). A key added here is added to the modules' ``RETURN`` too.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, TypedDict


class _ParentSpec(TypedDict):
    pool: str
    namespace: str
    image: str
    snapshot: str


class ImageParent(_ParentSpec, total=False):
    """A clone's parent snapshot; ``trash`` (true) only when the parent image is in the trash."""

    trash: bool


class ImageSnapshot(TypedDict):
    """One user snapshot of an image, in id order."""

    name: str
    id: int
    size: int
    protected: bool


class ImageSource(TypedDict):
    """The disk image file an image was imported from (rbd_image ``source``), as recorded
    in its ``limiquantix.source.*`` metadata once the import finished (``digest``: the file's
    content digest, see disk_source.ContentDigest)."""

    digest: str
    format: Optional[str]
    size: Optional[int]


class ImageDict(TypedDict):
    """The collection's image dict. None where a value is unknown: a new image's ``id`` in
    check mode, ``watchers`` and ``used_bytes`` when they were not read."""

    pool: str
    namespace: str
    name: str
    id: Optional[str]
    size: Optional[int]
    features: List[str]
    object_size: int
    stripe_unit: int
    stripe_count: int
    data_pool: Optional[str]
    parent: Optional[ImageParent]
    snapshots: List[ImageSnapshot]
    watchers: Optional[List[str]]
    provisioned_bytes: Optional[int]
    used_bytes: Optional[int]
    qos: Dict[str, Any]
    metadata: Dict[str, str]
    source: Optional[ImageSource]


class ImageInfoDict(ImageDict, total=False):
    """rbd_image_info's image: with ``io_rates`` when O(with_io_rates) is set."""

    io_rates: Optional[Dict[str, Any]]
