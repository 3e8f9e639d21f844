# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/golden_image.yml with versions, against the real cluster and libvirtd: each
version imported from a disk image file and kept as a protected snapshot, clones of older
versions keep working and keep their data, retention never removes a version with clones,
and a clone of the built guest image (playbooks/files/guest_image.py) boots through librbd
and the libvirt secret and writes its line on the serial console file its XML names."""

from __future__ import annotations

import concurrent.futures
import contextlib
import subprocess
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from .cephstate import (
    create_client_key,
    define_ceph_secret,
    delete_client_key,
    domain_with_rbd_disks,
    image_names,
    image_parent,
    image_snapshots,
    rbd_watchers,
    read_image,
    remove_image,
    scratch_rbd_pool,
    undefine_secret,
    usable_domain_type,
    wait_until,
)
from .harness import COLLECTION_ROOT, SYSTEM_PYTHON, run_playbook
from .hypervisor_helpers import libvirt_conn
from .test_fleet import changed_tasks, failures

GOLDEN = COLLECTION_ROOT / "playbooks" / "golden_image.yml"
GUEST_IMAGE = COLLECTION_ROOT / "playbooks" / "files" / "guest_image.py"
BOOT_LINE = b"limiquantix-boot-ok"
MIB = 1 << 20
# What a run that loses a race with another one says: the other one has the base image open
# (importing), is protecting the same snapshot, or took it first.
RACE_LOST = ("is open by", "image is busy", "exists")


def build_guest_image(directory: Path) -> tuple[Path, Path]:
    """The bootable guest disk, raw and qcow2 (64 MiB, two sectors of data)."""
    raw, qcow2 = directory / "guest.raw", directory / "guest.qcow2"
    subprocess.run([SYSTEM_PYTHON, str(GUEST_IMAGE), str(raw), "--qcow2", str(qcow2)], check=True,
                   capture_output=True)
    return raw, qcow2


def data_disk(path: Path, text: bytes, size: int = 8 * MIB) -> Path:
    """A raw disk image holding ``text`` at offset 0 and at 4 MiB, zeros elsewhere."""
    with open(path, "wb") as handle:
        handle.write(text)
        handle.seek(4 * MIB)
        handle.write(text)
        handle.truncate(size)
    return path


@pytest.fixture
def golden_pool(ceph):
    with scratch_rbd_pool(ceph, f"golden-{uuid.uuid4().hex[:6]}") as pool:
        yield pool


def golden(pool: str, check: bool = False, **variables):
    extra = {"golden_target": "localhost", "golden_pool": pool, "golden_base_image": "base",
             "golden_volume_size": "64M", **variables}
    return run_playbook(GOLDEN, extra_vars=extra, check=check)


def assert_ran(result) -> None:
    assert result["_rc"] == 0, failures(result) or result.stdout[-3000:]


def test_versions_clone_from_the_named_version_old_clones_keep_their_data_retention_spares_them(
        ceph, golden_pool, tmp_path):
    pool = golden_pool
    raw, _qcow2 = build_guest_image(tmp_path)
    guest = raw.read_bytes()[:1024]
    v2 = data_disk(tmp_path / "v2.raw", b"golden version 2")
    v3 = data_disk(tmp_path / "v3.raw", b"golden version 3")
    first = {"golden_source": str(raw), "golden_version": "v1", "golden_volume_ids": ["a"]}

    # check -> apply -> check -> apply: version v1 from the guest image, vol-a cloned from it
    predicted = golden(pool, check=True, **first)
    assert_ran(predicted)
    assert changed_tasks(predicted) and image_names(ceph, pool) == []
    assert_ran(golden(pool, **first))
    assert image_snapshots(ceph, pool, "base")["v1"]["protected"] is True
    assert image_parent(ceph, pool, "vol-a") == f"{pool}/base@v1"
    assert read_image(ceph, pool, "vol-a", 1024) == guest
    for check in (True, False):
        again = golden(pool, check=check, **first)
        assert_ran(again)
        assert changed_tasks(again) == set(), check

    # a new version: imported into the base, snapshotted as v2; vol-b clones from it, vol-a keeps v1
    second = {"golden_source": str(v2), "golden_version": "v2", "golden_volume_ids": ["a", "b"]}
    predicted = golden(pool, check=True, **second)
    assert_ran(predicted)
    assert set(image_snapshots(ceph, pool, "base")) == {"v1"} and "vol-b" not in image_names(ceph, pool)
    assert_ran(golden(pool, **second))
    assert {name: snap["protected"] for name, snap in image_snapshots(ceph, pool, "base").items()} == {
        "v1": True, "v2": True}
    assert image_parent(ceph, pool, "vol-b") == f"{pool}/base@v2"
    # v2 is v2's file alone: nothing of v1 (the guest's boot sectors) is left under its zeros
    assert read_image(ceph, pool, "vol-b", 1024) == b"golden version 2".ljust(1024, b"\0")
    assert read_image(ceph, pool, "vol-b", 16, 4 * MIB) == b"golden version 2"
    assert image_parent(ceph, pool, "vol-a") == f"{pool}/base@v1"
    assert read_image(ceph, pool, "vol-a", 1024) == guest
    assert read_image(ceph, pool, "vol-a", 16, 4 * MIB) == bytes(16)  # v2's data is not in v1's clones

    # a changed file under the newest version's name: refused, nothing written
    changed_file = dict(second)
    changed_file["golden_source"] = str(v3)
    refused = golden(pool, **changed_file)
    assert refused["_rc"] != 0
    assert "version v2 already exists" in " ".join(failures(refused))
    assert "give the new file a new golden_version" in " ".join(failures(refused))
    assert read_image(ceph, pool, "base", 16) == b"golden version 2"
    assert set(image_snapshots(ceph, pool, "base")) == {"v1", "v2"}

    # naming an older version clones new volumes from it (its file is not imported again)
    older = golden(pool, golden_source=str(raw), golden_version="v1", golden_volume_ids=["c"])
    assert_ran(older)
    assert image_parent(ceph, pool, "vol-c") == f"{pool}/base@v1"
    assert read_image(ceph, pool, "base", 16) == b"golden version 2"

    # v3 with retention 1: v1 (vol-a, vol-c) and v2 (vol-b) have clones and stay
    third = {"golden_source": str(v3), "golden_version": "v3", "golden_keep_versions": 1}
    result = golden(pool, **third)
    assert_ran(result)
    assert set(image_snapshots(ceph, pool, "base")) == {"v1", "v2", "v3"}
    kept = next(t for t in result.tasks if t["_task"] == "Old versions kept because clones use them")
    assert sorted(item["msg"] for item in kept["results"]) == [
        f"v1: {pool}/vol-a, {pool}/vol-c", f"v2: {pool}/vol-b"]

    # without its clone v2 goes (check mode predicts it first); v1 stays for vol-a and vol-c
    remove_image(ceph, pool, "vol-b")
    predicted = golden(pool, check=True, **third)
    assert_ran(predicted)
    assert ("localhost", "Remove the old versions that have no clones (never one with clones)") in changed_tasks(
        predicted)
    assert set(image_snapshots(ceph, pool, "base")) == {"v1", "v2", "v3"}
    assert_ran(golden(pool, **third))
    assert set(image_snapshots(ceph, pool, "base")) == {"v1", "v3"}
    assert read_image(ceph, pool, "vol-a", 1024) == guest and read_image(ceph, pool, "vol-c", 1024) == guest

    # bad retention value: refused before anything is read or changed
    negative = dict(third)
    negative["golden_keep_versions"] = "-1"
    bad = golden(pool, **negative)
    assert bad["_rc"] != 0 and "golden_keep_versions a whole number" in " ".join(failures(bad))
    assert set(image_snapshots(ceph, pool, "base")) == {"v1", "v3"}
    # a version name that breaks pool/image@snap specs: refused before the import writes anything
    hostile = golden(pool, golden_source=str(v2), golden_version="v4@x y")
    assert hostile["_rc"] != 0 and "without /, @, :, whitespace or NUL" in " ".join(failures(hostile))
    assert set(image_snapshots(ceph, pool, "base")) == {"v1", "v3"}
    assert read_image(ceph, pool, "base", 16) == b"golden version 3"

    # retire: flatten the clones, remove every version and the base; the clones keep their data
    retire = {"golden_phase": "retire", "golden_volume_ids": ["a", "c"]}
    assert_ran(golden(pool, **retire))
    assert sorted(image_names(ceph, pool)) == ["vol-a", "vol-c"]
    assert image_parent(ceph, pool, "vol-a") is None and read_image(ceph, pool, "vol-a", 1024) == guest
    again = golden(pool, **retire)
    assert_ran(again)
    assert changed_tasks(again) == set()


@pytest.fixture
def boot_client(testenv, ceph, golden_pool):
    """A cephx client with the rbd profile on the pool, its key in a libvirt secret."""
    user, secret = f"boot{uuid.uuid4().hex[:6]}", str(uuid.uuid4())
    key = create_client_key(ceph, f"client.{user}", golden_pool)
    conn = libvirt_conn()
    define_ceph_secret(conn, secret, f"client.{user} secret", key)
    yield {"user": user, "secret": secret, "conn": conn}
    undefine_secret(conn, secret)
    conn.close()
    delete_client_key(ceph, f"client.{user}")


def booting_domain_xml(name: str, pool: str, image: str, client: dict, mon: str, serial: Path) -> str:
    """A domain whose only disk (the boot disk) is the RBD image through librbd and the libvirt
    secret, with its first serial port written to ``serial``."""
    dom = ET.fromstring(domain_with_rbd_disks(name, [(pool, image)], mon, client["user"], client["secret"],
                                              usable_domain_type()))
    ET.SubElement(dom.find("os"), "boot", {"dev": "hd"})
    console = ET.SubElement(dom.find("devices"), "serial", {"type": "file"})
    ET.SubElement(console, "source", {"path": str(serial)})
    ET.SubElement(console, "target", {"port": "0"})
    return ET.tostring(dom, encoding="unicode")


def test_a_clone_of_the_guest_image_boots_from_rbd_and_writes_its_line(
        testenv, ceph, golden_pool, boot_client, tmp_path):
    import libvirt  # pylint: disable=import-outside-toplevel

    pool = golden_pool
    _raw, qcow2 = build_guest_image(tmp_path)
    assert_ran(golden(pool, golden_source=str(qcow2), golden_version="v1", golden_volume_ids=["boot"]))
    assert image_parent(ceph, pool, "vol-boot") == f"{pool}/base@v1"

    serial = tmp_path / "serial.log"
    name = f"t-boot-{uuid.uuid4().hex[:6]}"
    conn = boot_client["conn"]
    try:
        conn.createXML(booting_domain_xml(name, pool, "vol-boot", boot_client, testenv["TESTENV_MON_ADDR"],
                                          serial), 0)
        assert ET.fromstring(conn.lookupByName(name).XMLDesc(0)).find(
            "devices/serial/source").get("path") == str(serial)
        # The whole line, its CR LF included: the file may be read between two bytes of it.
        wait_until("the guest's line on its serial console",
                   lambda: serial.exists() and BOOT_LINE + b"\r\n" in serial.read_bytes(), seconds=180)
        assert serial.read_bytes().startswith(BOOT_LINE + b"\r\n")
        assert len(rbd_watchers(ceph, pool, "vol-boot")) == 1  # QEMU has the clone open
    finally:
        with contextlib.suppress(libvirt.libvirtError):
            conn.lookupByName(name).destroy()  # transient: gone once stopped


def test_two_runs_publishing_the_same_version_at_once_leave_one_version_and_converge(ceph, golden_pool, tmp_path):
    """A race, not a lock: a run may lose (the other one is importing into the base image, or
    protecting the same snapshot), with a clear error; nothing is lost, there is one version,
    and the next run converges."""
    pool = golden_pool
    raw, _qcow2 = build_guest_image(tmp_path)
    with concurrent.futures.ThreadPoolExecutor(2) as pool_of_runs:
        runs = [pool_of_runs.submit(golden, pool, golden_source=str(raw), golden_version="v1",
                                    golden_volume_ids=[volume]) for volume in ("a", "b")]
        results = [run.result() for run in runs]
    for result in results:
        if result["_rc"] != 0:
            assert any(f"{pool}/base" in line and any(word in line for word in RACE_LOST)
                       for line in failures(result)), failures(result)
    assert list(image_snapshots(ceph, pool, "base")) == ["v1"]
    assert image_snapshots(ceph, pool, "base")["v1"]["protected"] is True
    again = golden(pool, golden_source=str(raw), golden_version="v1", golden_volume_ids=["a", "b"])
    assert_ran(again)
    for volume in ("vol-a", "vol-b"):
        assert image_parent(ceph, pool, volume) == f"{pool}/base@v1"
        assert read_image(ceph, pool, volume, 1024) == raw.read_bytes()[:1024]
