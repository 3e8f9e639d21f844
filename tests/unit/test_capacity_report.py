# SPDX-License-Identifier: GPL-3.0-or-later
"""The capacity report's overcommit ratio (playbooks/templates/capacity-report.html.j2) for the
pools whose max available bytes give no plain ratio: not reported yet (null) and full (0).
tests/integration/test_report.py checks the numbers of real pools."""
from __future__ import annotations

import re
from pathlib import Path

import jinja2
import pytest
from ansible.plugins.filter.mathstuff import human_readable

TEMPLATE = Path(__file__).resolve().parents[2] / "playbooks" / "templates" / "capacity-report.html.j2"
GIB = 1 << 30


def render(max_avail: int | None, provisioned: int) -> str:
    """The report of one pool with one volume of ``provisioned`` bytes."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    env.filters["human_readable"] = human_readable
    pool = {"name": "p", "stored_bytes": GIB, "used_bytes": 3 * GIB, "max_avail_bytes": max_avail,
            "percent_used": 10.0, "quota_max_bytes": 0, "quota_max_objects": 0, "objects": 5,
            "namespaces": [], "applications": ["rbd"]}
    image = {"pool": "p", "namespace": "", "name": "vol-1", "provisioned_bytes": provisioned, "used_bytes": GIB,
             "parent": None, "watchers": []}
    return env.from_string(TEMPLATE.read_text()).render(
        report_rbd_pools=[pool], report_images=[image],
        report_pool_info={"cluster": {"fsid": "f", "health": "HEALTH_OK", "checks": {}}})


def pool_row(html: str) -> tuple[str, str, str]:
    """(data-overcommit, the ratio cell's class, the ratio cell's text) of the pool's row."""
    row = re.search(r'<tr class="pool"[^>]*data-overcommit="([^"]*)">.*?<td class="([^"]*)">([^<]*)</td></tr>', html, re.S)
    assert row, html
    return row.groups()


@pytest.mark.parametrize("max_avail, provisioned, expected", [
    (4 * GIB, 2 * GIB, ("0.5000", "", "0.50")),
    (GIB, 2 * GIB, ("2.0000", "warn", "2.00")),
    (None, 2 * GIB, ("", "", "n/a")),          # the mgr has not reported the new pool yet
    (0, 2 * GIB, ("inf", "warn", "inf")),      # full: no volume byte can be written
    (0, 0, ("0.0000", "", "0.00")),
])
def test_the_overcommit_ratio_is_unknown_while_max_available_is_and_endless_on_a_full_pool(
        max_avail, provisioned, expected):
    html = render(max_avail, provisioned)
    assert pool_row(html) == expected
    chart = "overcommit n/a" if expected[2] == "n/a" else f"({expected[2]}x)"
    assert chart in html
