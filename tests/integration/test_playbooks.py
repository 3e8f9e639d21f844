# SPDX-License-Identifier: GPL-3.0-or-later
"""The operator playbooks: the live-migration check and the AWX path (ansible-runner)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from .cephstate import (
    admin_key,
    create_rbd_pool,
    create_test_image,
    delete_client_key,
    delete_pool,
    domain_with_rbd_disks,
    image_names,
    remove_domain,
    undefine_secret,
)
from .harness import BIN, COLLECTION_ROOT, COLLECTIONS_PATH, SYSTEM_PYTHON, run_module, run_playbook

PLAYBOOKS = COLLECTION_ROOT / "playbooks"
LAYERING = 1
LAYERING_EXCLUSIVE_LOCK = 1 | 4


def _inventory(directory: Path, hostvars: dict) -> Path:
    inventory = {"all": {"vars": dict(hostvars, ansible_connection="local",
                                      ansible_python_interpreter=SYSTEM_PYTHON),
                         "children": {"ceph_admin": {"hosts": {"localhost": None}},
                                      "hypervisors": {"hosts": {"localhost": None}}}}}
    path = directory / "inventory.json"
    path.write_text(json.dumps(inventory))
    return path


@pytest.fixture
def hypervisor_setup(testenv, ceph, tmp_path):
    """A pool with two volumes, the hypervisor roles applied (conf, keyring, secret) and a
    stopped domain using both volumes."""
    import libvirt  # pylint: disable=import-outside-toplevel

    tag = uuid.uuid4().hex[:6]
    pool, user, secret, domain = f"mig-{tag}", f"mig{tag}", str(uuid.uuid4()), f"t-mig-{tag}"
    create_rbd_pool(ceph, pool)
    create_test_image(ceph, pool, "vol-locked", 4 << 20, features=LAYERING_EXCLUSIVE_LOCK)
    create_test_image(ceph, pool, "vol-plain", 4 << 20, features=LAYERING_EXCLUSIVE_LOCK)
    variables = {
        "ceph_conf": testenv["CEPH_CONF"], "ceph_keyring": testenv["CEPH_KEYRING"],
        "ceph_fsid": testenv["CEPH_FSID"], "ceph_mon_hosts": [testenv["TESTENV_MON_ADDR"]],
        "ceph_client_name": user, "ceph_client_pools": [pool], "ceph_libvirt_secret_uuid": secret,
        "hypervisor_config_dir": str(tmp_path / "etc-ceph"), "hypervisor_install_packages": False,
    }
    (tmp_path / "etc-ceph").mkdir()
    inventory = _inventory(tmp_path, variables)
    applied = run_playbook(PLAYBOOKS / "hypervisors.yml", inventory=inventory)
    assert applied["_rc"] == 0, applied.stdout[-3000:]
    conn = libvirt.open(testenv["LIBVIRT_DEFAULT_URI"])
    conn.defineXML(domain_with_rbd_disks(domain, [(pool, "vol-locked"), (pool, "vol-plain")],
                                         testenv["TESTENV_MON_ADDR"], user, secret))
    yield {"pool": pool, "user": user, "secret": secret, "domain": domain, "inventory": inventory,
           "vars": variables}
    remove_domain(conn, domain)
    undefine_secret(conn, secret)
    conn.close()
    delete_client_key(ceph, f"client.{user}")
    delete_pool(ceph, pool)


def _check(setup) -> tuple[int, dict[tuple[str, str], tuple[bool, str]]]:
    result = run_playbook(PLAYBOOKS / "migration_check.yml", inventory=setup["inventory"],
                          extra_vars={"migration_domain": setup["domain"], "migration_source": "localhost",
                                      "migration_access_timeout": 5})
    report = next(t for t in result.tasks if t["_task"] == "Assemble the report")["ansible_facts"]["migration_report"]
    return result["_rc"], {(row["check"], row["host"]): (row["ok"], row["detail"]) for row in report}


def test_migration_check_passes_then_reports_each_broken_requirement(testenv, ceph, hypervisor_setup):
    setup = hypervisor_setup
    rc, report = _check(setup)
    assert rc == 0, report
    assert all(ok for ok, _detail in report.values()), report
    assert report[(f"cephx user client.{setup['user']}", "cluster")][0]
    assert report[("QEMU opens the domain's disks", "localhost")][1].startswith(
        f"opens vdb, vdc in cluster {testenv['CEPH_FSID']}")
    assert f"exclusive-lock on vdc ({setup['pool']}/vol-plain)" in {check for check, _host in report}

    # Break two requirements on purpose: a volume without exclusive-lock, and a
    # hypervisor whose secret holds another key.
    from .cephstate import rbd_ioctx  # pylint: disable=import-outside-toplevel
    import rbd  # pylint: disable=import-outside-toplevel

    with rbd_ioctx(ceph, setup["pool"]) as ioctx, rbd.Image(ioctx, "vol-plain") as image:
        image.update_features(rbd.RBD_FEATURE_EXCLUSIVE_LOCK, False)
    wrong = run_module("libvirt_secret", {
        "uuid": setup["secret"], "usage_name": f"client.{setup['user']} secret",
        "description": f"Ceph client.{setup['user']} key", "value": admin_key(testenv)})
    assert wrong.changed and not wrong.failed, wrong.msg

    rc, report = _check(setup)
    assert rc != 0
    broken = {key: detail for key, (ok, detail) in report.items() if not ok}
    assert set(broken) == {
        (f"exclusive-lock on vdc ({setup['pool']}/vol-plain)", "cluster"),
        ("QEMU opens the domain's disks", "localhost"),
    }, report
    assert f"check that libvirt secret {setup['secret']} holds the current key" in \
        broken[("QEMU opens the domain's disks", "localhost")]
    assert admin_key(testenv) not in str(report)


def test_volumes_playbook_runs_the_awx_way_and_keeps_the_key_out_of_the_artifacts(testenv, ceph, tmp_path):
    """ansible-runner (AWX's engine) runs volumes.yml with the credential injected as the
    custom credential type of docs/awx injects it: the key in a 0600 keyring file of the
    private data dir, CEPH_USER/CEPH_KEYRING in the environment, settings as extra vars."""
    import ansible_runner  # pylint: disable=import-outside-toplevel

    key = admin_key(testenv)
    pool = f"awx-{uuid.uuid4().hex[:6]}"
    create_rbd_pool(ceph, pool)
    try:
        private = tmp_path / "runner"
        (private / "project").mkdir(parents=True)
        (private / "project" / "volumes.yml").write_text((PLAYBOOKS / "volumes.yml").read_text())
        (private / "project" / "tasks").mkdir()  # the health gate the playbook imports
        (private / "project" / "tasks" / "health_gate.yml").write_text(
            (PLAYBOOKS / "tasks" / "health_gate.yml").read_text())
        (private / "inventory").mkdir()
        (private / "inventory" / "hosts").write_text(
            f"localhost ansible_connection=local ansible_python_interpreter={SYSTEM_PYTHON}\n")
        (private / "env").mkdir()
        credential = private / "env" / "tmp_credential_keyring"
        credential.touch(mode=0o600)
        credential.write_text(f"[client.admin]\n\tkey = {key}\n")
        envvars = {
            "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS_PATH),
            "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "CEPH_CONF": testenv["CEPH_CONF"], "CEPH_USER": "admin", "CEPH_KEYRING": str(credential),
        }
        extravars = {
            "ceph_user": "admin", "volumes_target": "localhost", "volumes_pool": pool,
            "volumes": [{"name": "vol-awx-1", "size": "8M"}, {"name": "vol-awx-2", "size": "8M"}],
        }
        run = ansible_runner.run(private_data_dir=str(private), playbook="volumes.yml", envvars=envvars,
                                 extravars=extravars, quiet=True, verbosity=3)
        assert run.rc == 0, run.stdout.read()[-3000:]
        assert image_names(ceph, pool) == ["vol-awx-1", "vol-awx-2"]
        scanned = 0
        for path in private.rglob("*"):
            if path.is_file() and path != credential:
                scanned += 1
                assert key not in path.read_text(errors="replace"), f"key leaked into {path}"
        assert scanned > 5
        assert any((private / "artifacts").rglob("job_events/*.json"))
        assert oct(credential.stat().st_mode & 0o777) == "0o600"
    finally:
        delete_pool(ceph, pool)
