# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The image service: converge a batch of images over one connection.

The batch path is built for hundreds of images: each pool/namespace is listed
once, each clone parent and pool detail is read once (``image_catalog``), an
image is opened at most once read-only (no watcher; or read from its header,
``image_reads``) and, when it changes, once more read-write to apply and read
back. Planning is pure (``image_plan``); everything is planned and checked
before the first change. Applying keeps the order of the list, except that a
run of consecutive plain creates and deletions (independent of each other) is
carried out concurrently. A create that races another client's is recovered here.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import CephCluster
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.clone_identity import check_clone_source
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import (
    AlreadyExistsError,
    CephRbdError,
    InvalidInputError,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_bindings import (
    clear_half_created_image,
    clone_image,
    create_image,
    remove_image,
    trash_image,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_catalog import ImageCatalog, namespace_ids
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_changes import (
    Change,
    Import,
    ProtectParentSnapshot,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_import import (
    import_source,
    plan_source,
    refuse_import_in_use,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_plan import (
    ImagePlan,
    deletion_plan,
    describe_change,
    plan_image,
    predict_image,
    sized_for_source,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_request import (
    DEFAULT_FEATURES,
    ImageRequest,
    feature_bits,
    request_spec,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_reads import (
    Outcome,
    ReadDetails,
    describe_image,
    read_image,
    read_image_and_users,
    read_images_from_headers,
    run_concurrently,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.rbd_common import open_image
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.unreachable import explain_unreachable
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.write_errors import (
    explain_permission_error,
    explain_pool_error,
)


# ---------------------------------------------------------------- planning

def _clone_changes(catalog: ImageCatalog, request: ImageRequest) -> tuple[list[Change], dict[str, Any]]:
    """Check the clone source; plan protecting its snapshot when the cluster clones in format 1."""
    source = request["clone_from"]
    parent = catalog.parent(source)
    if catalog.clone_format(request["pool"]) == 2:
        return [], parent
    if source["namespace"] != request["namespace"]:
        raise InvalidInputError(
            f"clone_from {parent['spec']}: this cluster makes format 1 clones (require_min_compat_client "
            "is below mimic), which cannot cross namespaces: clone within the same namespace, or set "
            "require_min_compat_client mimic (or rbd_default_clone_format 2)"
        )
    if parent["protected"]:
        return [], parent
    return [ProtectParentSnapshot(snapshot=parent["spec"])], parent


def _read_for_plan(cluster: CephCluster, catalog: ImageCatalog, request: dict[str, Any],
                   details: ReadDetails) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """The image a request is about and, for a deletion, its users."""
    return read_image_and_users(cluster, catalog, request["pool"], request["namespace"], request["name"],
                                details, with_users=request["state"] == "absent")


def prefetch_reads(cluster: CephCluster, catalog: ImageCatalog, requests: list[dict[str, Any]],
                   details: ReadDetails) -> dict[str, Outcome]:
    """Read every requested image that exists, keyed by spec (nothing changes).

    Images without snapshots that only need their settings read are read from
    their headers (:func:`read_images_from_headers`); the others are opened,
    concurrently. Errors are
    kept for :func:`plan_request` to raise in the order of the list; a namespace
    that cannot be listed is left to it too.
    """
    existing = []
    for request in requests:
        try:
            if request["name"] in catalog.names(request["pool"], request["namespace"]):
                existing.append(request)
        except CephRbdError:
            continue
    header_only = not details.usage and not details.watchers
    outcomes = read_images_from_headers(catalog, [r for r in existing if header_only and r["state"] == "present"])
    to_open = [request for request in existing if request_spec(request) not in outcomes]
    opened = run_concurrently(lambda request: _read_for_plan(cluster, catalog, request, details), to_open)
    outcomes.update((request_spec(request), outcome) for request, outcome in zip(to_open, opened))
    return outcomes


def plan_request(cluster: CephCluster, catalog: ImageCatalog, request: dict[str, Any],
                 details: ReadDetails, prefetched: Outcome | None = None,
                 domain_refs: dict[tuple[str, str, str], list[str]] | None = None) -> ImagePlan:
    """Read one image (unless ``prefetched``) and plan its changes; raises before anything changes.

    ``domain_refs`` maps (pool, namespace, image) to the libvirt domains of this host that
    use the image; a deletion of such an image is refused.
    """
    if prefetched is None:
        current, users = _read_for_plan(cluster, catalog, request, details)
    elif prefetched[1] is not None:
        raise prefetched[1]
    else:
        current, users = prefetched[0]
    parent = None
    extra: list[Change] = []
    if request["state"] == "present" and current is None:
        if request["data_pool"]:
            catalog.check_data_pool(request["data_pool"])
        if request["clone_from"]:
            extra, parent = _clone_changes(catalog, request)
    if request["state"] == "present":
        check_clone_source(catalog, request, current)
    source = plan_source(request, current)
    if source is not None:  # the size the import needs, which creating or resizing uses
        request = sized_for_source(current, request, source)
    changes = plan_image(current, request, parent["size"] if parent else None, source)
    refuse_import_in_use(cluster, catalog, request, current, changes)
    if request["state"] == "absent" and current is not None:
        domains = (domain_refs or {}).get((request["pool"], request["namespace"], request["name"]), [])
        changes = deletion_plan(request, current, dict(users, domains=domains))
    changes = extra + changes
    return ImagePlan(request=request, before=current, changes=changes,
                     after=predict_image(current, request, changes, parent, with_watchers=details.watchers))


# ---------------------------------------------------------------- applying

def _create(cluster: CephCluster, request: dict[str, Any]) -> None:
    """Create the requested plain image, or clone it."""
    features = feature_bits(request["features"] or list(DEFAULT_FEATURES))
    order = request["object_size"].bit_length() - 1 if request["object_size"] else None
    ioctx = cluster.ioctx(request["pool"], request["namespace"])
    layout = dict(order=order, stripe_unit=request["stripe_unit"], stripe_count=request["stripe_count"],
                  data_pool=request["data_pool"])
    spec = request_spec(request)
    if request["clone_from"] is None:
        create_image(ioctx, spec, request["name"], request["size"], features, layout)
        return
    source = request["clone_from"]
    parent_ioctx = cluster.ioctx(source["pool"], source["namespace"])
    clone_image(parent_ioctx, source["image"], source["snapshot"], ioctx, spec, request["name"], features, layout)


class _Target:
    """What the changes of one plan are applied to (``image_changes.ImageTarget``)."""

    def __init__(self, cluster: CephCluster, catalog: ImageCatalog, plan: ImagePlan, details: ReadDetails) -> None:
        self.cluster, self.catalog, self.plan, self.details = cluster, catalog, plan, details
        self.request = plan.request
        self.image: Any = None
        self.made_by_another: dict[str, Any] | None = None

    def create(self) -> None:
        request = self.request
        if request["clone_from"] is None:
            # Made meanwhile by another client: any further changes apply to it all the same.
            self.made_by_another = create_image_converging(self.cluster, self.catalog, self.plan, self.details)
        else:
            _create(self.cluster, request)
        self.catalog.forget(request["pool"], request["namespace"], request["name"], exists=True)

    def protect_parent_snapshot(self) -> None:
        source = self.request["clone_from"]
        with open_image(self.cluster, source["pool"], source["namespace"], source["image"], read_only=False) as image:
            if not image.is_protected_snap(source["snapshot"]):
                image.protect_snap(source["snapshot"])

    def remove_snapshots(self, snapshots: list[str], unprotect: list[str]) -> None:
        request = self.request
        with open_image(self.cluster, request["pool"], request["namespace"], request["name"], read_only=False) as image:
            for snapshot in snapshots:
                if snapshot in unprotect:
                    image.unprotect_snap(snapshot)
                image.remove_snap(snapshot)

    def import_source(self, change: Import) -> str:
        return import_source(self.cluster, self.catalog, self.image, self.request, change)

    def remove(self) -> None:
        remove_image(self.cluster.ioctx(self.request["pool"], self.request["namespace"]), self.plan.spec,
                     self.request["name"])

    def trash(self) -> None:
        trash_image(self.cluster.ioctx(self.request["pool"], self.request["namespace"]), self.plan.spec,
                    self.request["name"])


def apply_plan_in_time(cluster: CephCluster, catalog: ImageCatalog, plan: ImagePlan,
                       details: ReadDetails) -> dict[str, Any] | None:
    """:func:`apply_plan` under the task's deadline: a timeout stops the items not yet started."""
    try:
        return apply_plan(cluster, catalog, plan, details)
    except CephRbdError as error:
        cluster.deadline.note(error)
        raise


def apply_plan(cluster: CephCluster, catalog: ImageCatalog, plan: ImagePlan,
               details: ReadDetails) -> dict[str, Any] | None:
    """Carry out one image's plan; return the image read back (None once deleted)."""
    cluster.deadline.check(f"change image {plan.spec}")
    request, target = plan.request, _Target(cluster, catalog, plan, details)
    pool, namespace, name = request["pool"], request["namespace"], request["name"]
    for change in plan.changes:
        if change.phase == "cluster":
            change.apply(target)
    if request["state"] == "absent":
        catalog.forget(pool, namespace, name, exists=False)
        return None
    if plan.kinds == ["create"]:
        if target.made_by_another is not None:
            return adopt_concurrent_create(plan, target.made_by_another)
        # Nothing else to do: the prediction is exact but for the id, which
        # converge_images reads from one listing per namespace (no open).
        return dict(plan.after)
    with open_image(cluster, pool, namespace, name, read_only=False) as image:
        target.image = image
        for change in plan.changes:
            if change.phase == "open":
                change.apply(target)
        return describe_image(image, pool, namespace, name, catalog, details)


def wait_for_openable_image(cluster: CephCluster, catalog: ImageCatalog, request: dict[str, Any],
                            details: ReadDetails, attempts: int = 50) -> dict[str, Any] | None:
    """The image another client is creating, once its header is written (about 5 s at most).

    None when it still cannot be found: the half-made leftover of an interrupted run.
    Any other error (timeout, permission) is raised, never taken for a leftover.
    """
    catalog.forget(request["pool"], request["namespace"], request["name"], exists=True)
    for _attempt in range(attempts):
        current = read_image(cluster, catalog, request["pool"], request["namespace"], request["name"], details)
        if current is not None:
            return current
        time.sleep(0.1)
    return None


def create_image_converging(cluster: CephCluster, catalog: ImageCatalog, plan: ImagePlan,
                            details: ReadDetails) -> dict[str, Any] | None:
    """Create the planned image; None when this run created it.

    When it exists already, return it as another client (a concurrent run) made it.
    A half-made leftover of an interrupted run (an id or directory entry without a
    header, which never opens) is removed (librbd cleans up what exists) and created again.
    """
    request, spec = plan.request, plan.spec
    try:
        _create(cluster, request)
        return None
    except AlreadyExistsError:
        current = wait_for_openable_image(cluster, catalog, request, details)
    if current is not None:
        return current
    clear_half_created_image(cluster.ioctx(request["pool"], request["namespace"]), spec, request["name"])
    _create(cluster, request)
    return None


def adopt_concurrent_create(plan: ImagePlan, current: dict[str, Any]) -> dict[str, Any]:
    """Accept an image another client created meanwhile when it matches the request.

    This run then changed nothing; other settings are an error asking for a re-run.
    """
    spec = plan.spec
    try:
        remaining = plan_image(current, plan.request)
    except CephRbdError as error:
        raise AlreadyExistsError(f"image {spec} was created by another client meanwhile: {error}") from None
    if remaining:
        raise AlreadyExistsError(
            f"image {spec} was created by another client meanwhile, with other settings "
            f"({', '.join(change.action for change in remaining)} needed): run again to converge"
        )
    plan.changes, plan.actions = [], []
    return current


def converge_images(cluster: CephCluster, requests: list[dict[str, Any]], check_mode: bool,
                    details: ReadDetails, label: Callable[[int, str], str],
                    domain_refs: dict[tuple[str, str, str], list[str]] | None = None) -> list[ImagePlan]:
    """Plan every request, then (unless check mode) apply the plans in order.

    The images are read concurrently before planning. Plans are applied in the
    order of the list, but for runs of consecutive independent plans
    (:func:`apply_groups`), which are applied concurrently; a failure is reported
    for the first failing item of its run, after the whole run has finished, and
    ``done`` names every image changed so far (in list order).

    Returns one result per request: spec, before, after, changed, actions. Errors
    are prefixed with ``label(index, spec)`` so a batch names the failing item.
    """
    catalog = ImageCatalog(cluster)
    prefetched = prefetch_reads(cluster, catalog, requests, details)
    plans = []
    for index, request in enumerate(requests):
        try:
            plans.append(plan_request(cluster, catalog, request, details,
                                      prefetched.pop(request_spec(request), None), domain_refs))
        except CephRbdError as error:
            error = explain_unreachable(cluster, explain_permission_error(cluster, error), request["pool"])
            raise type(error)(label(index, request_spec(request)) + str(error), **error.details) from None
    for plan in plans:
        plan.actions = [describe_change(plan.spec, change) for change in plan.changes]
    if check_mode:
        return plans
    done: list[str] = []
    for group in apply_groups([(index, plan) for index, plan in enumerate(plans) if plan.changes]):
        outcomes = run_concurrently(lambda item: apply_plan_in_time(cluster, catalog, item[1], details), group)
        failed = None
        for (index, plan), (after, error) in zip(group, outcomes):
            if error is None:
                plan.after = after
                done.append(plan.spec)
            elif failed is None:
                failed = (index, plan.spec, error)
        if failed is not None:
            index, spec, error = failed
            error = explain_pool_error(cluster, plans[index].request["pool"], error)
            details = dict(error.details, done=done)
            raise type(error)(label(index, spec) + str(error), **details) from None
    _fill_new_ids(cluster, [plan.after for plan in plans if plan.after and plan.after["id"] is None])
    return plans


def is_independent(plan: ImagePlan) -> bool:
    """Whether a plan only creates a plain image or deletes one.

    Such plans touch nothing but their own image (a clone, a protected parent
    snapshot, a flatten or any change of an existing image is not independent;
    deletion checked at planning that no clone child exists), and a batch never
    names an image twice, so they can run in any order.
    """
    if plan.request["state"] == "absent":
        return bool(plan.changes)
    return plan.kinds == ["create"]


def apply_groups(pending: list[tuple[int, ImagePlan]]) -> list[list[tuple[int, ImagePlan]]]:
    """Split (index, plan) pairs into groups applied one after the other.

    Consecutive independent plans form one group (applied concurrently); every
    other plan is a group of its own, so the list order holds around it.
    """
    groups: list[list[tuple[int, ImagePlan]]] = []
    for item in pending:
        if is_independent(item[1]) and groups and is_independent(groups[-1][-1][1]):
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


def _fill_new_ids(cluster: CephCluster, images: list[dict[str, Any]]) -> None:
    """Set the ids of newly created images from one listing per pool/namespace."""
    by_namespace: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for image in images:
        by_namespace.setdefault((image["pool"], image["namespace"]), []).append(image)
    for (pool, namespace), group in by_namespace.items():
        ids = namespace_ids(cluster, pool, namespace)
        for image in group:
            image["id"] = ids.get(image["name"])
