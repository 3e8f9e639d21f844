# SPDX-License-Identifier: GPL-3.0-or-later
"""Disk image files as data: format detection, the qcow2 header, the import record; and the
import's planning (size, when to import)."""
from __future__ import annotations

import hashlib
import struct

import pytest

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils import image_plan
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.disk_formats import (
    detect_format,
    parse_qcow2_header,
    record_entries,
    source_record,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InvalidInputError
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_plan import new_image_dict
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_request import (
    merge_item,
    normalize_request,
)

MIB = 1024 ** 2
GIB = 1024 ** 3
SHA = "sha256-nonzero-64k:" + "a" * 64
OTHER = "sha256-nonzero-64k:" + "b" * 64


def qcow2_header(size=GIB, version=3, backing=0, cluster_bits=16, crypt=0, incompatible=0):
    head = b"QFI\xfb" + struct.pack(">IQIIQI", version, backing, 0, cluster_bits, size, crypt)
    head += b"\0" * (72 - len(head)) + struct.pack(">Q", incompatible)
    return head + b"\0" * (512 - len(head))


def test_qcow2_is_detected_by_its_magic_and_its_virtual_size_read():
    found = detect_format(qcow2_header(size=3 * GIB), 196616, "auto", "/img/a.qcow2")
    assert found == {"format": "qcow2", "virtual_size": 3 * GIB, "version": 3, "cluster_size": 65536}
    assert detect_format(qcow2_header(version=2), 4096, "qcow2", "/a")["format"] == "qcow2"


def test_a_file_of_whole_sectors_is_raw_at_its_own_size():
    assert detect_format(b"\xeb\x63\x90" + b"\0" * 509, 8 * MIB, "auto", "/a.img") == {
        "format": "raw", "virtual_size": 8 * MIB}
    assert detect_format(b"\0" * 512, 512, "raw", "/a.img")["format"] == "raw"


@pytest.mark.parametrize("size", [0, 1, 511, 8 * MIB + 3])
def test_a_file_that_is_no_whole_number_of_sectors_is_not_a_disk_image(size):
    with pytest.raises(InvalidInputError, match=r"/notes.txt is not a disk image: it is not qcow2, and its size "
                                                rf"\({size} bytes\) is not a whole number of 512-byte sectors"):
        detect_format(b"hello", size, "auto", "/notes.txt")


@pytest.mark.parametrize("head, what", [
    (b"\x1f\x8b\x08\x00", "a gzip file"), (b"\xfd7zXZ\x00\x00", "an xz file"), (b"BZh91AY", "a bzip2 file"),
    (b"\x28\xb5\x2f\xfd", "a zstd file"), (b"KDMV\x01", "a VMDK image"), (b"vhdxfile", "a VHDX image"),
    (b"PK\x03\x04", "a zip archive"), (b"LUKS\xba\xbe\x00\x02", "a LUKS encrypted volume"),
    (b"<<< Oracle VM VirtualBox Disk Image >>>\n".ljust(64, b"\0") + b"\x7f\x10\xda\xbe", "a VDI image"),
])
@pytest.mark.parametrize("wanted", ["auto", "raw"])
def test_other_formats_and_archives_are_refused_whatever_source_format_says(head, what, wanted):
    with pytest.raises(InvalidInputError, match=f"source /x is {what}, not a disk image this module imports"):
        detect_format(head.ljust(512, b"\0"), 4 * MIB, wanted, "/x")


def test_a_format_mismatch_is_an_error_never_a_guess():
    with pytest.raises(InvalidInputError, match="source /a is a qcow2 image, but source_format is raw: "
                                                "set source_format to qcow2 or auto"):
        detect_format(qcow2_header(), 4096, "raw", "/a")
    with pytest.raises(InvalidInputError, match="source /b is a raw image, but source_format is qcow2"):
        detect_format(b"\0" * 512, 4096, "qcow2", "/b")


@pytest.mark.parametrize("header, text", [
    (qcow2_header(backing=512), "with a backing file: it is not a whole disk on its own"),
    (qcow2_header(crypt=1), "is an encrypted qcow2 image"),
    (qcow2_header(incompatible=4), "whose data is in an external data file"),
    (qcow2_header(version=4), "of version 4: only versions 2 and 3"),
    (qcow2_header(cluster_bits=40), "is a damaged qcow2 image"),
    (qcow2_header()[:40], "header is missing or cut short"),
])
def test_qcow2_images_that_are_not_a_whole_disk_on_their_own_are_refused(header, text):
    with pytest.raises(InvalidInputError, match=text):
        parse_qcow2_header(header, "/g.qcow2")


def test_the_record_is_read_only_when_its_digest_is_there():
    source = {"digest": SHA, "format": "qcow2", "file_size": 4096}
    entries = record_entries(source)
    assert entries == {"limiquantix.source.digest": SHA, "limiquantix.source.format": "qcow2",
                       "limiquantix.source.size": "4096"}
    expected = {"digest": SHA, "format": "qcow2", "size": 4096}
    assert source_record(list(entries.items()) + [("tenant", "acme")]) == expected
    unfinished = [(k, v) for k, v in entries.items() if not k.endswith("digest")]
    assert source_record(unfinished) is None and source_record([]) is None
    # a development version recorded a plain sha256: no digest, so no finished import (imported again)
    assert source_record(unfinished + [("limiquantix.source.sha256", "a" * 64)]) is None


# ---------------------------------------------------------------- planning an import

def request(**options):
    return normalize_request(merge_item({"pool": "images"}, dict({"name": "golden"}, **options)))


def source(digest=SHA, virtual_size=8 * MIB, fmt="qcow2"):
    return {"path": "/img/g.qcow2", "format": fmt, "virtual_size": virtual_size, "file_size": 1 * MIB,
            "mtime_ns": 1, "digest": digest}


def plan(current, wanted, src):
    return [c.as_dict() for c in image_plan.plan_image(current, image_plan.sized_for_source(current, wanted, src),
                                                       None, src)]


def imported(size=8 * MIB, record=None):
    image = new_image_dict(request(size=size), None)
    image.update(id="abc", source=record)
    return image


def test_a_new_image_is_created_at_the_virtual_size_or_a_larger_size_then_imported():
    changes = plan(None, request(source="/img/g.qcow2"), source(digest=None))
    assert [c["action"] for c in changes] == ["create", "import"]
    assert changes[1] == {"action": "import", "path": "/img/g.qcow2", "format": "qcow2", "file_size": MIB,
                          "mtime_ns": 1, "digest": None, "previous": None}
    assert image_plan.sized_for_source(None, request(source="/a"), source())["size"] == 8 * MIB
    assert image_plan.sized_for_source(None, request(source="/a", size="1G"), source())["size"] == GIB


def test_a_size_smaller_than_the_source_is_refused():
    with pytest.raises(InvalidInputError, match=r"source /img/g.qcow2 holds a disk of 8 MiB \(8388608 bytes\), "
                                                r"larger than size 4 MiB: set size to at least that"):
        image_plan.sized_for_source(None, request(source="/a", size="4M"), source())


def test_the_same_file_changes_nothing_a_changed_one_is_imported_again_naming_both_digests():
    record = {"digest": SHA, "format": "qcow2", "size": MIB}
    assert plan(imported(record=record), request(source="/img/g.qcow2"), source()) == []
    changed = plan(imported(record=record), request(source="/img/g.qcow2"), source(digest=OTHER))
    assert changed == [{"action": "import", "path": "/img/g.qcow2", "format": "qcow2", "file_size": MIB,
                        "mtime_ns": 1, "digest": OTHER, "previous": SHA}]
    line = image_plan.describe_change("images/golden", image_plan.plan_image(
        imported(record=record), request(source="/img/g.qcow2"), None, source(digest=OTHER))[0])
    assert line == f"images/golden: import /img/g.qcow2 (qcow2, digest {OTHER}), replacing the import of digest {SHA}"
    as_raw = plan(imported(record=record), request(source="/img/g.qcow2"), source(fmt="raw"))
    assert [c["action"] for c in as_raw] == ["import"]  # the same bytes read as another format


def test_an_image_without_a_finished_import_is_imported_and_a_smaller_one_grows_first():
    assert [c["action"] for c in plan(imported(), request(source="/a"), source())] == ["import"]
    grown = plan(imported(size=4 * MIB), request(source="/a"), source())
    assert [c["action"] for c in grown] == ["resize", "import"] and grown[0]["to"] == 8 * MIB
    assert plan(imported(size=GIB, record=None), request(source="/a"), source())[0]["action"] == "import"


def test_check_mode_predicts_the_record():
    changes = image_plan.plan_image(None, request(source="/a", size="8M"), None, source(digest=None))
    after = image_plan.predict_image(None, request(source="/a", size="8M"), changes)
    assert after["source"] == {"digest": None, "format": "qcow2", "size": MIB} and after["size"] == 8 * MIB


@pytest.mark.parametrize("options, text", [
    ({"source": "relative/disk.img"}, "source must be the absolute path of a disk image file"),
    ({"source": "/a", "clone_from": "p/i@s"}, "source and clone_from exclude each other"),
    ({"source": "/a\x00b"}, "NUL"),
    ({"source": "/a", "source_format": "vmdk"}, "source_format must be one of auto, raw, qcow2"),
])
def test_bad_source_options_are_refused(options, text):
    with pytest.raises(InvalidInputError, match=text):
        request(**options)


def test_source_is_ignored_for_a_deletion_and_batch_items_inherit_it():
    assert request(source="/a", state="absent")["source"] is None
    merged = merge_item({"pool": "p", "source_format": "qcow2"}, {"name": "g", "source": "/b"})
    assert normalize_request(merged)["source"] == "/b" and normalize_request(merged)["source_format"] == "qcow2"
    assert normalize_request(merge_item({"pool": "p"}, {"name": "g"}))["source_format"] == "auto"


def test_data_runs_skip_zero_blocks_and_join_adjacent_data():
    from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.disk_source import data_runs

    block = 4
    chunk = bytearray(24)
    chunk[1] = chunk[5] = 1  # blocks 0 and 1: one run
    chunk[17] = 7  # block 4
    chunk[23] = 9  # block 5, joined to block 4
    assert list(data_runs(chunk, block)) == [(0, 8), (16, 24)]
    assert list(data_runs(bytearray(10), block)) == []
    assert list(data_runs(b"\0\0\0\0\0\1", block)) == [(4, 6)]  # a short last block


def test_the_file_is_read_only_when_the_record_could_match(tmp_path):
    from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.image_import import plan_source

    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\1" * 4096)
    wanted = request(source=str(disk))
    fresh = plan_source(wanted, None)
    assert (fresh["format"], fresh["virtual_size"], fresh["file_size"], fresh["digest"]) == ("raw", 4096, 4096, None)
    other_size = imported(record={"digest": SHA, "format": "raw", "size": 8192})
    assert plan_source(wanted, other_size)["digest"] is None
    same_size = imported(record={"digest": SHA, "format": "raw", "size": 4096})
    expected = hashlib.sha256(b"sha256-nonzero-64k 4096\n" + bytes(8) + b"\1" * 4096).hexdigest()
    assert plan_source(wanted, same_size)["digest"] == f"sha256-nonzero-64k:{expected}"
    assert plan_source(request(source=str(disk), state="absent"), same_size) is None
