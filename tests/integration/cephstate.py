# SPDX-License-Identifier: GPL-3.0-or-later
"""Read and set up the real cluster's state from tests (admin librados connection)."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


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


# ---------------------------------------------------------------------------
# Images, snapshots and clones through librbd (added by the snapshot helper,
# issue 6). Tests create and inspect images directly, independent of rbd_image.
# ---------------------------------------------------------------------------

def create_rbd_pool(ceph, name: str, namespaces: tuple[str, ...] = ()) -> None:
    """A pool initialised for RBD, with the given RBD namespaces."""
    import rbd  # pylint: disable=import-outside-toplevel

    create_pool(ceph, name)
    with ceph.open_ioctx(name) as ioctx:
        rbd.RBD().pool_init(ioctx, True)
        for namespace in namespaces:
            rbd.RBD().namespace_create(ioctx, namespace)


@contextmanager
def scratch_rbd_pool(ceph, name: str, namespaces: tuple[str, ...] = ()) -> Iterator[str]:
    """An RBD pool for one test file: a leftover of an earlier run is deleted first, the pool after."""
    delete_pool(ceph, name)
    create_rbd_pool(ceph, name, namespaces)
    try:
        yield name
    finally:
        delete_pool(ceph, name)


def rbd_ioctx(ceph, pool: str, namespace: str = ""):
    """An I/O context on a pool and RBD namespace; the caller closes it (``with``)."""
    ioctx = ceph.open_ioctx(pool)
    if namespace:
        ioctx.set_namespace(namespace)
    return ioctx


def create_image(ceph, pool: str, name: str, size: int, namespace: str = "") -> None:
    import rbd  # pylint: disable=import-outside-toplevel

    with rbd_ioctx(ceph, pool, namespace) as ioctx:
        rbd.RBD().create(ioctx, name, size)


def image_names(ceph, pool: str, namespace: str = "") -> list[str]:
    import rbd  # pylint: disable=import-outside-toplevel

    with rbd_ioctx(ceph, pool, namespace) as ioctx:
        return sorted(rbd.RBD().list(ioctx))


def write_image(ceph, pool: str, name: str, data: bytes, offset: int = 0, namespace: str = "") -> None:
    import rbd  # pylint: disable=import-outside-toplevel

    with rbd_ioctx(ceph, pool, namespace) as ioctx, rbd.Image(ioctx, name) as image:
        image.write(data, offset)
        image.flush()


def read_image(ceph, pool: str, name: str, length: int, offset: int = 0, namespace: str = "") -> bytes:
    import rbd  # pylint: disable=import-outside-toplevel

    with rbd_ioctx(ceph, pool, namespace) as ioctx, rbd.Image(ioctx, name, read_only=True) as image:
        return image.read(offset, length)


def image_metadata(ceph, pool: str, name: str, namespace: str = "") -> dict[str, str]:
    """Every metadata key of an image, as the rbd CLI shows them (image-meta list)."""
    import rbd  # pylint: disable=import-outside-toplevel

    with rbd_ioctx(ceph, pool, namespace) as ioctx, rbd.Image(ioctx, name, read_only=True) as image:
        return dict(image.metadata_list())


def attachment_records(ceph, pool: str, name: str, namespace: str = "") -> list[tuple[str, str]]:
    """(host, domain) of each attachment record (metadata limiquantix.attached/<uuid>) on an image."""
    import json  # pylint: disable=import-outside-toplevel

    records = []
    for key, value in image_metadata(ceph, pool, name, namespace).items():
        if key.startswith("limiquantix.attached/"):
            data = json.loads(value)
            assert key == "limiquantix.attached/" + data["uuid"]
            records.append((data["host"], data["domain"]))
    return sorted(records)


def used_bytes(ceph, pool: str, name: str, namespace: str = "") -> int:
    """Bytes of the image's allocated objects, as ``rbd du`` counts them (diff-iterate, whole objects)."""
    import rbd  # pylint: disable=import-outside-toplevel

    total = [0]

    def count(_offset: int, length: int, exists: bool) -> int:
        total[0] += length if exists else 0
        return 0

    with rbd_ioctx(ceph, pool, namespace) as ioctx, rbd.Image(ioctx, name, read_only=True) as image:
        image.diff_iterate(0, image.size(), None, count, include_parent=False, whole_object=True)
    return total[0]


