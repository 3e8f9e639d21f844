# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, limiquantix.ceph_rbd contributors
"""Build a tiny bootable disk image: a guest that says it booted from its own disk.

    python3 guest_image.py OUT.raw [--qcow2 OUT.qcow2] [--size 64M]

The image is an MBR boot sector (machine code written out below, nothing downloaded)
followed by a second sector of data and zeros up to ``--size`` (a sparse file). The BIOS
loads the boot sector, which

1. reads the disk's second sector with BIOS int 13h (the disk it was booted from),
2. checks that sector's marker ``LQ``,
3. initialises the first serial port (COM1, 0x3F8, 8N1) and writes the text that
   follows the marker, ``limiquantix-boot-ok`` and CR LF,
4. halts (the VM keeps running, doing nothing).

The line lives only in the second sector, so it reaches the serial console only when
the guest ran from its disk. When the read fails it writes ``guest: cannot read sector
2`` instead. ``--qcow2`` also writes the same disk as qcow2 with ``qemu-img convert``
(Debian's qemu-utils). Both files are byte-for-byte the same on every run; a file
that already holds the wanted bytes is left untouched (its mtime too).

The demo (playbooks/demo.yml) imports it as the golden image; tests/integration/
test_golden_images.py boots a clone of it and reads the line from the serial file.
"""

import argparse
import os
import re
import struct
import subprocess
import sys
import tempfile

BOOT_LINE = b"limiquantix-boot-ok"
SECTOR = 512
MARKER = b"LQ"
LOAD_ADDRESS = 0x7E00  # where the second sector is read to, right after the boot sector
ORIGIN = 0x7C00        # where the BIOS loads the boot sector
COM1 = 0x3F8


def _mov_dx(port):
    return b"\xba" + struct.pack("<H", port)       # mov dx, imm16


def _out(port, value):
    return _mov_dx(port) + bytes([0xB0, value, 0xEE])  # mov al, imm8 ; out dx, al


# 16-bit real-mode code as (kind, ...) items: bytes, labels, and jumps/calls/addresses
# resolved in a second pass (every item has a fixed size, so one pass finds the labels).
PROGRAM = [
    b"\xfa",                        # cli
    b"\x31\xc0",                    # xor ax, ax
    b"\x8e\xd8\x8e\xc0\x8e\xd0",    # mov ds, ax ; mov es, ax ; mov ss, ax
    b"\xbc\x00\x7c",                # mov sp, 0x7c00
    b"\xfb\xfc",                    # sti ; cld
    # int 13h, ah=02 read, al=1 sector, ch=0 cylinder, cl=2 sector, dh=0 head,
    # dl = the boot drive as the BIOS passed it, es:bx = 0000:7e00
    b"\xb8\x01\x02",                # mov ax, 0x0201
    b"\xb9\x02\x00",                # mov cx, 0x0002
    b"\x30\xf6",                    # xor dh, dh
    b"\xbb" + struct.pack("<H", LOAD_ADDRESS),  # mov bx, 0x7e00
    b"\xcd\x13",                    # int 0x13
    ("rel8", b"\x72", "failed"),    # jc failed
    b"\x81\x3e" + struct.pack("<H", LOAD_ADDRESS) + MARKER,  # cmp word [0x7e00], 'LQ'
    ("rel8", b"\x75", "failed"),    # jne failed
    ("rel16", b"\xe8", "serial_init"),
    b"\xbe" + struct.pack("<H", LOAD_ADDRESS + len(MARKER)),  # mov si, 0x7e02
    ("rel16", b"\xe8", "print"),
    ("rel8", b"\xeb", "halt"),
    ("label", "failed"),
    ("rel16", b"\xe8", "serial_init"),
    ("abs16", b"\xbe", "failure_text"),  # mov si, failure_text
    ("rel16", b"\xe8", "print"),
    ("label", "halt"),
    b"\xfa\xf4",                    # cli ; hlt
    ("rel8", b"\xeb", "halt"),
    ("label", "serial_init"),       # 8N1, divisor 1, FIFO on, DTR/RTS/OUT2
    _out(COM1 + 1, 0x00), _out(COM1 + 3, 0x80), _out(COM1, 0x01), _out(COM1 + 1, 0x00),
    _out(COM1 + 3, 0x03), _out(COM1 + 2, 0xC7), _out(COM1 + 4, 0x0B),
    b"\xc3",                        # ret
    ("label", "print"),             # write the NUL-terminated text at ds:si to COM1
    b"\xac",                        # lodsb
    b"\x84\xc0",                    # test al, al
    ("rel8", b"\x74", "done"),      # jz done
    b"\x88\xc3",                    # mov bl, al
    ("label", "wait"),
    _mov_dx(COM1 + 5),              # line status register
    b"\xec",                        # in al, dx
    b"\xa8\x20",                    # test al, 0x20 (transmitter holding register empty)
    ("rel8", b"\x74", "wait"),      # jz wait
    b"\x88\xd8",                    # mov al, bl
    _mov_dx(COM1),
    b"\xee",                        # out dx, al
    ("rel8", b"\xeb", "print"),     # jmp print
    ("label", "done"),
    b"\xc3",                        # ret
    ("label", "failure_text"),
    b"guest: cannot read sector 2\r\n\x00",
]


