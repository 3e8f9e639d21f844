#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: rbd_image
short_description: Create, resize, clone, tune and delete RBD images (volumes), one or a batch
version_added: 0.1.0
description:
  - Ensures an RBD image (a volume) exists with the given size, features, layout, QoS
    settings and metadata, or that it is deleted, safely.
  - Creates format 2 images (features O(features), 4 MiB objects by default), optionally
    striped or with an erasure-coded O(data_pool); clones a snapshot (O(clone_from)) and
    flattens clones (O(flatten)).
  - Grows images; shrinking is refused unless O(allow_shrink=true).
  - The batch form O(images) converges a whole list over one cluster connection, checking
    every item before the first change.
  - Deleting refuses an image that is in use (watchers, exclusive-lock or advisory lock
    holders, clone children) and names who holds it; snapshots are deleted only with
    O(force=true).
  - Works through the librados/librbd bindings; runs no command line tool.
author:
  - limiquantix contributors (@limiquantix)
options:
  pool:
    description:
      - The pool of the image. In the batch form, the default for every item.
    type: str
  namespace:
    description:
      - The RBD namespace in O(pool); empty for the pool's default namespace.
      - The namespace must exist; it is never created here (see the C(rbd_pool) module's C(namespaces)).
    type: str
    default: ''
  name:
    description:
      - The image name, for example C(vol-1f0c2a). Must not contain C(/), C(@), C(:), whitespace or NUL.
      - Required unless O(images) is given.
    type: str
  state:
    description:
      - V(present) creates the image or brings it to the given settings; V(absent) deletes it.
      - A deletion is refused, from any host, while the image has an attachment record of
        M(limiquantix.ceph_rbd.libvirt_rbd_disk) (a libvirt domain on some hypervisor uses it, even a
        stopped one); the message names the host and the domain. See C(docs/hypervisors.md) for
        clearing the record of a domain that no longer exists.
    type: str
    choices: [present, absent]
    default: present
  size:
    description:
      - The image size, in bytes or with a binary unit (V(10G) is 10 GiB).
      - Required to create an image unless O(clone_from) is given (a clone starts at its parent's size).
      - A size larger than the image's grows it; a smaller one is refused unless O(allow_shrink=true).
    type: raw
  allow_shrink:
    description:
      - Allow O(size) to shrink an existing image. Data beyond the new end is lost.
    type: bool
    default: false
  features:
    description:
      - The image features, exactly. Any of V(layering), V(exclusive-lock), V(object-map),
        V(fast-diff), V(deep-flatten), V(journaling). V(object-map) and V(journaling) need
        V(exclusive-lock); V(fast-diff) needs V(object-map), and V(object-map) is only accepted
        together with V(fast-diff), because librbd enables and disables the two together.
      - When not set, a new image gets V(layering), V(exclusive-lock), V(object-map) and
        V(fast-diff), and an existing image keeps its features.
      - On an existing image, V(exclusive-lock), V(object-map), V(fast-diff) and V(journaling)
        are enabled or disabled as needed (the object map is rebuilt when it is enabled) and
        V(deep-flatten) can be disabled; asking for any other change is an error.
      - V(striping) and V(data-pool) follow O(stripe_unit), O(stripe_count) and O(data_pool).
    type: list
    elements: str
  object_size:
    description:
      - Size of the objects the image is split into, a power of two from V(4K) to V(32M).
      - Default V(4M) (order 22) for a new image, the parent's for a clone. Cannot change later.
    type: raw
  stripe_unit:
    description:
      - Stripe unit (bytes or with a unit) for fancy striping; must divide O(object_size). Cannot change later.
    type: raw
  stripe_count:
    description:
      - Number of objects to stripe over. Cannot change later.
    type: int
  data_pool:
    description:
      - An erasure-coded pool with C(allow_ec_overwrites) that stores the image's data
        (its metadata stays in O(pool)). Cannot change later.
    type: str
  clone_from:
    description:
      - Create the image as a clone of this snapshot, given as C(pool[/namespace]/image@snapshot)
        or as a dict with keys C(pool), C(namespace), C(image), C(snapshot).
      - The snapshot must exist. When the cluster makes clone format 1 clones (the default
        while C(require_min_compat_client) is below mimic and C(rbd_default_clone_format) is
        V(auto)), the snapshot is protected first if it is not; with clone format 2 it is left as is.
      - Only used to create the image; an existing image is not re-parented.
      - For an existing clone the task fails when its parent is another image than the one
        named. The parent is compared by identity (pool, namespace, image id, snapshot), so a
        clone of an image moved to the trash is not a clone of an image made since under the
        same name. An image that is no clone (never was, or flattened) is left as it is.
    type: raw
  flatten:
    description:
      - Flatten the image when it is a clone (a new clone right after cloning, an existing clone too),
        so that it no longer depends on its parent. V(false) leaves clones as they are.
    type: bool
    default: false
  qos:
    description:
      - The image's QoS settings, exactly, as a dict of C(iops_limit), C(bps_limit),
        C(read_iops_limit), C(write_iops_limit), C(read_bps_limit), C(write_bps_limit), their
        C(_burst) forms (for example C(iops_burst)) and C(_burst_seconds) forms. Keys may also
        be given with the C(rbd_qos_) prefix. C(bps) values take sizes (V(100M) is 100 MiB/s).
      - Stored as the image's C(rbd_qos_*) config overrides (image metadata C(conf_rbd_qos_*)).
      - When given (even V({})), settings not in the dict are removed; when not set, QoS is left alone.
    type: dict
  metadata:
    description:
      - The image's metadata, exactly, as a dict of strings.
      - When given (even V({})), keys not in the dict are removed; when not set, metadata is left alone.
      - Keys starting with C(conf_) are librbd config overrides and are not managed here
        (use O(qos) for QoS); they are neither returned nor removed.
      - A key or value with a NUL character is refused (librbd would cut it there).
      - Keys starting with C(limiquantix.) are reserved for the collection's own records (the
        attachment records C(limiquantix.attached/<domain UUID>) of M(limiquantix.ceph_rbd.libvirt_rbd_disk)).
        They cannot be set here, and are neither returned nor removed.
    type: dict
  trash:
    description:
      - With O(state=absent), move the image (and its snapshots) to the RBD trash instead of deleting it.
    type: bool
    default: false
  force:
    description:
      - With O(state=absent), also delete the image's snapshots (unprotecting them; none can
        have clone children, since an image with clone children is never deleted).
      - Does not override the in-use checks.
    type: bool
    default: false
  source:
    description:
      - Import a disk image file into the image. The path of a raw or qcow2 file on the host
        where the module runs (the managed host), absolute.
      - A new image is created at the source's virtual size, or at O(size) when that is larger;
        an existing image smaller than the virtual size grows to it, a larger one keeps its size.
        A O(size) smaller than the virtual size is an error.
      - The data is written sparse; ranges of zeros (and a raw file's holes) are not written, so a
        mostly empty disk uses little space. A raw file is copied by the module through librbd; a
        qcow2 file by C(qemu-img convert) through QEMU's rbd block driver (Debian packages qemu-utils
        and qemu-block-extra on the managed host). The cephx key is never put on a command line
        (qemu-img gets a private ceph.conf and keyring, mode 0600, removed afterwards).
      - Idempotent by content. After all data is written, the image's metadata records the
        source's content digest, format and file size (keys C(limiquantix.source.*), returned as
        RV(image.source)). A later run imports again only when the file's digest or format
        differs from that record; the old and new digests show in C(actions) and C(--diff).
        The file's data is read for its digest only when the record could match (same file
        size); otherwise the import is certain and the digest is computed while it is written.
        An import that did not finish leaves no record, so the next run imports again.
      - The content digest (V(sha256-nonzero-64k:<hex>)) is a SHA-256 of the file's content in
        which blocks of zeros cost nothing, so a mostly empty disk is digested in a fraction of the
        time C(sha256sum) takes. It is not the value C(sha256sum) prints; to check a download
        against a published checksum, use the C(checksum) option of M(ansible.builtin.get_url).
        The exact definition is in the collection's C(docs/snapshots.md).
      - Importing writes over the whole image (it is zeroed first; its snapshots keep their data),
        and is refused while a client has the image open (watchers, for example a running VM).
      - A missing or unreadable file, a file that is not a disk image, a format other than
        O(source_format), a qcow2 image with a backing file or encryption, and a source larger
        than O(size) are errors raised before anything is created or changed.
      - Not with O(clone_from). Ignored with O(state=absent).
    type: path
  source_format:
    description:
      - The format of O(source). V(auto) detects it from the file's first bytes; V(raw) and
        V(qcow2) must match the file, otherwise the task fails.
      - A file is qcow2 when it starts with the qcow2 magic C(QFI\xfb). Any other file is taken as
        raw only when its size is a whole, non-zero number of 512-byte sectors and it does not
        start like another image format (VMDK, VDI, VHD, VHDX, QED, LUKS) or a compressed
        archive (gzip, xz, bzip2, zstd, zip), which are refused under every O(source_format).
    type: str
    choices: [auto, raw, qcow2]
    default: auto
  with_usage:
    description:
      - Compute C(used_bytes) of each returned image (diff-iterate over the object map;
        fast with V(fast-diff), slower without). When V(false), C(used_bytes) is null; it is
        also null for a plain image (not a clone) this task creates, which is not read back.
    type: bool
    default: false
  with_watchers:
    description:
      - Report the C(watchers) of each returned image (the clients that have it open).
        When V(false), C(watchers) is null.
      - Reading watchers needs each image opened in librbd (a few milliseconds of CPU per
        image); without them, and without O(with_usage), the module reads images without
        snapshots (plain volumes and clones) from their header objects, all at once, which makes a
        re-run of hundreds of unchanged images nearly as fast as a trivial task. Use
        C(rbd_image_info) to see who uses which image.
      - Deleting always checks the watchers, whatever this says.
    type: bool
    default: false
  check_libvirt:
    description:
      - Before deleting, also refuse images that a libvirt domain of the host where the
        module runs uses, running or only defined (a stopped VM's disk has no watcher).
      - Only that host's domains are seen, and only when python3-libvirt is installed and
        libvirtd answers at O(libvirt_uri); otherwise the check is skipped with a warning
        (RV(libvirt_checked) says whether it ran). Domains of other hosts are seen through the
        attachment records that M(limiquantix.ceph_rbd.libvirt_rbd_disk) keeps on the image, whatever this says.
      - Set V(false) where no libvirt runs (a Ceph admin host) to skip the check without a warning.
    type: bool
    default: true
  libvirt_uri:
    description:
      - The libvirt URI for O(check_libvirt). When not set, the environment variable
        E(LIBVIRT_DEFAULT_URI) is used, then V(qemu:///system).
    type: str
    default: qemu:///system
  images:
    description:
      - The batch form, instead of O(name); a list of images, each a dict with the per-image
        options (C(name) and any of C(pool), C(namespace), C(state), C(size), C(allow_shrink),
        C(features), C(object_size), C(stripe_unit), C(stripe_count), C(data_pool),
        C(clone_from), C(flatten), C(qos), C(metadata), C(trash), C(force), C(source),
        C(source_format)).
      - Options set on the task are the defaults of every item; an item's own value wins
        (a dict option such as O(qos) is replaced as a whole, not merged).
      - One cluster connection converges the whole list. Every item is validated and planned
        (including the cluster-side checks for shrink, use and a missing parent) before the first
        change; an error names the item.
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - The image name.
        type: str
        required: true
      pool:
        description:
          - Like O(pool); defaults to the task's O(pool).
        type: str
      namespace:
        description:
          - Like O(namespace); defaults to the task's O(namespace).
        type: str
      state:
        description:
          - Like O(state); defaults to the task's O(state).
        type: str
        choices: [present, absent]
      size:
        description:
          - Like O(size).
        type: raw
      allow_shrink:
        description:
          - Like O(allow_shrink).
        type: bool
      features:
        description:
          - Like O(features).
        type: list
        elements: str
      object_size:
        description:
          - Like O(object_size).
        type: raw
      stripe_unit:
        description:
          - Like O(stripe_unit).
        type: raw
      stripe_count:
        description:
          - Like O(stripe_count).
        type: int
      data_pool:
        description:
          - Like O(data_pool).
        type: str
      clone_from:
        description:
          - Like O(clone_from).
        type: raw
      flatten:
        description:
          - Like O(flatten).
        type: bool
      qos:
        description:
          - Like O(qos); replaces the task's O(qos) as a whole.
        type: dict
      metadata:
        description:
          - Like O(metadata); replaces the task's O(metadata) as a whole.
        type: dict
      trash:
        description:
          - Like O(trash).
        type: bool
      force:
        description:
          - Like O(force).
        type: bool
      source:
        description:
          - Like O(source).
        type: path
      source_format:
        description:
          - Like O(source_format).
        type: str
        choices: [auto, raw, qcow2]
extends_documentation_fragment:
  - limiquantix.ceph_rbd.connection
  - limiquantix.ceph_rbd.attributes
  - limiquantix.ceph_rbd.attributes.CEPH_GROUP
attributes:
  check_mode:
    support: full
    details:
      - Check mode plans with the same checks as a real run and returns the predicted images;
        values only the cluster can tell (a new image's C(id) and C(used_bytes)) are null.
  diff_mode:
    support: full
notes:
  - An existing image without snapshots that needs no change is read from its header object,
    without opening it (unless O(with_usage) or O(with_watchers)); any other existing image is
    opened once, read-only. An image that needs changes is then opened read-write to apply them
    and read the result back.
  - In the batch form the images are read by a few threads at once. Changes are applied in the
    order of O(images), except that a run of consecutive items that only create a plain image
    (no clone, QoS or metadata) or only delete one is carried out concurrently. When an item of
    such a run fails, the others of the run are still completed; the error names the first
    failing item and C(done) lists every image changed.
seealso:
  - module: limiquantix.ceph_rbd.rbd_image_info
"""

EXAMPLES = r"""
- name: Create a volume with the platform's defaults (layering, exclusive-lock, object-map, fast-diff; 4 MiB objects)
  limiquantix.ceph_rbd.rbd_image:
    pool: limiquantix-volumes
    name: vol-1f0c2a
    size: 20G

- name: Grow it and cap its I/O
  limiquantix.ceph_rbd.rbd_image:
    pool: limiquantix-volumes
    name: vol-1f0c2a
    size: 40G
    qos:
      iops_limit: 2000
      bps_limit: 200M
    metadata:
      tenant: acme

- name: A volume whose data lives on an erasure-coded pool
  limiquantix.ceph_rbd.rbd_image:
    pool: limiquantix-volumes
    name: vol-archive-01
    size: 500G
    data_pool: limiquantix-ec

- name: Clone a VM disk from the golden image and make it independent
  limiquantix.ceph_rbd.rbd_image:
    pool: limiquantix-volumes
    name: vol-7d21e9
    clone_from: limiquantix-images/ubuntu-24.04@golden
    size: 30G
    flatten: true

- name: Provision a tenant's volumes in one task
  limiquantix.ceph_rbd.rbd_image:
    pool: limiquantix-volumes
    namespace: tenant-acme
    qos:
      iops_limit: 1000
    images:
      - name: vol-a1
        size: 10G
      - name: vol-a2
        size: 50G
        qos:
          iops_limit: 5000
      - name: vol-old
        state: absent

- name: Import a cloud image as the golden image (sparse; again only when the file changes)
  limiquantix.ceph_rbd.rbd_image:
    pool: limiquantix-images
    name: debian-12
    source: /var/lib/limiquantix/images/debian-12-genericcloud-amd64.qcow2
    source_format: qcow2

- name: Delete a volume with its snapshots (refused while a VM has it open)
  limiquantix.ceph_rbd.rbd_image:
    pool: limiquantix-volumes
    name: vol-1f0c2a
    state: absent
    force: true
"""

RETURN = r"""
image:
  description:
    - The image after the task (predicted in check mode); null when it does not exist.
    - Only in the single form (O(name)).
  returned: when O(name) is given
  type: dict
  contains:
    pool:
      description: Pool name.
      type: str
      returned: always
      sample: limiquantix-volumes
    namespace:
      description: RBD namespace (empty for the default namespace).
      type: str
      returned: always
      sample: ''
    name:
      description: Image name.
      type: str
      returned: always
      sample: vol-1f0c2a
    id:
      description: Image id (null in check mode for an image not yet created).
      type: str
      returned: always
      sample: 10a2b3c4d5e6
    size:
      description: Size in bytes.
      type: int
      returned: always
      sample: 21474836480
    features:
      description: Enabled features, sorted.
      type: list
      elements: str
      returned: always
      sample: [exclusive-lock, fast-diff, layering, object-map]
    object_size:
      description: Object size in bytes.
      type: int
      returned: always
      sample: 4194304
    stripe_unit:
      description: Stripe unit in bytes.
      type: int
      returned: always
      sample: 4194304
    stripe_count:
      description: Stripe count.
      type: int
      returned: always
      sample: 1
    data_pool:
      description: Erasure-coded data pool; null when data is stored in O(pool).
      type: str
      returned: always
      sample: null
    parent:
      description:
        - The clone parent (C(pool), C(namespace), C(image), C(snapshot)); null when the image is no clone.
        - With C(trash=true) when the parent image is in the RBD trash (the key is present only then).
          The name is the one it had; an image of that name made since is another image.
      type: dict
      returned: always
      sample:
        pool: limiquantix-images
        namespace: ''
        image: ubuntu-24.04
        snapshot: golden
    snapshots:
      description: The image's snapshots, oldest first, each with C(name), C(id), C(size), C(protected).
      type: list
      elements: dict
      returned: always
      sample:
        - name: before-upgrade
          id: 4
          size: 21474836480
          protected: false
    watchers:
      description:
        - Addresses of the clients that have the image open (not counting this module);
          null unless O(with_watchers=true).
      type: list
      elements: str
      returned: always
      sample: null
    provisioned_bytes:
      description: Provisioned size in bytes (the image size).
      type: int
      returned: always
      sample: 21474836480
    used_bytes:
      description:
        - Bytes of allocated objects of the image itself (not its parent); null unless
          O(with_usage=true), and for a plain image (not a clone) this task creates.
      type: int
      returned: always
      sample: null
    qos:
      description: QoS settings set on the image (without the C(rbd_qos_) prefix).
      type: dict
      returned: always
      sample:
        iops_limit: 2000
    metadata:
      description: Image metadata (without C(conf_*) config overrides).
      type: dict
      returned: always
      sample:
        tenant: acme
    source:
      description:
        - The disk image file last imported into the image (O(source)), as its record says, with
          C(digest) (its content digest, see O(source)), C(format) (V(raw) or V(qcow2)) and C(size)
          (the file's size in bytes); null when no import finished.
        - In check mode C(digest) is null when the file was not read (the import was certain).
      type: dict
      returned: always
      sample:
        digest: sha256-nonzero-64k:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
        format: qcow2
        size: 2147483648
images:
  description:
    - The batch form's images after the task (predicted in check mode), in the order given;
      each has the keys of RV(image) (a deleted image keeps only C(pool), C(namespace), C(name),
      and C(state=absent)), plus C(changed).
  returned: when O(images) is given
  type: list
  elements: dict
  sample:
    - pool: limiquantix-volumes
      namespace: tenant-acme
      name: vol-old
      state: absent
      changed: true
libvirt_checked:
  description:
    - Whether the deletion check consulted this host's libvirt domains (O(check_libvirt)).
      False when no item has O(state=absent), when O(check_libvirt=false), or when libvirt was
      not available.
  returned: always
  type: bool
  sample: true
done:
  description:
    - When the task fails, the specs of the images it changed before the failure (the task then
      reports C(changed=true)); empty when nothing was changed.
  returned: on failure
  type: list
  elements: str
  sample:
    - limiquantix-volumes/vol-1f0c2a
actions:
  description: What was done (or would be done in check mode), one line per operation, each starting with the image spec.
  returned: always
  type: list
  elements: str
  sample:
    - "limiquantix-volumes/vol-1f0c2a: resize from 20 GiB to 40 GiB"
    - "limiquantix-volumes/vol-1f0c2a: qos set bps_limit, iops_limit"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.attachment_records import libvirt_check_skipped
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import (
    ceph_connection_argument_spec,
    cluster_connection,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import UnreachableError
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_plan import ImagePlan
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_request import (
    item_argument_spec,
    normalize_requests,
    task_argument_spec,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.images import ReadDetails, converge_images
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_connection import (
    LIBVIRT_IMPORT_ERROR,
    libvirt_connection,
    libvirt_connection_argument_spec,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_domain import rbd_image_references
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.module_runner import CEPH, run_module


def argument_spec() -> dict:
    spec = ceph_connection_argument_spec()
    spec.update(task_argument_spec())
    spec.update(
        with_usage={"type": "bool", "default": False},
        with_watchers={"type": "bool", "default": False},
        check_libvirt={"type": "bool", "default": True},
        libvirt_uri=libvirt_connection_argument_spec()["uri"],
        images={"type": "list", "elements": "dict", "options": item_argument_spec()},
    )
    return spec


def result_entry(plan: ImagePlan) -> dict:
    """One image of the batch result: the image dict, or its name when it is absent."""
    request = plan.request
    entry = plan.after or {"pool": request["pool"], "namespace": request["namespace"],
                           "name": request["name"], "state": "absent"}
    return dict(entry, changed=bool(plan.changes))


def libvirt_references(params: dict, requests: list) -> tuple[dict | None, str | None]:
    """Which images this host's libvirt domains use, when a deletion is asked for and
    libvirt can be asked (None when the check does not run), and why it could not run."""
    if not params["check_libvirt"] or all(r["state"] != "absent" for r in requests):
        return None, None
    if LIBVIRT_IMPORT_ERROR:
        return None, libvirt_check_skipped("python3-libvirt is not installed")
    try:
        with libvirt_connection(params["libvirt_uri"]) as conn:
            return rbd_image_references(conn), None
    except UnreachableError as error:
        return None, libvirt_check_skipped(str(error))


def batch_label(index: int, spec: str) -> str:
    return f"images[{index}] ({spec}): "


def converge(module: AnsibleModule) -> dict:
    """Converge every requested image; the result for exit_json."""
    params = module.params
    batch = params["images"] is not None
    requests = normalize_requests(params, params["images"])
    domain_refs, skipped = libvirt_references(params, requests)
    if skipped:
        module.warn(skipped)
    with cluster_connection(params) as cluster:
        details = ReadDetails(usage=params["with_usage"], watchers=params["with_watchers"])
        plans = converge_images(cluster, requests, module.check_mode, details,
                                batch_label if batch else lambda _index, _spec: "", domain_refs)
    result = {
        "changed": any(plan.changes for plan in plans),
        "actions": [line for plan in plans for line in plan.actions],
        "libvirt_checked": domain_refs is not None,
    }
    if batch:
        changed_plans = [plan for plan in plans if plan.changes]
        diff = {
            "before": {plan.spec: plan.before for plan in changed_plans if plan.before},
            "after": {plan.spec: plan.after for plan in changed_plans if plan.after},
        }
        return dict(result, images=[result_entry(plan) for plan in plans], diff=diff)
    plan = plans[0]
    return dict(result, image=plan.after, diff={"before": plan.before or {}, "after": plan.after or {}})


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        mutually_exclusive=[("name", "images")],
        required_one_of=[("name", "images")],
    )
    failed, result = run_module(module, converge, CEPH)
    (module.fail_json if failed else module.exit_json)(**result)


if __name__ == "__main__":
    main()
