# SPDX-License-Identifier: GPL-3.0-or-later
"""The one entry path of every module: bindings, collection errors, unexpected errors."""
from __future__ import annotations

from types import SimpleNamespace

from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils import module_runner
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InUseError, NoSpaceError

VERSIONS = {"librados": "3.0.0", "librbd": "1.16.0", "libvirt": None}


def test_a_failure_after_partial_work_reports_changed_and_the_done_list():
    done = [f"pool/vol-{i}" for i in range(29)]
    result = module_runner.failure_result(NoSpaceError("images[29] (pool/vol-29): quota reached", done=done))
    assert result == {"msg": "images[29] (pool/vol-29): quota reached", "done": done, "changed": True}


def test_a_failure_before_anything_changed_reports_unchanged_with_its_details():
    result = module_runner.failure_result(InUseError("image pool/v is in use", image="pool/v", done=[]))
    assert result == {"msg": "image pool/v is in use", "image": "pool/v", "done": [], "changed": False}


def test_an_error_that_says_it_changed_something_reports_changed():
    result = module_runner.failure_result(InUseError("half way", changed=True))
    assert result == {"msg": "half way", "changed": True}


def test_an_unexpected_exception_reads_as_a_bug_report_with_traceback_and_versions():
    result = module_runner.unexpected_failure_result(KeyError("size"), "Traceback ...\nKeyError: 'size'", VERSIONS)
    assert result["msg"].startswith("unexpected error KeyError: 'size' (a bug of the collection")
    assert "librados 3.0.0, librbd 1.16.0" in result["msg"] and "libvirt" not in result["msg"]
    assert result["exception"] == "Traceback ...\nKeyError: 'size'"
    assert result["versions"] == VERSIONS and result["changed"] is False


def test_an_unexpected_exception_without_a_message_still_reads():
    result = module_runner.unexpected_failure_result(ZeroDivisionError(), "tb", {"librados": None})
    assert result["msg"].startswith("unexpected error ZeroDivisionError: no message")
    assert "libraries: none" in result["msg"]


def test_library_versions_name_the_loaded_libraries():
    versions = module_runner.library_versions()
    assert set(versions) == {"librados", "librbd", "libvirt"}
    for name in ("librados", "librbd"):  # the bindings are installed where the tests run
        assert versions[name] and versions[name][0].isdigit(), versions


def _module():
    return SimpleNamespace(params={}, check_mode=False, no_log_values=set())


def test_run_module_stops_masking_blank_secrets_for_every_module():
    module = SimpleNamespace(params={}, check_mode=False, no_log_values={" ", "", "AQBsecret=="})
    module_runner.run_module(module, lambda _m: {"changed": False})
    assert module.no_log_values == {"AQBsecret=="}


def test_run_module_returns_the_services_result():
    assert module_runner.run_module(_module(), lambda _m: {"changed": False, "x": 1}) == (
        False, {"changed": False, "x": 1})


def test_run_module_maps_a_collection_error_and_an_unexpected_one():
    def partial(_module):
        raise NoSpaceError("full", done=["p/a"])

    def broken(_module):
        return {}["missing"]

    assert module_runner.run_module(_module(), partial) == (True, {"msg": "full", "done": ["p/a"], "changed": True})
    failed, result = module_runner.run_module(_module(), broken)
    assert failed and "KeyError" in result["msg"] and "return {}[\"missing\"]" in result["exception"]
    assert set(result["versions"]) == {"librados", "librbd", "libvirt"}


def test_run_module_reports_a_missing_binding_before_running_anything(monkeypatch):
    monkeypatch.setitem(module_runner._BINDINGS, "libvirt", ("libvirt-python (python3-libvirt)", "Traceback: no"))
    calls = []
    failed, result = module_runner.run_module(_module(), calls.append, module_runner.LIBVIRT)
    assert failed and calls == []
    assert "libvirt-python (python3-libvirt)" in result["msg"] and result["exception"] == "Traceback: no"
