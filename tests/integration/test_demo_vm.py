# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, limiquantix.ceph_rbd contributors
"""The demo VM's definition (playbooks/tasks/demo_vm.yml) against the machine's real libvirtd.

libvirt's domain names are machine-wide; a demo directory is not. A VM of the demo's name
left by a killed run or by another checkout's demo writes its serial console to that other
demo's file: booted as it was, the guest's line never reached this demo's file (CI, once:
the wait timed out with the VM running). A shut-off one is defined again; a running one is
refused and left as it is. Each test uses its own VM name, so it never meets a real demo.
"""

from __future__ import annotations

import contextlib
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from .cephstate import remove_domain, small_domain_xml
from .harness import COLLECTION_ROOT, run_playbook
from .hypervisor_helpers import libvirt_conn
from .test_fleet import changed_tasks

TASKS = COLLECTION_ROOT / "playbooks" / "tasks" / "demo_vm.yml"
# (host, task name), as test_fleet.changed_tasks reports a change
DEFINE = ("localhost", "Define the demo VM (no disks yet; attach.yml adds them), or again over a stale one")
UNDEFINE = ("localhost", "Remove the stale definition (shut off, its console elsewhere)")


@pytest.fixture
def demo(tmp_path):
    """A demo directory, its VM's name and serial file, the play that defines it; the VM removed after."""
    name = f"t-demovm-{uuid.uuid4().hex[:6]}"
    play = tmp_path / "demo_vm.yml"
    (tmp_path / "templates").symlink_to(COLLECTION_ROOT / "playbooks" / "templates")  # as beside demo.yml
    play.write_text(f"- hosts: localhost\n  gather_facts: false\n  tasks:\n"
                    f"    - ansible.builtin.import_tasks: {TASKS}\n")
    conn = libvirt_conn()
    yield {"name": name, "dir": tmp_path, "serial": tmp_path / "demo-vm-serial.log", "play": play, "conn": conn}
    remove_domain(conn, name)
    conn.close()


def define_vm(demo: dict, check: bool = False):
    """Run the task file with the demo's variables."""
    return run_playbook(demo["play"], check=check, extra_vars={
        "demo_vm_name": demo["name"], "demo_dir": str(demo["dir"]), "demo_vm_serial_log": str(demo["serial"])})


def defined_config(conn, name: str) -> ET.Element | None:
    """The domain's persistent configuration, or None when it is not defined."""
    import libvirt  # pylint: disable=import-outside-toplevel

    try:
        dom = conn.lookupByName(name)
    except libvirt.libvirtError:
        return None
    return ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)) if dom.isPersistent() else None


def serial_path(config: ET.Element) -> str:
    return config.find("devices/serial/source").get("path")


def stale_xml(name: str, serial: Path, with_disk: bool = True) -> str:
    """The demo's VM as another checkout's demo defined it: its console in that demo's directory."""
    dom = ET.fromstring(small_domain_xml(name, "qemu"))
    devices = dom.find("devices")
    if with_disk:
        disk = ET.SubElement(devices, "disk", {"type": "file", "device": "disk"})
        ET.SubElement(disk, "source", {"file": str(serial.parent / "other-disk.raw")})
        ET.SubElement(disk, "target", {"dev": "vda", "bus": "virtio"})
    console = ET.SubElement(devices, "serial", {"type": "file"})
    ET.SubElement(console, "source", {"path": str(serial)})
    ET.SubElement(console, "target", {"port": "0"})
    return ET.tostring(dom, encoding="unicode")


def test_the_vm_is_defined_once_with_this_demos_serial_console(demo):
    conn, name = demo["conn"], demo["name"]

    check = define_vm(demo, check=True)
    assert check.data["_rc"] == 0, check.stdout
    assert defined_config(conn, name) is None  # a check run defines nothing

    first = define_vm(demo)
    assert first.data["_rc"] == 0, first.stdout
    assert DEFINE in changed_tasks(first) and UNDEFINE not in changed_tasks(first)
    config = defined_config(conn, name)
    assert serial_path(config) == str(demo["serial"])
    assert config.find("devices/disk") is None  # attach.yml adds the disks

    for again in (define_vm(demo, check=True), define_vm(demo)):
        assert again.data["_rc"] == 0, again.stdout
        assert changed_tasks(again) == set()
    assert ET.tostring(defined_config(conn, name)) == ET.tostring(config)


def test_a_shut_off_vm_left_by_another_demo_is_defined_again_here(demo, tmp_path):
    conn, name = demo["conn"], demo["name"]
    elsewhere = tmp_path / "other-checkout" / "demo-vm-serial.log"
    conn.defineXML(stale_xml(name, elsewhere))

    result = define_vm(demo)
    assert result.data["_rc"] == 0, result.stdout
    assert {UNDEFINE, DEFINE} <= changed_tasks(result)
    config = defined_config(conn, name)
    assert serial_path(config) == str(demo["serial"])
    assert config.find("devices/disk") is None  # the other demo's disk is not kept

    again = define_vm(demo)
    assert again.data["_rc"] == 0, again.stdout
    assert changed_tasks(again) == set()


def test_a_running_vm_of_that_name_with_its_console_elsewhere_is_refused_and_left_running(demo, tmp_path):
    import libvirt  # pylint: disable=import-outside-toplevel

    conn, name = demo["conn"], demo["name"]
    elsewhere = tmp_path / "other-checkout"
    elsewhere.mkdir()
    conn.defineXML(stale_xml(name, elsewhere / "demo-vm-serial.log", with_disk=False))
    dom = conn.lookupByName(name)
    dom.create()
    try:
        before = defined_config(conn, name)
        for check in (True, False):
            result = define_vm(demo, check=check)
            assert result.data["_rc"] != 0
            failed = [t for t in result.tasks if t.get("failed")]
            assert failed and f"A VM named {name} is running with its serial console at " \
                f"'{elsewhere / 'demo-vm-serial.log'}', not this demo's {demo['serial']}" in failed[0]["msg"]
            assert "virsh destroy" in failed[0]["msg"]
            assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
            assert ET.tostring(defined_config(conn, name)) == ET.tostring(before)
    finally:
        with contextlib.suppress(libvirt.libvirtError):
            dom.destroy()
