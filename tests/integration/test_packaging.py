# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection as AWX and Galaxy consume it: ansible-builder's view of its
dependencies, and a collection artifact that builds clean from a developer's checkout
and installs."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tarfile
import tempfile
import uuid
from pathlib import Path

import pytest
import yaml

from .cephstate import create_rbd_pool, delete_pool, image_names, image_size
from .conftest import TESTENV, _read_env_file
from .harness import BIN, COLLECTION_ROOT, COLLECTIONS_PATH, ansible_env, run_module


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


CEPHX_KEY = re.compile(rb"AQ[A-Za-z0-9+/]{38}==")
PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----")
SCAFFOLDING = (".testenv", ".venv", ".ci/", ".ci", "Makefile", "benchmarks", "build/", "tests/output",
               ".pytest_cache", ".ansible/", "requirements-dev.txt")


def _checkout_with_leftovers(root: Path) -> Path:
    """A copy of the checkout plus what a developer's checkout holds besides the collection."""
    checkout = root / "ceph_rbd"
    shutil.copytree(COLLECTION_ROOT, checkout, ignore=shutil.ignore_patterns(".git"))
    leftovers = {
        ".venv/bin/python": "venv", ".venv/pyvenv.cfg": "home = /usr/bin",
        "build/collections/ansible_collections/limiquantix/ceph_rbd/galaxy.yml": "copy",
        "build/docs/rbd_image.txt": "doc", "tests/output/junit.xml": "<x/>",
        "plugins/modules/__pycache__/rbd_image.cpython-311.pyc": "pyc",
        ".pytest_cache/v/cache/lastfailed": "{}", ".ansible/tmp/x": "x",
        "limiquantix-ceph_rbd-0.0.1.tar.gz": "old artifact",
        "benchmarks/results/run.tmp": "bench",
    }
    for relative, text in leftovers.items():
        (checkout / relative).parent.mkdir(parents=True, exist_ok=True)
        (checkout / relative).write_text(text)
    return checkout


def _build(checkout: Path, output: Path) -> Path:
    output.mkdir()
    proc = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(output),
                           str(checkout)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [artifact] = output.glob("limiquantix-ceph_rbd-*.tar.gz")
    return artifact


def _assert_clean_artifact(artifact: Path) -> None:
    with tarfile.open(artifact) as archive:
        members = archive.getmembers()
        names = [m.name for m in members]
        assert "plugins/modules/rbd_image.py" in names
        assert "meta/execution-environment.yml" in names
        assert "MANIFEST.json" in names and "FILES.json" in names
        assert not [n for n in names if n.startswith(SCAFFOLDING)], names
        assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".tar.gz"))]
        assert not [n for n in names if "keyring" in Path(n).name or n.endswith((".key", ".pem", ".asok", ".sock"))
                    or Path(n).name.startswith(("id_rsa", "id_ed25519", "ssh_host_"))]
        assert all(m.isfile() or m.isdir() for m in members), [m.name for m in members if not (m.isfile() or m.isdir())]
        for member in members:
            if member.isfile():
                data = archive.extractfile(member).read()
                assert not CEPHX_KEY.search(data), f"{member.name} holds a cephx key"
                assert not PRIVATE_KEY.search(data), f"{member.name} holds a private key"
    # Small: the collection's own files only (a packed test environment is tens of MB).
    assert artifact.stat().st_size < 2 * 1024 * 1024


