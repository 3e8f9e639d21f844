# SPDX-License-Identifier: GPL-3.0-or-later
"""Make ``ansible_collections.limiquantix.ceph_rbd`` importable for plain pytest.

The tests run from the collection's place in the build tree
(``build/collections/ansible_collections/limiquantix/ceph_rbd``).
"""

import sys
from pathlib import Path

COLLECTION_ROOT = Path(__file__).resolve().parents[1]
COLLECTIONS_PATH = COLLECTION_ROOT.parents[2]

if COLLECTION_ROOT.parents[1].name != "ansible_collections":
    raise RuntimeError(
        f"run the tests from build/collections/ansible_collections/limiquantix/ceph_rbd "
        f"(make test does), not from {COLLECTION_ROOT}"
    )
if str(COLLECTIONS_PATH) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS_PATH))
