# SPDX-License-Identifier: GPL-3.0-or-later
"""rbd_image's ``source``: importing raw and qcow2 disk image files into the real cluster.

Every step asserts the module's result and what librbd reads back: the data, the import
record in the image's metadata, the space used (sparse). Test images are a few MiB, made
here with qemu-img (the benchmark imports 1 GiB: benchmarks/image_import.py).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ansible_collections.limiquantix.ceph_rbd.tests.docs_reference import content_digest

from .cephstate import (
    admin_key,
    image_held_open,
    image_metadata,
    image_names,
    image_state,
    mon,
    rbd_watchers,
    read_image,
    scratch_rbd_pool,
    used_bytes,
    wait_until,
    write_image,
)
from .harness import FQCN, run_module, run_playbook, write_playbook

MIB = 1024 ** 2
SIZE = 32 * MIB  # eight 4 MiB objects; the test disks have data in two of them
RECORD = ("limiquantix.source.digest", "limiquantix.source.format", "limiquantix.source.size")


@pytest.fixture(scope="module")
def pool(ceph):
    with scratch_rbd_pool(ceph, "import-test") as name:
        yield name


def make_raw(path: Path, seed: bytes, size: int = SIZE) -> bytes:
    """A raw disk of ``size`` bytes, zeros but for 1 MiB at 0 and 512 KiB at 20 MiB; returns its bytes."""
    first = hashlib.sha256(seed).digest() * (MIB // 32)
    second = hashlib.sha256(seed + b"2").digest() * (MIB // 64)
    data = bytearray(size)
    data[0:MIB] = first
    data[20 * MIB:20 * MIB + len(second)] = second
    path.write_bytes(bytes(data))
    return bytes(data)


def make_qcow2(raw: Path, path: Path) -> None:
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(path)], check=True)


def record(ceph, pool, name):
    return {k: v for k, v in image_metadata(ceph, pool, name).items() if k in RECORD}


def image(args, check=False, **kwargs):
    return run_module("rbd_image", args, check=check, **kwargs)


def assert_step(result, changed):
    assert not result.failed, result.msg
    assert result.changed is changed, result.data


def test_qcow2_import_cycle_is_sparse_idempotent_and_rewrites_a_changed_file(ceph, pool, tmp_path):
    # A hostile file name: spaces, quotes, a colon, a dollar sign (qemu-img gets it as one argv entry).
    raw, source = tmp_path / "disk.raw", tmp_path / "golden: 'v1' $x.qcow2"
    data = make_raw(raw, b"v1")
    make_qcow2(raw, source)
    args = {"pool": pool, "name": "golden", "source": str(source), "with_usage": True}

    check = image(args, check=True)
    assert_step(check, True)
    assert check["actions"] == [f"{pool}/golden: create",
                                f"{pool}/golden: import {source} (qcow2, digest computed while importing)"]
    assert check["image"]["size"] == SIZE and check["image"]["source"] == {
        "digest": None, "format": "qcow2", "size": source.stat().st_size}
    assert "golden" not in image_names(ceph, pool)

    created = image(args)
    assert_step(created, True)
    assert read_image(ceph, pool, "golden", SIZE) == data
    assert record(ceph, pool, "golden") == {RECORD[0]: content_digest(source), RECORD[1]: "qcow2",
                                            RECORD[2]: str(source.stat().st_size)}
    assert created["image"]["source"] == {"digest": content_digest(source), "format": "qcow2",
                                          "size": source.stat().st_size}
    assert created["image"]["metadata"] == {}  # the record is not user metadata
    assert used_bytes(ceph, pool, "golden") == 8 * MIB == created["image"]["used_bytes"]  # 2 of 8 objects

    # Written behind the module's back where the disk has zeros: a re-run that rewrote would erase it.
    write_image(ceph, pool, "golden", b"marker", 10 * MIB)
    for check_mode in (True, False):
        again = image(args, check=check_mode)
        assert_step(again, False)
        assert again["actions"] == []
    assert read_image(ceph, pool, "golden", 6, 10 * MIB) == b"marker"

    old = content_digest(source)
    data = make_raw(raw, b"v2")
    make_qcow2(raw, source)
    new = content_digest(source)
    assert old != new and Path(source).stat().st_size == int(record(ceph, pool, "golden")[RECORD[2]])
    check = image(args, check=True)
    assert_step(check, True)
    assert check["actions"] == [f"{pool}/golden: import {source} (qcow2, digest {new}), "
                                f"replacing the import of digest {old}"]
    assert check.diff["before"]["source"]["digest"] == old and check.diff["after"]["source"]["digest"] == new
    assert record(ceph, pool, "golden")[RECORD[0]] == old

    rewritten = image(args)
    assert_step(rewritten, True)
    assert rewritten.diff["before"]["source"]["digest"] == old and rewritten.diff["after"]["source"]["digest"] == new
    assert read_image(ceph, pool, "golden", SIZE) == data  # the marker is gone too: all was zeroed first
    assert record(ceph, pool, "golden")[RECORD[0]] == new

    deleted = image({"pool": pool, "name": "golden", "state": "absent", "source": str(source)})
    assert_step(deleted, True)
    assert "golden" not in image_names(ceph, pool)
    assert_step(image({"pool": pool, "name": "golden", "state": "absent"}), False)


def test_raw_and_qcow2_in_one_batch_with_a_size_larger_than_the_source(ceph, pool, tmp_path):
    raw, qcow2 = tmp_path / "a.img", tmp_path / "b.qcow2"
    data = make_raw(raw, b"raw")
    make_qcow2(raw, qcow2)
    args = {"pool": pool, "source_format": "raw",
            "images": [{"name": "batch-raw", "source": str(raw), "size": "64M"},
                       {"name": "batch-qcow2", "source": str(qcow2), "source_format": "qcow2"}]}
    done = image(args)
    assert_step(done, True)
    assert [i["size"] for i in done["images"]] == [64 * MIB, SIZE]
    assert read_image(ceph, pool, "batch-raw", SIZE) == data == read_image(ceph, pool, "batch-qcow2", SIZE)
    assert read_image(ceph, pool, "batch-raw", 32 * MIB, SIZE) == bytes(32 * MIB)
    assert record(ceph, pool, "batch-raw")[RECORD[1]] == "raw" and used_bytes(ceph, pool, "batch-raw") == 8 * MIB
    assert_step(image(args), False)
    assert_step(image(dict(args, state="absent")), True)
    assert not {"batch-raw", "batch-qcow2"} & set(image_names(ceph, pool))


@pytest.fixture()
def imported(ceph, pool, tmp_path):
    """An image with a finished import of a raw file; yields (name, file, data)."""
    raw = tmp_path / "base.img"
    data = make_raw(raw, b"base")
    assert_step(image({"pool": pool, "name": "base", "source": str(raw)}), True)
    yield "base", raw, data
    assert_step(image({"pool": pool, "name": "base", "state": "absent"}), True)


def assert_untouched(ceph, pool, name, raw, data):
    assert record(ceph, pool, name)[RECORD[0]] == content_digest(raw)
    assert read_image(ceph, pool, name, SIZE) == data and image_state(ceph, pool, name)["size"] == SIZE


def test_the_same_bytes_in_a_sparse_copy_are_the_same_import(ceph, pool, imported, tmp_path):
    """The record is a digest of the content, not of the file's layout: a copy with holes where the
    original has written zeros changes nothing; one byte more in those zeros is imported again."""
    name, raw, data = imported
    sparse = tmp_path / "sparse copy.img"
    subprocess.run(["cp", "--sparse=always", str(raw), str(sparse)], check=True)
    assert sparse.stat().st_blocks < raw.stat().st_blocks  # the copy has holes where the original has zeros
    write_image(ceph, pool, name, b"marker", 10 * MIB)
    for check_mode in (True, False):
        again = image({"pool": pool, "name": name, "source": str(sparse)}, check=check_mode)
        assert_step(again, False)
        assert again["image"]["source"]["digest"] == content_digest(raw) == content_digest(sparse)
    assert read_image(ceph, pool, name, 6, 10 * MIB) == b"marker"  # nothing was written
    with open(sparse, "r+b") as handle:
        handle.seek(30 * MIB)
        handle.write(b"\x01")
    changed = image({"pool": pool, "name": name, "source": str(sparse)})
    assert_step(changed, True)
    assert changed.diff["before"]["source"]["digest"] == content_digest(raw)
    assert record(ceph, pool, name)[RECORD[0]] == content_digest(sparse) != content_digest(raw)
    assert read_image(ceph, pool, name, SIZE) == data[:30 * MIB] + b"\x01" + data[30 * MIB + 1:]


def bad_inputs(tmp_path: Path) -> list[tuple[dict, str]]:
    text = tmp_path / "notes.txt"
    text.write_text("not a disk\n")
    archive = tmp_path / "disk.img.gz"
    archive.write_bytes(b"\x1f\x8b\x08\x00" + bytes(4092))
    qcow2 = tmp_path / "other.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(qcow2), "64M"], check=True)
    big = tmp_path / "big.img"
    with open(big, "wb") as handle:
        handle.truncate(64 * MIB)
    return [
        ({"source": str(tmp_path / "missing.img")}, f"source {tmp_path}/missing.img does not exist on this host"),
        ({"source": str(tmp_path)}, f"source {tmp_path} is a directory, not a disk image file"),
        ({"source": str(text)}, f"source {text} is not a disk image: it is not qcow2, and its size (11 bytes)"),
        ({"source": str(archive)}, f"source {archive} is a gzip file, not a disk image this module imports"),
        ({"source": str(qcow2), "source_format": "raw"},
         f"source {qcow2} is a qcow2 image, but source_format is raw: set source_format to qcow2 or auto"),
        ({"source": str(big), "size": "32M"},
         f"source {big} holds a disk of 64 MiB (67108864 bytes), larger than size 32 MiB"),
        ({"source": "disk.img"}, "source must be the absolute path of a disk image file"),
    ]


def python_without_dac(tmp_path: Path) -> Path:
    """An interpreter for the module without the capabilities that let root read any file."""
    python = tmp_path / "python-without-dac"
    python.write_text('#!/bin/sh\nexec setpriv --bounding-set=-dac_override,-dac_read_search /usr/bin/python3 "$@"\n')
    python.chmod(0o755)
    return python


def test_bad_input_fails_before_anything_is_created_or_changed(ceph, pool, tmp_path, imported):
    name, raw, data = imported
    locked = tmp_path / "locked.img"
    make_raw(locked, b"locked")
    locked.chmod(0)
    cases = bad_inputs(tmp_path) + [({"source": str(locked), "vars": {"ansible_python_interpreter": str(
        python_without_dac(tmp_path))}}, f"source {locked} cannot be read: permission denied")]
    tasks, expected = [], []
    for options, text in cases:
        options = dict(options)
        task_vars = options.pop("vars", {})
        for target, check_mode in (("new-image", True), ("new-image", False), (name, False)):
            tasks.append({"name": f"{target} {text}", "ignore_errors": True, "check_mode": check_mode,
                          "vars": task_vars, f"{FQCN}.rbd_image": dict(options, pool=pool, name=target)})
            expected.append(text)
    # One playbook runs every case (one Ansible start-up, not one per case).
    result = run_playbook(write_playbook(tmp_path, tasks))
    assert len(result.tasks) == len(expected)
    for task, text in zip(result.tasks, expected):
        assert task.get("failed") and not task.get("changed"), task
        assert text in task["msg"], (text, task["msg"])
    assert "new-image" not in image_names(ceph, pool)
    assert_untouched(ceph, pool, name, raw, data)


def test_an_import_into_an_image_in_use_is_refused(ceph, pool, tmp_path, imported):
    name, raw, data = imported
    make_raw(raw, b"changed")
    with image_held_open(ceph, pool, name):
        for check_mode in (True, False):
            result = image({"pool": pool, "name": name, "source": str(raw)}, check=check_mode)
            assert result.failed and not result.changed, result.data
            assert f"image {pool}/{name} is open by (watchers) client." in result.msg
            assert "refusing to import into an image a client uses" in result.msg
    assert record(ceph, pool, name)[RECORD[0]] != content_digest(raw)
    assert read_image(ceph, pool, name, SIZE) == data


@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
def test_two_imports_at_once_into_one_image_leave_the_file_recorded_and_whole(ceph, pool, tmp_path, fmt):
    """Run twice at once (two operators, or a retried job): whichever way the two interleave,
    the image ends with the file's data and its record; a run that loses is refused as in use."""
    raw, source = tmp_path / "disk.raw", tmp_path / f"disk.{fmt}"
    data = make_raw(raw, b"concurrent")
    if fmt == "qcow2":
        make_qcow2(raw, source)
    else:
        source = raw
    name = f"twice-{fmt}"
    args = {"pool": pool, "name": name, "source": str(source)}
    with ThreadPoolExecutor(2) as runs:
        results = list(runs.map(lambda _run: image(args), range(2)))
    for result in results:
        if result.failed:
            assert not result.changed, result.data
            assert f"image {pool}/{name} is open by (watchers) client." in result.msg, result.msg
            assert "another import into it: let it finish" in result.msg
    assert any(result.changed for result in results), [r.data for r in results]
    assert read_image(ceph, pool, name, SIZE) == data
    assert record(ceph, pool, name)[RECORD[0]] == content_digest(source)
    assert rbd_watchers(ceph, pool, name) == []
    assert_step(image(args), False)
    assert_step(image(dict(args, state="absent")), True)