@pytest.fixture
def checkout_with_demo():
    """A checkout with a demo environment running under .testenv/demo (sockets, keyrings,
    pid files) and one stopped under .testenv/old (every daemon stopped, files left)."""
    root = Path(tempfile.mkdtemp(prefix="cr-"))  # short: unix socket paths are limited to 107 bytes
    checkout = _checkout_with_leftovers(root)
    running, stopped = checkout / ".testenv" / "demo", checkout / ".testenv" / "old"
    try:
        for directory in (running, stopped):
            subprocess.run([str(TESTENV), "up", str(directory), "--osds", "1"], check=True,
                           capture_output=True)
        for daemon in ("osd.0", "mgr.x", "mon.a"):
            subprocess.run([str(TESTENV), "stop", str(stopped), daemon], check=True, capture_output=True)
        yield checkout, running, stopped
    finally:
        for directory in (running, stopped):
            subprocess.run([str(TESTENV), "down", str(directory)], check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_the_artifact_built_beside_a_running_and_a_stopped_demo_is_clean_and_installs(checkout_with_demo, tmp_path):
    checkout, running, stopped = checkout_with_demo
    # The checkout really holds what must stay out: live sockets, admin keyrings.
    sockets = [p for p in running.rglob("*") if p.is_socket()]
    assert sockets
    assert list(running.glob("*.keyring")) and list(stopped.glob("*.keyring"))
    assert subprocess.run([str(TESTENV), "status", str(stopped)], capture_output=True, check=False).returncode != 0

    artifact = _build(checkout, tmp_path / "dist")
    _assert_clean_artifact(artifact)

    install = tmp_path / "collections"
    # Only the target path counts as installed: a copy in ~/.ansible/collections must not
    # make ansible-galaxy answer "already installed" and skip the install under test.
    proc = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "-p", str(install),
                           str(artifact)], capture_output=True, text=True, check=False,
                          env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(install)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    installed = install / "ansible_collections" / "limiquantix" / "ceph_rbd"
    assert (installed / "plugins" / "modules" / "rbd_pool_info.py").is_file()
    assert (installed / "MANIFEST.json").is_file()

    # The installed copy (and only it: no scan of sys.path or the build tree) runs against
    # the running demo's cluster.
    demo_env = _read_env_file(running / "env")
    only_installed = {"ANSIBLE_COLLECTIONS_PATH": str(install), "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "0",
                      "CEPH_CONF": demo_env["CEPH_CONF"], "CEPH_KEYRING": demo_env["CEPH_KEYRING"],
                      "CEPH_USER": "admin"}
    result = run_module("rbd_pool_info", {}, env=only_installed)
    assert not result.failed, result.data
    assert isinstance(result["pools"], list)
    shown = subprocess.run([str(BIN / "ansible-doc"), "-t", "module", "limiquantix.ceph_rbd.rbd_image"],
                           capture_output=True, text=True, env=ansible_env(only_installed), check=False)
    assert shown.returncode == 0 and str(installed) in shown.stdout, shown.stdout[:500] + shown.stderr


# --- the execution environment (docs/awx) ------------------------------------------------

AWX = COLLECTION_ROOT / "docs" / "awx"


def _installed(packages: list[str]) -> list[str]:
    """The Debian packages of the list that are not installed on this machine."""
    missing = []
    for package in packages:
        proc = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True,
                              check=False)
        if "install ok installed" not in proc.stdout:
            missing.append(package)
    return missing