def image_size(ceph, pool: str, name: str, namespace: str = "") -> int:
    import rbd  # pylint: disable=import-outside-toplevel

    with rbd_ioctx(ceph, pool, namespace) as ioctx, rbd.Image(ioctx, name, read_only=True) as image:
        return image.size()


def image_snapshots(ceph, pool: str, name: str, namespace: str = "") -> dict[str, dict[str, Any]]:
    """The image's snapshots by name: id, size, protected."""
    import rbd  # pylint: disable=import-outside-toplevel

    with rbd_ioctx(ceph, pool, namespace) as ioctx, rbd.Image(ioctx, name, read_only=True) as image:
        return {s["name"]: {"id": s["id"], "size": s["size"], "protected": image.is_protected_snap(s["name"])}
                for s in image.list_snaps()}


def clone_image(ceph, pool: str, parent: str, snapshot: str, child: str, namespace: str = "") -> None:
    """Clone pool/[namespace/]parent@snapshot into pool/[namespace/]child.

    The clone stays in the parent's namespace: clone format 1 (what a cluster that
    allows pre-Mimic clients uses) cannot clone across namespaces.
    """
    import rbd  # pylint: disable=import-outside-toplevel

    with rbd_ioctx(ceph, pool, namespace) as ioctx:
        rbd.RBD().clone(ioctx, parent, snapshot, ioctx, child)


def resize_image(ceph, pool: str, name: str, size: int, namespace: str = "") -> None:
    import rbd  # pylint: disable=import-outside-toplevel

    with rbd_ioctx(ceph, pool, namespace) as ioctx, rbd.Image(ioctx, name) as image:
        image.resize(size)


def flatten_image(ceph, pool: str, name: str, namespace: str = "") -> None:
    import rbd  # pylint: disable=import-outside-toplevel

    with rbd_ioctx(ceph, pool, namespace) as ioctx, rbd.Image(ioctx, name) as image:
        image.flatten()


def image_parent(ceph, pool: str, name: str, namespace: str = "") -> str | None:
    """``pool/image@snap`` of a clone's parent, None for an image without one."""
    import rbd  # pylint: disable=import-outside-toplevel

    with rbd_ioctx(ceph, pool, namespace) as ioctx, rbd.Image(ioctx, name, read_only=True) as image:
        try:
            parent = image.get_parent_image_spec()
        except rbd.ImageNotFound:
            return None
        namespace = f"{parent['pool_namespace']}/" if parent.get("pool_namespace") else ""
        return f"{parent['pool_name']}/{namespace}{parent['image_name']}@{parent['snap_name']}"


@contextmanager
def image_held_open(ceph, pool: str, name: str, namespace: str = "") -> Iterator[Any]:
    """Keep an image open read-write in this process: that registers a watcher ("in use")."""
    import rbd  # pylint: disable=import-outside-toplevel

    with rbd_ioctx(ceph, pool, namespace) as ioctx, rbd.Image(ioctx, name) as image:
        yield image


def remove_image(ceph, pool: str, name: str, namespace: str = "") -> None:
    import rbd  # pylint: disable=import-outside-toplevel

    with rbd_ioctx(ceph, pool, namespace) as ioctx:
        rbd.RBD().remove(ioctx, name)


# ---------------------------------------------------------------------------
# Images in more detail, EC pools and the trash (added by the image helper, issue 5).
# ---------------------------------------------------------------------------

