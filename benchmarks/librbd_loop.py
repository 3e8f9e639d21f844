# SPDX-License-Identifier: GPL-3.0-or-later
"""The floor: create N images with librbd in one Python process (no Ansible)."""

import sys

import rados
import rbd

FEATURES = rbd.RBD_FEATURE_LAYERING | rbd.RBD_FEATURE_EXCLUSIVE_LOCK | rbd.RBD_FEATURE_OBJECT_MAP | rbd.RBD_FEATURE_FAST_DIFF


def main() -> None:
    conf, pool, size, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
    cluster = rados.Rados(conffile=conf)
    cluster.connect(timeout=30)
    ioctx = cluster.open_ioctx(pool)
    api = rbd.RBD()
    for index in range(count):
        api.create(ioctx, f"{prefix}{index:05d}", size, old_format=False, features=FEATURES, order=22)
    ioctx.close()
    cluster.shutdown()


if __name__ == "__main__":
    main()