def fake_qemu_img(directory: Path, after: str) -> dict[str, str]:
    """PATH with a qemu-img that logs its argv, environment and the private files' modes, runs the real one, then ``after``."""
    directory.mkdir()
    script = directory / "qemu-img"
    script.write_text(f"""#!/bin/sh
printf '%s\\n' "$@" > {directory}/argv
env > {directory}/env
conf=$(printf '%s\\n' "$@" | sed -n 's/^rbd:.*:conf=\\([^:]*\\):id=.*/\\1/p')
dir=$(dirname "$conf")
stat -c '%a %n' "$dir" "$dir"/* > {directory}/modes
/usr/bin/qemu-img "$@" || exit $?
{after}
""")
    script.chmod(0o755)
    return {"PATH": f"{directory}:{os.environ['PATH']}"}


def test_an_interrupted_import_is_not_taken_for_a_finished_one(ceph, pool, tmp_path, imported):
    name, raw, _data = imported
    data = make_raw(raw, b"after the crash")
    source = tmp_path / "new.qcow2"
    make_qcow2(raw, source)
    # The module process is killed once qemu-img has written all data, before the record is.
    env = fake_qemu_img(tmp_path / "bin", "kill -9 $PPID")
    # A playbook, not run_module: a killed module's result (module_stderr, rc) is Ansible's, not
    # the module's, and test_module_docs checks every run_module result against RETURN.
    task = {f"{FQCN}.rbd_image": {"pool": pool, "name": name, "source": str(source)}, "ignore_errors": True}
    killed = run_playbook(write_playbook(tmp_path, [task]), env=env).tasks[-1]
    assert killed["failed"] and not killed.get("changed"), killed
    assert record(ceph, pool, name) == {}
    assert read_image(ceph, pool, name, SIZE) == data

    # The killed client stays a watcher until the OSDs time its watch out (30 s): an operator
    # who knows it is dead blocklists it, as here; until then the import is refused.
    refused = image({"pool": pool, "name": name, "source": str(source)})
    assert refused.failed and "is open by (watchers)" in refused.msg, refused.data
    dead = rbd_watchers(ceph, pool, name)
    for addr in dead:
        mon(ceph, "osd blocklist", blocklistop="add", addr=addr)
    wait_until("the dead client's watch to go", lambda: not rbd_watchers(ceph, pool, name), seconds=60)
    for addr in dead:
        mon(ceph, "osd blocklist", blocklistop="rm", addr=addr)
    again = image({"pool": pool, "name": name, "source": str(source)})
    assert_step(again, True)
    assert again["actions"] == [f"{pool}/{name}: import {source} (qcow2, digest computed while importing)"]
    assert record(ceph, pool, name)[RECORD[0]] == content_digest(source)


