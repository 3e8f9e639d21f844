# SPDX-License-Identifier: GPL-3.0-or-later
"""Reference code that the docs give operators, run by the tests as it is written there.

docs/snapshots.md tells how to compute an import's content digest by hand; the unit and
integration tests check the module against exactly that code, so the docs cannot drift
from what rbd_image records.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any, Callable

DOCS = Path(__file__).resolve().parents[1] / "docs"


def documented_function(page: str, name: str) -> Callable[..., Any]:
    """The function ``name`` defined in a fenced python block of ``docs/<page>``."""
    text = (DOCS / page).read_text(encoding="utf-8")
    for block in re.findall(r"```python\n(.*?)```", text, flags=re.S):
        code = textwrap.dedent(block)
        if f"def {name}(" in code:
            namespace: dict[str, Any] = {}
            exec(compile(code, f"docs/{page}", "exec"), namespace)  # pylint: disable=exec-used
            return namespace[name]
    raise LookupError(f"docs/{page} has no python block defining {name}()")


content_digest = documented_function("snapshots.md", "content_digest")
