# SPDX-License-Identifier: GPL-3.0-or-later
"""Monitor addresses in Ceph's spellings, checked on the real output of the test cluster.

fixtures/ceph_mon_dump.txt, .json and ceph_minimal.conf are `ceph mon dump`,
`ceph mon dump -f json-pretty` and `ceph config generate-minimal-conf` of a cluster made
by tests/testenv/testenv (one monitor with a v2 and a v1 address on free ports).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ansible_collections.limiquantix.ceph_rbd.plugins.filter.ceph_mon_host import FilterModule
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.ceph_connection import connection_settings
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.errors import InvalidInputError
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.libvirt_disk import normalize_mon_hosts
from ansible_collections.limiquantix.ceph_rbd.plugins.module_utils.mon_addresses import (
    MonAddress,
    ceph_mon_host,
    parse_mon_hosts,
    qemu_mon_hosts,
)

FIXTURES = Path(__file__).parent / "fixtures"
DUMP_JSON = json.loads((FIXTURES / "ceph_mon_dump.json").read_text())
[MON] = DUMP_JSON["mons"]
V1 = next(a["addr"] for a in MON["public_addrs"]["addrvec"] if a["type"] == "v1")
V2 = next(a["addr"] for a in MON["public_addrs"]["addrvec"] if a["type"] == "v2")


def _dump_vectors() -> list[str]:
    """The address vectors of `ceph mon dump`'s monitor lines ('0: [v2:...,v1:...] mon.a')."""
    text = (FIXTURES / "ceph_mon_dump.txt").read_text()
    return re.findall(r"^\d+: (\S+) mon\.\S+$", text, re.MULTILINE)


def _minimal_conf_mon_host() -> str:
    text = (FIXTURES / "ceph_minimal.conf").read_text()
    return re.search(r"^\s*mon_host\s*=\s*(.+)$", text, re.MULTILINE).group(1).strip()


def test_the_fixtures_hold_a_monitor_with_a_v2_and_a_v1_address():
    assert _dump_vectors() == [f"[v2:{V2}/0,v1:{V1}/0]"]
    assert _minimal_conf_mon_host() == f"[v2:{V2}/0,v1:{V1}/0]"
    assert V1 != V2


def test_mon_dump_vector_is_one_monitor_with_both_addresses_and_no_nonce():
    [monitor] = parse_mon_hosts(_dump_vectors())
    host, v1_port = V1.rsplit(":", 1)
    assert monitor == [MonAddress("v2", host, int(V2.rsplit(":", 1)[1])), MonAddress("v1", host, int(v1_port))]
    assert ceph_mon_host([monitor]) == f"[v2:{V2},v1:{V1}]"


def test_qemu_and_libvirt_get_the_v1_address_of_the_dump_and_of_ceph_conf():
    for spelling in (_dump_vectors(), [_minimal_conf_mon_host()], _minimal_conf_mon_host()):
        assert normalize_mon_hosts(spelling if isinstance(spelling, list) else [spelling]) == [V1]
        assert [a.host_port() for a in qemu_mon_hosts(parse_mon_hosts(spelling))] == [V1]


def test_the_modules_give_librados_the_vector_in_cephs_syntax():
    settings = connection_settings({"mon_host": _dump_vectors(), "timeout": 5})
    assert settings["mon_host"] == f"[v2:{V2},v1:{V1}]"


def test_a_vector_cut_at_its_comma_by_ansibles_list_parsing_is_joined_back():
    # `mon_host: "[v2:a:3300,v1:a:6789]"` reaches a list option as two items.
    cut = f"[v2:{V2},v1:{V1}]".split(",")
    assert len(cut) == 2
    assert ceph_mon_host(parse_mon_hosts(cut)) == f"[v2:{V2},v1:{V1}]"
    assert normalize_mon_hosts(cut) == [V1]


def test_mixed_lists_of_vectors_plain_typed_and_ipv6_addresses():
    values = ["[v2:10.0.0.1:3300/0,v1:10.0.0.1:6789/0]", "10.0.0.2:6789", "v1:10.0.0.3:6790",
              "[v2:[2001:db8::4]:3300,v1:[2001:db8::4]:6789]", "mon5.example.net", "[2001:db8::6]:6789",
              "2001:db8::7"]
    monitors = parse_mon_hosts(values)
    assert len(monitors) == 7
    assert ceph_mon_host(monitors) == (
        "[v2:10.0.0.1:3300,v1:10.0.0.1:6789],10.0.0.2:6789,v1:10.0.0.3:6790,"
        "[v2:[2001:db8::4]:3300,v1:[2001:db8::4]:6789],mon5.example.net,[2001:db8::6]:6789,2001:db8::7"
    )
    assert normalize_mon_hosts(values) == [
        "10.0.0.1:6789", "10.0.0.2:6789", "10.0.0.3:6790", "[2001:db8::4]:6789", "mon5.example.net",
        "[2001:db8::6]:6789", "2001:db8::7"]


