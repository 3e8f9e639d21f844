#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 limiquantix contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: libvirt_rbd_disk
short_description: Attach RBD volumes to libvirt domains (persistent and live), resize them live, detach safely
version_added: 0.1.0
description:
  - Ensures that a libvirt domain has (or has not) an RBD network disk on a given target,
    in its persistent config and/or in the running domain, through the libvirt Python API.
  - The disk is C(<disk type='network'>) with C(<source protocol='rbd' name='pool/image'>),
    the monitors as C(<host>) entries, C(<auth>) with a ceph C(<secret>), and the cache,
    io, discard, iotune, readonly, shareable and serial settings given here.
    The options define the whole disk; an existing disk on the target with other settings is changed.
  - A disk of a running domain cannot be changed in place (apart from its I/O limits, which are
    applied live); swapping it needs O(replace=true), which detaches it and attaches the new one.
  - After a live detach the module checks the running domain's XML, because a guest may ignore
    the unplug request (libvirt returns after about 5 seconds in that case); the task then fails
    and the persistent config is left unchanged, so config and live never disagree silently.
  - Returns the disk XML and the qemu C(rbd:) spec; never a key.
author:
  - limiquantix contributors (@limiquantix)
options:
  domain:
    description: Name of the libvirt domain.
    type: str
    required: true
  target:
    description:
      - Device name in the guest, V(vdX) for bus V(virtio), V(sdX) for buses V(scsi) and V(sata)
        (for example V(vdb), V(sdc)). The disk is identified by its target.
    type: str
    required: true
  bus:
    description:
      - Disk bus. Defaults to V(virtio) for V(vdX) targets and V(scsi) for V(sdX) targets.
      - V(scsi) needs a virtio-scsi controller in the domain; such disks hot-unplug at once,
        without help from the guest.
    type: str
    choices: [virtio, scsi, sata]
  pool:
    description: Ceph pool of the image. Required with O(state=present).
    type: str
  namespace:
    description:
      - RBD namespace of the image. Only the default namespace (V('')) can be attached;
        libvirt hands V(namespace/image) to QEMU as the image name, so any other value is refused.
      - Used in RV(qemu_spec), which QEMU itself understands.
    type: str
    default: ''
  image:
    description: Name of the RBD image. Required with O(state=present).
    type: str
  mon_hosts:
    description:
      - Monitor addresses written into the disk, in any spelling Ceph uses, alone or mixed -
        V(host), V(host:port), V([IPv6]:port), V(v1:host:port), or the msgr2 address vector of
        one monitor V([v2:10.0.0.1:3300,v1:10.0.0.1:6789]) as C(ceph mon dump) and C(ceph.conf)
        show it.
      - The disk gets one C(<host name= port=>) per monitor, its B(v1) address. QEMU hands
        C(host:port) to librados untyped, which reads it as msgr v1 unless the port is 3300.
        A monitor given only as a v2 address on another port is refused.
      - When empty, QEMU reads the monitors from the host's C(/etc/ceph/ceph.conf).
    type: list
    elements: str
    default: []
  auth_user:
    description:
      - The cephx user QEMU authenticates as, without C(client.) (for example V(libvirt)).
      - Needs O(secret_uuid) or O(secret_usage). Without it the disk has no C(<auth>).
    type: str
  secret_uuid:
    description: UUID of the libvirt ceph secret holding the key of O(auth_user). Must exist.
    type: str
  secret_usage:
    description: Usage name of the libvirt ceph secret holding the key of O(auth_user). Must exist.
    type: str
  cache:
    description: QEMU cache mode.
    type: str
    choices: [default, none, writethrough, writeback, directsync, unsafe]
    default: writeback
  io:
    description:
      - QEMU I/O mode. Unset leaves QEMU's default (threads).
      - V(native) needs O(cache=none) or O(cache=directsync); libvirt rejects it with
        V(writeback), so the module refuses that pair before changing anything.
    type: str
    choices: [native, threads, io_uring]
  discard:
    description: Whether guest discard (TRIM) requests free space in the image (V(unmap)) or are dropped.
    type: str
    choices: [unmap, ignore]
    default: unmap
  readonly:
    description: Attach the disk read-only.
    type: bool
    default: false
  shareable:
    description: Mark the disk shareable between domains (for cluster file systems).
    type: bool
    default: false
  serial:
    description: Serial number the guest sees (letters, digits, V(_), V(.), V(+), V(-), spaces; up to 36).
    type: str
  iotune:
    description:
      - I/O limits applied by QEMU. Keys C(total_bytes_sec), C(read_bytes_sec), C(write_bytes_sec),
        C(total_iops_sec), C(read_iops_sec), C(write_iops_sec) and their burst forms with C(_max)
        (for example C(total_iops_sec_max)). Byte rates take sizes such as V(100M).
      - A total limit cannot be combined with read or write limits of the same kind; a burst
        needs its sustained limit and must not be lower. An empty dict removes all limits.
      - On a running domain the limits are changed live, without replacing the disk.
    type: dict
    default: {}
  state:
    description: Whether the disk is attached (V(present)) or not (V(absent)).
    type: str
    choices: [present, absent]
    default: present
  live:
    description:
      - Manage the running domain. Defaults to V(true) when the domain runs.
      - V(true) on a domain that does not run is an error.
    type: bool
  config:
    description:
      - Manage the persistent config (the next boot). Defaults to V(true) when the domain is persistent.
    type: bool
  replace:
    description:
      - Allow swapping the disk of a running domain (different image or settings) by a live
        detach and attach. Without it the module refuses such a change.
    type: bool
    default: false
  refresh_size:
    description:
      - Tell the running guest the image's current size (libvirt block resize) after the image was
        grown, for example with M(limiquantix.ceph_rbd.rbd_image). Needs a running domain; the image
        size is read with the Ceph connection options (O(conf), O(user), O(keyring) ...).
      - A smaller image than the disk the guest sees is refused, never shrunk.
    type: bool
    default: false
  record_attachment:
    description:
      - Keep an attachment record on the image itself, so that M(limiquantix.ceph_rbd.rbd_image) refuses to
        delete it from any host while this domain uses it. The record is the image metadata key
        C(limiquantix.attached/<domain UUID>) with the host name (as libvirt reports it) and the domain name.
      - Written before the disk is attached (and added to a disk attached earlier without one); removed
        only after a detach is verified, when neither the running domain nor its persistent config still
        names the image. A record naming this host and the domain's name under another UUID (the domain
        was redefined) is removed too.
      - With O(state=absent) and O(pool) and O(image) given, the record of that image is cleared when the
        domain no longer uses it, also when the domain no longer exists on this host (a stale record).
      - Needs the Ceph connection options of a client that may write the pool (for example O(user=libvirt)
        on a hypervisor set up by the C(ceph_client) role); the task fails before changing the domain when
        the cluster cannot be reached.
    type: bool
    default: true