def _size(item):
    if isinstance(item, bytes):
        return len(item)
    kind, *rest = item
    return 0 if kind == "label" else len(rest[0]) + (1 if kind == "rel8" else 2)


def assemble(program=None, origin=ORIGIN):
    """The machine code of ``program`` (default: the boot sector's) at ``origin``."""
    program = PROGRAM if program is None else program
    labels, offset = {}, 0
    for item in program:
        if not isinstance(item, bytes) and item[0] == "label":
            labels[item[1]] = offset
        offset += _size(item)
    code, offset = b"", 0
    for item in program:
        offset += _size(item)
        if isinstance(item, bytes):
            code += item
            continue
        kind, opcode, label = item if item[0] != "label" else (item[0], b"", None)
        if kind == "rel8":
            distance = labels[label] - offset
            if not -128 <= distance <= 127:
                raise ValueError(f"jump to {label} out of rel8 range")
            code += opcode + struct.pack("<b", distance)
        elif kind == "rel16":
            code += opcode + struct.pack("<h", labels[label] - offset)
        elif kind == "abs16":
            code += opcode + struct.pack("<H", origin + labels[label])
    return code


def boot_sectors():
    """The first two sectors: the boot sector and the sector holding the line."""
    code = assemble()
    if len(code) > 446:  # stay clear of the partition table area
        raise ValueError(f"boot code is {len(code)} bytes, more than 446")
    first = code.ljust(510, b"\x00") + b"\x55\xaa"
    second = (MARKER + BOOT_LINE + b"\r\n\x00").ljust(SECTOR, b"\x00")
    return first + second


def parse_size(text):
    """Bytes of a size like ``64M``, ``64MiB`` or ``1048576`` (K, M, G are binary units)."""
    match = re.fullmatch(r"\s*([0-9]+)\s*([KMG]?)(?:I?B)?\s*", text, re.IGNORECASE)
    if not match:
        raise ValueError(f"size {text!r}: a number of bytes, or with K, M or G")
    size = int(match.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[match.group(2).upper()]
    if size < 2 * SECTOR or size % SECTOR:
        raise ValueError(f"size {text!r}: a multiple of 512 bytes, at least 1024")
    return size


def _same_content(path, head, size):
    try:
        if os.path.getsize(path) != size:
            return False
        with open(path, "rb") as handle:
            if handle.read(len(head)) != head:
                return False
            block = handle.read(1 << 20)
            while block:
                if block.count(0) != len(block):
                    return False
                block = handle.read(1 << 20)
    except OSError:
        return False
    return True


def write_raw(path, size):
    """Write the raw disk (sparse beyond the two sectors); True when the file changed."""
    head = boot_sectors()
    if _same_content(path, head, size):
        return False
    directory = os.path.dirname(os.path.abspath(path))
    fd, partial = tempfile.mkstemp(dir=directory, prefix=".guest-image-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(head)
            handle.truncate(size)
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    except BaseException:
        os.unlink(partial)
        raise
    return True


def write_qcow2(raw, path):
    """Convert the raw disk to qcow2 (qemu-img); True when the file changed."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, partial = tempfile.mkstemp(dir=directory, prefix=".guest-image-", suffix=".qcow2")
    os.close(fd)
    try:
        subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, partial], check=True)
        with open(partial, "rb") as new:
            fresh = new.read()
        try:
            with open(path, "rb") as old:
                if old.read() == fresh:
                    return False
        except OSError:
            pass
        os.chmod(partial, 0o644)
        os.replace(partial, path)
        partial = None
        return True
    finally:
        if partial:
            os.unlink(partial)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", help="path of the raw disk image to write")
    parser.add_argument("--qcow2", help="also write the disk as qcow2 to this path")
    parser.add_argument("--size", default="64M", help="virtual size (default 64M; K, M, G units)")
    args = parser.parse_args(argv)
    changed = write_raw(args.raw, parse_size(args.size))
    if args.qcow2:
        changed = write_qcow2(args.raw, args.qcow2) or changed
    print("changed" if changed else "unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