def test_one_string_with_ceph_conf_separators_is_a_list_of_monitors():
    text = "[v2:10.0.0.1:3300,v1:10.0.0.1:6789]; [v2:10.0.0.2:3300,v1:10.0.0.2:6789],10.0.0.3"
    assert normalize_mon_hosts([text]) == ["10.0.0.1:6789", "10.0.0.2:6789", "10.0.0.3"]
    assert len(parse_mon_hosts(text)) == 3


def test_a_v2_only_monitor_goes_to_qemu_only_on_the_msgr2_port():
    assert normalize_mon_hosts(["v2:10.0.0.1:3300", "[v2:10.0.0.2:3300]", "v2:mon3"]) == [
        "10.0.0.1:3300", "10.0.0.2:3300", "mon3"]
    with pytest.raises(InvalidInputError, match=r"mon_hosts entry 'v2:10.0.0.1:3301' is a msgr2 \(v2\) address"):
        normalize_mon_hosts(["[v2:10.0.0.1:3301]"])
    # librados takes it as it is.
    assert ceph_mon_host(parse_mon_hosts(["[v2:10.0.0.1:3301]"])) == "v2:10.0.0.1:3301"


@pytest.mark.parametrize("bad, reason", [
    ("abc:def:1", "not an IPv6 address either"),
    ("1.2.3.4:6789:1", "not an IPv6 address either"),
    ("10.0.0.1:99999", "invalid port"),
    ("10.0.0.1:", "invalid port"),
    ("300.1.1.1:6789", "not a host name or IPv4 address"),
    ("[zz]:6789", ""),
    ("[v2:10.0.0.1:3300,10.0.0.1:6789]", "starts with v1:, v2: or any:"),
    ("[v3:10.0.0.1:3300]", ""),
    ("[v2:10.0.0.1:3300", "unbalanced brackets"),
    ("v2:10.0.0.1:3300]", "unbalanced brackets"),
    ("mon a", "not a host name"),
    ("mon\nhost = evil", "not a host name"),
    ("10.0.0.1:6789,]", "unbalanced brackets"),
    ("[]", ""),
    ("[v2:]", ""),
    ("10.0.0.1:+6789", "invalid port"),
    ("10.0.0.1:٦٧٨٩", "invalid port"),
    ("10.0.0.1:67\n89", "invalid port"),
    ("v1:mon\n:6789", "not a host name"),
    ("[v2:mon\n:3300,v1:mon:6789]", "not a host name"),
    ("[2001:db8::1\n]:6789", ""),
    ("-mon", "not a host name"),
])
def test_what_is_not_a_monitor_address_is_a_clear_error(bad, reason):
    with pytest.raises(InvalidInputError, match=r"mon_host") as caught:
        parse_mon_hosts([bad])
    assert reason in str(caught.value)
    assert "[v2:host:3300,v1:host:6789]" in str(caught.value) or "unbalanced" in str(caught.value)
    with pytest.raises(InvalidInputError, match="mon_hosts"):
        normalize_mon_hosts([bad])


@pytest.mark.parametrize("empty", [[""], [" ", ","], ";", [",,"]])
def test_entries_without_any_address_are_refused(empty):
    with pytest.raises(InvalidInputError, match="holds no monitor address"):
        parse_mon_hosts(empty)
    with pytest.raises(InvalidInputError, match="holds no monitor address"):
        connection_settings({"mon_host": empty if isinstance(empty, list) else [empty], "timeout": 5})


def test_abc_def_1_is_not_taken_for_ipv6():
    with pytest.raises(InvalidInputError, match=r"mon_hosts entry 'abc:def:1' is not a monitor address"):
        normalize_mon_hosts(["abc:def:1"])


def test_the_role_filter_writes_cephs_syntax_and_fails_clearly():
    mon_host = FilterModule().filters()["ceph_mon_host"]
    assert mon_host(_dump_vectors()) == f"[v2:{V2},v1:{V1}]"
    assert mon_host(["10.0.0.1:6789", "10.0.0.2"]) == "10.0.0.1:6789,10.0.0.2"
    from ansible.errors import AnsibleFilterError  # pylint: disable=import-outside-toplevel
    with pytest.raises(AnsibleFilterError, match="ceph_client_mon_hosts entry 'abc:def:1'"):
        mon_host(["abc:def:1"], "ceph_client_mon_hosts")
    with pytest.raises(AnsibleFilterError, match="holds no monitor address"):
        mon_host([], "ceph_client_mon_hosts")