notes:
  - The Ceph connection options are used by O(record_attachment) (to write the attachment records) and by
    O(refresh_size) (to read the image's size).
    This module is in the action group C(group/limiquantix.ceph_rbd.libvirt) only, so
    C(module_defaults) for C(group/limiquantix.ceph_rbd.ceph) does not reach it; set them on
    the task, or in C(module_defaults) under C(limiquantix.ceph_rbd.libvirt_rbd_disk).
  - Live detach of a virtio disk needs a guest OS that acknowledges the unplug; use bus V(scsi)
    for disks that must detach from guests that may not cooperate.
seealso:
  - module: limiquantix.ceph_rbd.libvirt_secret
  - module: limiquantix.ceph_rbd.libvirt_rbd_disk_info
  - module: limiquantix.ceph_rbd.rbd_image
  - name: libvirt domain XML, network disks
    description: The C(<disk type='network'>) element this module writes.
    link: https://libvirt.org/formatdomain.html#hard-drives-floppy-disks-cdroms
extends_documentation_fragment:
  - limiquantix.ceph_rbd.connection
  - limiquantix.ceph_rbd.connection.LIBVIRT
  - limiquantix.ceph_rbd.attributes
  - limiquantix.ceph_rbd.attributes.LIBVIRT_GROUP
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows the disk XML in each managed scope (config, live) before and after,
        and with O(refresh_size) the size the guest sees.
"""

EXAMPLES = r"""
- name: Attach volume vol-1001 to vm-1001 (persistent, and live when it runs)
  limiquantix.ceph_rbd.libvirt_rbd_disk:
    domain: vm-1001
    target: vdb
    pool: limiquantix-volumes
    image: vol-1001
    mon_hosts:
      - 10.0.0.1:6789
      - 10.0.0.2:6789
      - 10.0.0.3:6789
    auth_user: libvirt
    secret_usage: client.libvirt secret
    serial: vol-1001
    iotune:
      total_iops_sec: 2000
      total_iops_sec_max: 4000
      total_bytes_sec: 200M
  register: vol_disk

- name: Hot-plug a scratch volume on virtio-scsi (detaches without guest help)
  limiquantix.ceph_rbd.libvirt_rbd_disk:
    domain: vm-1001
    target: sdb
    bus: scsi
    pool: limiquantix-volumes
    image: vol-1002
    auth_user: libvirt
    secret_uuid: 0b5a2e1c-7d0e-4a57-9b32-8f1d2c3e4a51
    cache: none
    io: native

- name: Grow the volume, then tell the running guest
  limiquantix.ceph_rbd.rbd_image:
    pool: limiquantix-volumes
    name: vol-1001
    size: 40G

- name: Refresh the size the guest sees
  limiquantix.ceph_rbd.libvirt_rbd_disk:
    domain: vm-1001
    target: vdb
    pool: limiquantix-volumes
    image: vol-1001
    mon_hosts:
      - 10.0.0.1:6789
      - 10.0.0.2:6789
      - 10.0.0.3:6789
    auth_user: libvirt
    secret_usage: client.libvirt secret
    serial: vol-1001
    iotune:
      total_iops_sec: 2000
      total_iops_sec_max: 4000
      total_bytes_sec: 200M
    refresh_size: true

- name: Detach the scratch volume from the running domain and its config
  limiquantix.ceph_rbd.libvirt_rbd_disk:
    domain: vm-1001
    target: sdb
    state: absent

- name: Hand the qemu spec to a tool that takes one
  ansible.builtin.debug:
    msg: "qemu-img info '{{ vol_disk.qemu_spec }}'"
"""

RETURN = r"""
xml:
  description:
    - The disk element as the module defines it (without libvirt's alias and address),
      read back from the config (or the running domain when only O(live) is managed).
    - Null with O(state=absent).
  returned: always
  type: str
  sample: |
    <disk type="network" device="disk">
      <driver name="qemu" type="raw" cache="writeback" discard="unmap" />
      <auth username="libvirt">
        <secret type="ceph" usage="client.libvirt secret" />
      </auth>
      <source protocol="rbd" name="limiquantix-volumes/vol-1001">
        <host name="10.0.0.1" port="6789" />
      </source>
      <target dev="vdb" bus="virtio" />
    </disk>
qemu_spec:
  description:
    - The volume as a qemu C(rbd:) filename, C(:) in monitor addresses escaped as C(\:).
      Holds no key. Null with O(state=absent).
  returned: always
  type: str
  sample: rbd:limiquantix-volumes/vol-1001:mon_host=10.0.0.1\:6789;10.0.0.2\:6789:id=libvirt:auth_supported=cephx
live:
  description: Whether the running domain was managed.
  returned: always
  type: bool
  sample: true
config:
  description: Whether the persistent config was managed.
  returned: always
  type: bool
  sample: true
actions:
  description:
    - "What was done (or would be done in check mode), each as scope and action, for example V(live: attach).
      The actions are V(attach), V(update), V(iotune), V(replace), V(detach) and V(resize); a change of an
      attachment record (O(record_attachment)) is a line of its own, for example
      V(record attachment of limiquantix-volumes/vol-1001 to domain vm-1001 on host hv-1)."
  returned: always
  type: list
  elements: str
  sample: ["live: attach", "config: attach"]
size:
  description: With O(refresh_size) on a running domain, the size in bytes the guest sees afterwards; else null.
  returned: always
  type: int
  sample: 42949672960
"""

from contextlib import ExitStack

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import ceph_connection_argument_spec
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_connection import (
    libvirt_connection,
    libvirt_connection_argument_spec,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_disk import (
    CACHE_MODES,
    DISCARD_MODES,
    IO_MODES,
    BUSES,
    plan_refresh,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_disk_service import (
    SCOPES,
    apply_plans,
    image_size,
    plan_domain,
    wanted_disk,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_disk_xml import (
    build_disk_xml,
    canonical_disk_xml,
    qemu_spec,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_domain import (
    block_capacity,
    block_resize,
    disk_element,
    lookup_domain,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_domain_reads import find_domain
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_disk_records import (
    DiskRecords,
    clear_records_of_missing_domain,
    clears_stale_record,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.module_runner import LIBVIRT, run_module


def argument_spec() -> dict:
    spec = ceph_connection_argument_spec()
    spec.update(libvirt_connection_argument_spec())
    spec.update(
        domain={"type": "str", "required": True},
        target={"type": "str", "required": True},
        bus={"type": "str", "choices": list(BUSES)},
        pool={"type": "str"},
        namespace={"type": "str", "default": ""},
        image={"type": "str"},
        mon_hosts={"type": "list", "elements": "str", "default": []},
        auth_user={"type": "str"},
        secret_uuid={"type": "str", "no_log": False},  # an identifier, not the key
        secret_usage={"type": "str", "no_log": False},
        cache={"type": "str", "choices": list(CACHE_MODES), "default": "writeback"},
        io={"type": "str", "choices": list(IO_MODES)},
        discard={"type": "str", "choices": list(DISCARD_MODES), "default": "unmap"},
        readonly={"type": "bool", "default": False},
        shareable={"type": "bool", "default": False},
        serial={"type": "str"},
        iotune={"type": "dict", "default": {}},
        state={"type": "str", "choices": ["present", "absent"], "default": "present"},
        live={"type": "bool"},
        config={"type": "bool"},
        replace={"type": "bool", "default": False},
        refresh_size={"type": "bool", "default": False},
        record_attachment={"type": "bool", "default": True},
    )
    return spec


def run(module: AnsibleModule) -> dict:
    params = module.params
    wanted, target = wanted_disk(params)
    with libvirt_connection(params["uri"]) as conn, ExitStack() as stack:
        dom = find_domain(conn, params["domain"])
        if dom is None and clears_stale_record(params):
            return clear_records_of_missing_domain(params, conn, module.check_mode)
        if dom is None:
            dom = lookup_domain(conn, params["domain"])  # raises NotFoundError naming the domain
        plan = plan_domain(params, conn, dom, wanted, target)
        scopes, current, plans = plan["scopes"], plan["current"], plan["plans"]
        records = DiskRecords(stack, params, conn, dom, plan, wanted)
        capacity = resize_to = None
        if params["refresh_size"] and wanted and plan["live"] and plans["live"] in (None, "iotune"):
            capacity = block_capacity(dom, target)
            resize_to = plan_refresh(capacity, image_size(params, wanted), target)
        if plan["running"] and not plan["live"] and plans.get("config"):
            module.warn(f"the running domain keeps its current disk {target} until it is restarted (live: false)")
        record_actions = records.before_apply(module.check_mode)
        if not module.check_mode:
            apply_plans(dom, plans, wanted, current, target)
            if resize_to is not None:
                block_resize(dom, target, resize_to)
        record_actions += records.after_apply(plan, target, module.check_mode)
        before = {scope: canonical_disk_xml(current[scope]) for scope in scopes}
        if module.check_mode:
            after = {scope: build_disk_xml(wanted) if wanted else None for scope in scopes}
            size = resize_to or capacity
        else:
            after = {scope: canonical_disk_xml(disk_element(dom, scope, target)) for scope in scopes}
            size = block_capacity(dom, target) if capacity is not None else None
    if capacity is not None:
        before["size"], after["size"] = capacity, size
    actions = [f"{scope}: {plans[scope]}" for scope in SCOPES if plans.get(scope)]
    if resize_to is not None:
        actions.append("live: resize")
    actions += record_actions
    return {
        "changed": bool(actions), "xml": after["config" if plan["config"] else "live"],
        "qemu_spec": qemu_spec(wanted) if wanted else None, "live": plan["live"], "config": plan["config"],
        "actions": actions, "size": size, "diff": {"before": before, "after": after},
    }


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        mutually_exclusive=[("secret_uuid", "secret_usage")],
        required_if=[("state", "present", ("pool", "image"))],
        required_by={"secret_uuid": "auth_user", "secret_usage": "auth_user"},
    )
    failed, result = run_module(module, run, LIBVIRT)
    (module.fail_json if failed else module.exit_json)(**result)


if __name__ == "__main__":
    main()