def create_ec_pool(ceph, name: str, overwrites: bool = True) -> None:
    """An erasure-coded k=2,m=1 pool (one OSD per chunk), optionally allowing overwrites."""
    mon(ceph, "osd erasure-code-profile set", name="k2m1-osd", profile=["k=2", "m=1", "crush-failure-domain=osd"])
    mon(ceph, "osd pool create", pool=name, pg_num=8, pgp_num=8, pool_type="erasure",
        erasure_code_profile="k2m1-osd")
    if overwrites:
        mon(ceph, "osd pool set", pool=name, var="allow_ec_overwrites", val="true")
    mon(ceph, "osd pool application enable", pool=name, app="rbd")


def trash_names(ceph, pool: str, namespace: str = "") -> list[str]:
    import rbd  # pylint: disable=import-outside-toplevel

    with rbd_ioctx(ceph, pool, namespace) as ioctx:
        return sorted(entry["name"] for entry in rbd.RBD().trash_list(ioctx))


def image_state(ceph, pool: str, name: str, namespace: str = "") -> dict[str, Any] | None:
    """What librbd says about an image (read-only open), or None when it does not exist."""
    import rbd  # pylint: disable=import-outside-toplevel

    with rbd_ioctx(ceph, pool, namespace) as ioctx:
        if name not in rbd.RBD().list(ioctx):
            return None
        with rbd.Image(ioctx, name, read_only=True) as image:
            try:
                parent = image.get_parent_image_spec()
            except rbd.ImageNotFound:
                parent = None
            snaps = [s for s in image.list_snaps() if s.get("namespace", 0) == 0]
            return {
                "id": image.id(),
                "size": image.size(),
                "features": image.features(),
                "flags": image.flags(),
                "object_size": image.stat()["obj_size"],
                "stripe_unit": image.stripe_unit(),
                "stripe_count": image.stripe_count(),
                "data_pool_id": image.data_pool_id(),
                "parent": parent,
                "metadata": dict(image.metadata_list()),
                "snapshots": {s["name"]: image.is_protected_snap(s["name"]) for s in snaps},
            }


def create_test_image(ceph, pool: str, name: str, size: int, namespace: str = "", features: int = 29,
                      snapshot: str | None = None, data: bytes | None = None) -> None:
    """An image made directly with librbd (default features layering, exclusive-lock,
    object-map, fast-diff), optionally with data at offset 0 and a snapshot."""
    import rbd  # pylint: disable=import-outside-toplevel

    with rbd_ioctx(ceph, pool, namespace) as ioctx:
        rbd.RBD().create(ioctx, name, size, old_format=False, features=features)
        with rbd.Image(ioctx, name) as image:
            if data:
                image.write(data, 0)
            if snapshot:
                image.create_snap(snapshot)


# --- libvirt_rbd_disk (helper "disk"): image watchers, cephx clients, libvirt secrets and domains ---

def rbd_watchers(ceph, pool: str, name: str) -> list[str]:
    """Addresses of the clients that have the image open (QEMU shows up here)."""
    import rbd  # pylint: disable=import-outside-toplevel

    with ceph.open_ioctx(pool) as ioctx:
        with rbd.Image(ioctx, name, read_only=True) as image:
            return sorted(w["addr"] for w in image.watchers_list())


def create_client_key(ceph, entity: str, pool: str) -> str:
    """A cephx client with the rbd profile on one pool; returns its key."""
    mon(ceph, "auth get-or-create", entity=entity,
        caps=["mon", "profile rbd", "osd", f"profile rbd pool={pool}"])
    return mon(ceph, "auth get-key", entity=entity)["key"]


def delete_client_key(ceph, entity: str) -> None:
    mon(ceph, "auth del", entity=entity)


def define_ceph_secret(conn, uuid: str, usage: str, key: str) -> None:
    """A private libvirt ceph secret holding a cephx key (base64 text as ceph prints it)."""
    import base64  # pylint: disable=import-outside-toplevel
    import xml.etree.ElementTree as ET  # pylint: disable=import-outside-toplevel

    secret = ET.Element("secret", {"ephemeral": "no", "private": "yes"})
    ET.SubElement(secret, "uuid").text = uuid
    ET.SubElement(ET.SubElement(secret, "usage", {"type": "ceph"}), "name").text = usage
    conn.secretDefineXML(ET.tostring(secret, encoding="unicode")).setValue(base64.b64decode(key))