def test_the_key_never_reaches_qemu_img_argv_and_its_files_are_private(ceph, pool, tmp_path, testenv):
    raw, source = tmp_path / "k.img", tmp_path / "k.qcow2"  # qcow2: qemu-img writes it
    make_raw(raw, b"key")
    make_qcow2(raw, source)
    env = fake_qemu_img(tmp_path / "bin", "exit 0")
    key = admin_key(testenv)
    env.update(CEPH_KEYRING="", CEPH_KEY=key)
    done = image({"pool": pool, "name": "keyed", "source": str(source)}, env=env)
    assert_step(done, True)
    argv = (tmp_path / "bin" / "argv").read_text()
    assert key not in argv and key not in done.stdout and "id=admin" in argv
    assert key not in (tmp_path / "bin" / "env").read_text()  # nor in its environment (no CEPH_*)
    modes = (tmp_path / "bin" / "modes").read_text().split("\n")
    assert modes[0].startswith("700 ") and {m.split()[0] for m in modes[1:] if m} == {"600"}
    assert sorted(Path(m.split()[1]).name for m in modes[1:] if m) == ["ceph.conf", "keyring"]
    assert not Path(modes[0].split()[1]).exists()  # removed afterwards
    assert record(ceph, pool, "keyed")[RECORD[1]] == "qcow2"
    assert_step(image({"pool": pool, "name": "keyed", "state": "absent"}), True)
