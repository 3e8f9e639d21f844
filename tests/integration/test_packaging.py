# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection as AWX and Galaxy consume it: ansible-builder's view of its
dependencies, and a collection artifact that builds."""

from __future__ import annotations

import subprocess
import tarfile

import yaml

from .harness import BIN, COLLECTION_ROOT, COLLECTIONS_PATH


def test_ansible_builder_reads_the_system_packages_and_no_pypi_requirements():
    proc = subprocess.run([str(BIN / "ansible-builder"), "introspect", "--sanitize", str(COLLECTIONS_PATH)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    data = yaml.safe_load(proc.stdout[proc.stdout.index("---"):])
    assert data["python"] in ([], None)
    system = " ".join(data["system"])
    for package in ("python3-rados", "python3-rbd", "python3-libvirt", "ceph-common"):
        assert f"{package} [platform:dpkg]" in system
        assert "limiquantix.ceph_rbd" in system


def test_the_collection_artifact_builds_without_test_or_build_leftovers(tmp_path):
    proc = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path),
                           str(COLLECTION_ROOT)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    [artifact] = tmp_path.glob("limiquantix-ceph_rbd-*.tar.gz")
    with tarfile.open(artifact) as archive:
        names = archive.getnames()
    assert "plugins/modules/rbd_image.py" in names
    assert "meta/execution-environment.yml" in names
    assert not [n for n in names if n.startswith((".venv", "build/", "tests/output"))]
