# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/files/guest_image.py, the demo's and the tests' bootable disk: its layout and its
hand-assembled boot sector (a real boot is in tests/integration/test_golden_images.py)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("guest_image", ROOT / "playbooks" / "files" / "guest_image.py")
guest_image = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(guest_image)


def test_boot_sector_ends_with_the_bios_signature_and_the_line_lives_in_the_second_sector():
    sectors = guest_image.boot_sectors()
    assert len(sectors) == 1024
    assert sectors[510:512] == b"\x55\xaa"
    assert b"limiquantix-boot-ok" not in sectors[:512]
    assert sectors[512:512 + 23] == b"LQlimiquantix-boot-ok\r\n"


def test_boot_sector_reads_sector_2_with_int_13h_to_0x7e00_and_checks_the_marker():
    code = guest_image.assemble()
    read = bytes.fromhex("b80102 b90200 30f6 bb007e cd13")  # ah=2 al=1 ch=0 cl=2 dh=0 bx=7e00
    assert read in code
    assert bytes.fromhex("813e007e") + b"LQ" in code  # cmp word [0x7e00], 'LQ'


def test_jumps_are_resolved_relative_to_the_next_instruction():
    program = [("label", "top"), b"\x90", ("rel8", b"\xeb", "top"), ("rel16", b"\xe8", "end"), ("label", "end"),
               ("abs16", b"\xbe", "end")]
    assert guest_image.assemble(program, origin=0x7C00) == bytes.fromhex("90 ebfd e80000 be067c")


def test_a_jump_out_of_rel8_range_is_an_error():
    program = [("rel8", b"\xeb", "far"), b"\x90" * 200, ("label", "far")]
    with pytest.raises(ValueError, match="out of rel8 range"):
        guest_image.assemble(program)


@pytest.mark.parametrize("text, size", [("64M", 64 << 20), ("64MiB", 64 << 20), ("1024", 1024), ("1k", 1024)])
def test_sizes(text, size):
    assert guest_image.parse_size(text) == size


@pytest.mark.parametrize("text", ["", "abc", "512", "1000", "-64M", "64T"])
def test_bad_sizes_are_refused(text):
    with pytest.raises(ValueError):
        guest_image.parse_size(text)


def test_the_raw_disk_is_sparse_deterministic_and_left_alone_when_unchanged(tmp_path):
    path = tmp_path / "guest.raw"
    assert guest_image.write_raw(str(path), 8 << 20) is True
    assert path.stat().st_size == 8 << 20
    assert path.read_bytes()[:1024] == guest_image.boot_sectors()
    mtime = path.stat().st_mtime_ns
    assert guest_image.write_raw(str(path), 8 << 20) is False
    assert path.stat().st_mtime_ns == mtime
    with open(path, "r+b") as handle:  # a byte changed far from the head: written again
        handle.seek(4 << 20)
        handle.write(b"x")
    assert guest_image.write_raw(str(path), 8 << 20) is True
    assert path.read_bytes()[4 << 20] == 0