def undefine_secret(conn, uuid: str) -> None:
    import libvirt  # pylint: disable=import-outside-toplevel

    try:
        conn.secretLookupByUUIDString(uuid).undefine()
    except libvirt.libvirtError:
        pass


def small_domain_xml(name: str, domain_type: str) -> str:
    """A 96 MiB 'pc' domain with ACPI (hot-plug) and a virtio-scsi controller, no OS."""
    import xml.etree.ElementTree as ET  # pylint: disable=import-outside-toplevel

    dom = ET.Element("domain", {"type": domain_type})
    ET.SubElement(dom, "name").text = name
    ET.SubElement(dom, "memory", {"unit": "MiB"}).text = "96"
    ET.SubElement(dom, "vcpu").text = "1"
    ET.SubElement(ET.SubElement(dom, "os"), "type", {"arch": "x86_64", "machine": "pc"}).text = "hvm"
    ET.SubElement(ET.SubElement(dom, "features"), "acpi")
    devices = ET.SubElement(dom, "devices")
    ET.SubElement(devices, "controller", {"type": "scsi", "model": "virtio-scsi"})
    return ET.tostring(dom, encoding="unicode")


def usable_domain_type(qemu_user: str = "libvirt-qemu") -> str:
    """'kvm' when QEMU (run by libvirt as Debian's ``libvirt-qemu``) may open /dev/kvm, else 'qemu'.

    Trying a KVM start instead costs over a minute when it fails, so read the device's mode.
    """
    import grp  # pylint: disable=import-outside-toplevel
    import os  # pylint: disable=import-outside-toplevel
    import pwd  # pylint: disable=import-outside-toplevel

    try:
        st = os.stat("/dev/kvm")
        user = pwd.getpwnam(qemu_user)
    except (OSError, KeyError):
        return "qemu"
    groups = {g.gr_gid for g in grp.getgrall() if qemu_user in g.gr_mem} | {user.pw_gid}
    usable = (
        (st.st_uid == user.pw_uid and st.st_mode & 0o600 == 0o600)
        or (st.st_gid in groups and st.st_mode & 0o060 == 0o060)
        or st.st_mode & 0o006 == 0o006
    )
    return "kvm" if usable else "qemu"


def remove_domain(conn, name: str) -> None:
    import libvirt  # pylint: disable=import-outside-toplevel

    try:
        dom = conn.lookupByName(name)
    except libvirt.libvirtError:
        return
    if dom.isActive():
        dom.destroy()
    dom.undefine()


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


def set_monitor_option(ceph, name: str, value: str) -> None:
    """Change an option in the running monitors (beats ceph.conf; gone when they restart)."""
    leader = mon(ceph, "quorum_status")["quorum_leader_name"]
    cmd = {"prefix": "injectargs", "injected_args": [f"--{name}={value}"]}
    ret, _out, errs = ceph.mon_command(json.dumps(cmd), b"", target=leader)
    if ret != 0:
        raise RuntimeError(f"injectargs {name}: {ret} {errs}")


# ---------------------------------------------------------------------------
# Faults, health and orphan checks (added by the reliability helper, issue 11).
# ---------------------------------------------------------------------------

def wait_until(what: str, predicate, seconds: float = 120, interval: float = 0.5) -> float:
    """Poll ``predicate`` until true; return the seconds it took; raise after ``seconds``."""
    import time  # pylint: disable=import-outside-toplevel

    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(interval)
    return time.monotonic() - started


def health(ceph) -> dict[str, Any]:
    """``health detail`` as parsed JSON (status, checks)."""
    return mon(ceph, "health", detail="detail")


