# SPDX-License-Identifier: GPL-3.0-or-later
"""The content digest of a disk image file and the raw copy that computes it: the digest is
the one docs/snapshots.md defines (checked against that text's reference code), depends on
the bytes only (not on holes), and the copy writes exactly the file's non-zero blocks."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.disk_source import (
    ZERO_BLOCK,
    aligned_data_ranges,
    file_digest,
    write_raw,
)
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import CephRbdError, InvalidInputError
from ansible_collections.limiquantix.ceph_rbd.tests.docs_reference import content_digest

KIB, MIB = 1024, 1024 ** 2


def write_at(path: Path, size: int, pieces: dict[int, bytes], sparse: bool = True) -> Path:
    """A file of ``size`` bytes holding ``pieces`` at their offsets; holes elsewhere (or zeros written)."""
    with open(path, "wb") as handle:
        if sparse:
            handle.truncate(size)
        else:
            handle.write(bytes(size))
        for offset, data in pieces.items():
            handle.seek(offset)
            handle.write(data)
    return path


SIZE = 5 * MIB - 3 * KIB + 1  # not a multiple of the block
PIECES = {
    0: b"\xeb\x3c boot",                      # block 0
    5 * KIB: os.urandom(3 * KIB),             # still block 0, after a 4 KiB hole
    130 * KIB: os.urandom(70 * KIB),          # blocks 2 and 3, not aligned
    1 * MIB: bytes(64 * KIB),                 # written zeros: a block that is data on disk, zeros in content
    3 * MIB + 100: b"x",                      # block 48, alone, after a long hole
    4 * MIB - 1: b"\x01",                     # block 63
    SIZE - 7: b"tail!!!",                     # the last, short block, up to the end
}


@pytest.mark.parametrize("sparse", [True, False])
def test_the_digest_is_the_documented_one_and_the_same_however_sparse_the_file_is(tmp_path, sparse):
    path = write_at(tmp_path / "disk.raw", SIZE, PIECES, sparse=sparse)
    assert file_digest(str(path)) == content_digest(path)
    other = write_at(tmp_path / "other.raw", SIZE, PIECES, sparse=not sparse)
    assert file_digest(str(other)) == file_digest(str(path))


@pytest.mark.parametrize("change", [
    "one byte", "the data one block later", "a longer file", "zero bytes become a hole only"])
def test_the_digest_changes_with_the_content_and_only_with_it(tmp_path, change):
    first = write_at(tmp_path / "a.raw", SIZE, PIECES)
    pieces, size = dict(PIECES), SIZE
    if change == "one byte":
        pieces[3 * MIB + 100] = b"y"
    elif change == "the data one block later":
        pieces[3 * MIB + 100 + ZERO_BLOCK] = pieces.pop(3 * MIB + 100)
    elif change == "a longer file":
        size += 1
    second = write_at(tmp_path / "b.raw", size, pieces)
    same_content = change == "zero bytes become a hole only"
    if same_content:
        second = write_at(tmp_path / "b.raw", size, {k: v for k, v in pieces.items() if v.count(0) != len(v)})
    assert (file_digest(str(first)) == file_digest(str(second))) is same_content


def test_empty_and_all_zero_files_have_the_digest_of_their_size(tmp_path):
    empty = write_at(tmp_path / "empty", 0, {})
    zeros = write_at(tmp_path / "zeros", 3 * MIB, {}, sparse=False)
    assert file_digest(str(empty)) == "sha256-nonzero-64k:" + hashlib.sha256(b"sha256-nonzero-64k 0\n").hexdigest()
    assert file_digest(str(zeros)) == content_digest(zeros) != file_digest(str(empty))


def test_data_ranges_are_whole_blocks_in_order_and_never_overlap(tmp_path):
    path = write_at(tmp_path / "disk.raw", SIZE, PIECES)
    with open(path, "rb") as handle:
        ranges = list(aligned_data_ranges(handle.fileno(), SIZE))
    assert ranges, "the file has data"
    for (start, end), following in zip(ranges, ranges[1:] + [(SIZE, SIZE)]):
        assert start % ZERO_BLOCK == 0 and (end % ZERO_BLOCK == 0 or end == SIZE)
        assert start < end <= following[0]
    covered = set().union(*(range(s // ZERO_BLOCK, -(-e // ZERO_BLOCK)) for s, e in ranges))
    data_blocks = {offset // ZERO_BLOCK for offset in PIECES} | {(offset + len(data) - 1) // ZERO_BLOCK
                                                                 for offset, data in PIECES.items()}
    assert data_blocks <= covered


class FakeImage:
    """An image that reads as zeros and records each asynchronous write."""

    def __init__(self, size: int, fail_with: int = 0) -> None:
        self.data, self.writes, self.flushed, self.fail_with = bytearray(size), [], False, fail_with

    def aio_write(self, data: bytes, offset: int, callback) -> None:
        self.writes.append((offset, len(data)))
        self.data[offset:offset + len(data)] = data

        class Completion:
            def get_return_value(inner) -> int:  # pylint: disable=no-self-argument
                return self.fail_with

        callback(Completion())

    def flush(self) -> None:
        self.flushed = True


def test_the_raw_copy_writes_exactly_the_non_zero_blocks_and_returns_the_digest(tmp_path):
    path = write_at(tmp_path / "disk.raw", SIZE, PIECES)
    image = FakeImage(SIZE)
    assert write_raw(image, str(path), "p/i") == content_digest(path)
    assert bytes(image.data) == path.read_bytes() and image.flushed
    written = {offset // ZERO_BLOCK + n for offset, length in image.writes for n in range(-(-length // ZERO_BLOCK))}
    content = path.read_bytes()
    non_zero = {n for n in range(-(-SIZE // ZERO_BLOCK)) if content[n * ZERO_BLOCK:(n + 1) * ZERO_BLOCK].strip(b"\0")}
    assert written == non_zero


def test_a_failed_write_and_a_missing_file_are_errors(tmp_path):
    path = write_at(tmp_path / "disk.raw", SIZE, PIECES)
    with pytest.raises(CephRbdError, match="write into image p/i"):
        write_raw(FakeImage(SIZE, fail_with=-28), str(path), "p/i")
    with pytest.raises(InvalidInputError, match="does not exist"):
        file_digest(str(tmp_path / "gone.raw"))