def _builder_create(definition: Path, context: Path) -> str:
    proc = subprocess.run([str(BIN / "ansible-builder"), "create", "-f", str(definition), "-c", str(context)],
                          capture_output=True, text=True, check=False, cwd=definition.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return (context / "Dockerfile").read_text()


def _dpkg_packages_of_bindep(bindep: str) -> list[str]:
    packages = []
    for line in bindep.splitlines():
        line = line.split("#", 1)[0].strip()
        if line and ("platform:dpkg" in line or "[" not in line):
            packages.append(line.split()[0])
    return packages


def _replay(dockerfile: str, context: Path, venv: Path, collections: Path) -> None:
    """The Containerfile's steps on this machine (Debian 12, the image's base): its apt-get
    packages and the collection's bindep packages are installed here; its pip installs go
    into a fresh virtualenv of /usr/bin/python3 (the image's $PYCMD, seeing the
    distribution's bindings); its galaxy step installs into ``collections``."""
    args = dict(re.findall(r'^ARG (\w+)="(.*)"$', dockerfile, re.MULTILINE))
    assert args["EE_BASE_IMAGE"] == "docker.io/library/debian:12" and args["PKGMGR"] == "/usr/bin/apt-get"
    assert args["PKGMGR_PRESERVE_CACHE"] == "always"
    for install in re.findall(r"^RUN apt-get update && apt-get install (.+)$", dockerfile, re.MULTILINE):
        packages = [word for word in shlex.split(install) if not word.startswith("-")]
        assert packages and _installed(packages) == [], install

    subprocess.run([args["PYCMD"], "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip_lines = re.findall(r"^RUN \$PYCMD -m pip install --no-cache-dir (.+)$", dockerfile, re.MULTILINE)
    assert "$ANSIBLE_INSTALL_REFS" in pip_lines
    for line in pip_lines:
        requirements = shlex.split(line.replace("$ANSIBLE_INSTALL_REFS", args["ANSIBLE_INSTALL_REFS"]))
        proc = subprocess.run([str(python), "-m", "pip", "install", "-q", *requirements], capture_output=True,
                              text=True, check=False)
        assert proc.returncode == 0, proc.stderr[-2000:]

    env = dict(os.environ, PATH=f"{venv / 'bin'}:/usr/bin:/bin", ANSIBLE_GALAXY_DISABLE_GPG_VERIFY="1")
    env["ANSIBLE_COLLECTIONS_PATH"] = str(collections)  # as in the image: nothing installed elsewhere
    [galaxy] = re.findall(r"ansible-galaxy collection install (.+)$", dockerfile, re.MULTILINE)
    command = shlex.split(galaxy.replace("$ANSIBLE_GALAXY_CLI_COLLECTION_OPTS", "")
                          .replace("/usr/share/ansible/collections", str(collections)))
    proc = subprocess.run([str(venv / "bin" / "ansible-galaxy"), "collection", "install", *command],
                          cwd=context / "_build", env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    # builder stage: what introspect finds in the installed collection
    introspected = context / "introspected-bindep.txt"
    proc = subprocess.run([str(python), str(context / "_build" / "scripts" / "introspect.py"), "introspect",
                           f"--write-bindep={introspected}", f"--write-pip={context / 'introspected-pip.txt'}",
                           str(collections)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    system = _dpkg_packages_of_bindep(introspected.read_text())
    assert {"python3-rados", "python3-rbd", "python3-libvirt", "ceph-common"} <= set(system)
    assert _installed(system) == []
    pip_requirements = context / "introspected-pip.txt"
    assert not pip_requirements.exists() or not [
        line for line in pip_requirements.read_text().splitlines() if line.strip() and not line.startswith("#")]

    # final stage: the image's own check of ansible and ansible-runner
    proc = subprocess.run([str(context / "_build" / "scripts" / "check_ansible"), str(python)], env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_execution_environment_builds_and_its_steps_run_volumes_yml_with_ansible_runner(
        testenv, ceph, tmp_path):
    # The galaxy definition: ansible-builder accepts it (Galaxy itself is not reachable here).
    galaxy_dockerfile = _builder_create(AWX / "execution-environment-galaxy.yml", tmp_path / "ctx-galaxy")
    assert "docker.io/library/debian:12" in galaxy_dockerfile
    assert yaml.safe_load((tmp_path / "ctx-galaxy" / "_build" / "requirements.yml").read_text()) == {
        "collections": [{"name": "limiquantix.ceph_rbd", "version": ">=0.1.0"}]}

    # The local definition, with this checkout's artifact under the name it expects.
    ee_dir = tmp_path / "awx"
    shutil.copytree(AWX, ee_dir)
    artifact = _build(COLLECTION_ROOT, tmp_path / "dist")
    shutil.copy(artifact, ee_dir / "limiquantix-ceph_rbd.tar.gz")
    context = tmp_path / "ctx"
    dockerfile = _builder_create(ee_dir / "execution-environment.yml", context)
    assert (context / "_build" / "collections" / "limiquantix-ceph_rbd.tar.gz").is_file()

    venv, collections = tmp_path / "ee-venv", tmp_path / "ee-collections"
    _replay(dockerfile, context, venv, collections)
    installed = collections / "ansible_collections" / "limiquantix" / "ceph_rbd"
    assert json.loads((installed / "MANIFEST.json").read_text())["collection_info"]["name"] == "ceph_rbd"

    pool = f"ee-{uuid.uuid4().hex[:6]}"
    create_rbd_pool(ceph, pool)
    try:
        private = tmp_path / "runner"
        for sub in ("project", "inventory", "env"):
            (private / sub).mkdir(parents=True)
        shutil.copy(installed / "playbooks" / "volumes.yml", private / "project" / "volumes.yml")
        shutil.copytree(installed / "playbooks" / "tasks", private / "project" / "tasks")  # the health gate it imports
        (private / "inventory" / "hosts").write_text(
            "localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n")
        (private / "env" / "envvars").write_text(yaml.safe_dump({
            "ANSIBLE_COLLECTIONS_PATH": str(collections), "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "0",
            "CEPH_CONF": testenv["CEPH_CONF"], "CEPH_USER": "admin", "CEPH_KEYRING": testenv["CEPH_KEYRING"]}))
        (private / "env" / "extravars").write_text(yaml.safe_dump({
            "volumes_target": "localhost", "volumes_pool": pool,
            "volumes": [{"name": "vol-ee-1", "size": "8M"}, {"name": "vol-ee-2", "size": "16M"}]}))
        env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
        proc = subprocess.run([str(venv / "bin" / "ansible-runner"), "run", str(private), "-p", "volumes.yml"],
                              env=env, capture_output=True, text=True, check=False, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        assert image_names(ceph, pool) == ["vol-ee-1", "vol-ee-2"]
        assert image_size(ceph, pool, "vol-ee-2") == 16 * 1024 * 1024
        # The venv's ansible-playbook ran it: there is no other on that PATH.
        assert shutil.which("ansible-playbook", path="/usr/bin:/bin") is None
        assert list((private / "artifacts").rglob("job_events/*.json"))
    finally:
        delete_pool(ceph, pool)