def pgs_active_clean(ceph) -> bool:
    """Whether every placement group is active+clean."""
    summary = mon(ceph, "pg stat")["pg_summary"]
    states = {s["name"]: s["num"] for s in summary["num_pg_by_state"]}
    return states.get("active+clean", 0) == summary["num_pgs"]


def cluster_settled(ceph) -> bool:
    """All OSDs up and in, every PG active+clean, no OSD/PG health check left."""
    osds = mon(ceph, "osd stat")
    checks = set(health(ceph).get("checks") or {})
    return (osds["num_up_osds"] == osds["num_osds"] and pgs_active_clean(ceph)
            and not checks & {"OSD_DOWN", "OSD_HOST_DOWN", "PG_DEGRADED", "PG_AVAILABILITY"})


def rbd_object_names(ceph, pool: str) -> dict[str, set[str]]:
    """RBD bookkeeping objects of a pool: names from rbd_id.*, ids from rbd_header.*."""
    ids, headers = set(), set()
    with ceph.open_ioctx(pool) as ioctx:
        for obj in ioctx.list_objects():
            if obj.key.startswith("rbd_id."):
                ids.add(obj.key[len("rbd_id."):])
            elif obj.key.startswith("rbd_header."):
                headers.add(obj.key[len("rbd_header."):])
    return {"id_objects": ids, "header_objects": headers}


def half_created_images(ceph, pool: str) -> list[str]:
    """Traces of images that are not whole: listed but unopenable, or objects without a listing.

    Every listed image must open (its header exists), and every rbd_id/rbd_header object
    must belong to a listed image.
    """
    import rbd  # pylint: disable=import-outside-toplevel

    problems = []
    with ceph.open_ioctx(pool) as ioctx:
        listed = {entry["name"]: entry["id"] for entry in rbd.RBD().list2(ioctx)}
        for name in sorted(listed):
            try:
                with rbd.Image(ioctx, name, read_only=True) as image:
                    image.size()
            except rbd.Error as exc:
                problems.append(f"{name}: cannot open ({exc})")
    objects = rbd_object_names(ceph, pool)
    problems += [f"rbd_id.{name} without a listed image" for name in objects["id_objects"] - set(listed)]
    problems += [f"rbd_header.{ident} without a listed image"
                 for ident in objects["header_objects"] - set(listed.values())]
    return problems


# --- domains with RBD disks (lead): libvirt_rbd_disk_info, migration check, deletion safety ---

def domain_with_rbd_disks(name: str, disks: list[tuple[str, str]], mon: str, user: str, secret: str,
                          domain_type: str = "qemu") -> str:
    """small_domain_xml plus virtio RBD disks vdb, vdc ... for (pool, image) pairs."""
    import xml.etree.ElementTree as ET  # pylint: disable=import-outside-toplevel

    dom = ET.fromstring(small_domain_xml(name, domain_type))
    devices = dom.find("devices")
    host, port = mon.rsplit(":", 1)
    for index, (pool, image) in enumerate(disks):
        disk = ET.SubElement(devices, "disk", {"type": "network", "device": "disk"})
        ET.SubElement(disk, "driver", {"name": "qemu", "type": "raw", "cache": "writeback", "discard": "unmap"})
        source = ET.SubElement(disk, "source", {"protocol": "rbd", "name": f"{pool}/{image}"})
        ET.SubElement(source, "host", {"name": host, "port": port})
        auth = ET.SubElement(disk, "auth", {"username": user})
        ET.SubElement(auth, "secret", {"type": "ceph", "uuid": secret})
        ET.SubElement(disk, "target", {"dev": f"vd{'bcdefg'[index]}", "bus": "virtio"})
    return ET.tostring(dom, encoding="unicode")


def admin_key(testenv) -> str:
    """The admin key of a test environment, read from its keyring."""
    for line in Path(testenv["CEPH_KEYRING"]).read_text().splitlines():
        if line.strip().startswith("key ="):
            return line.split("=", 1)[1].strip()
    raise AssertionError("no key in the admin keyring")
