# SPDX-License-Identifier: GPL-3.0-or-later
"""The floors: librbd in one Python process, one image after the other (no Ansible).

  librbd_loop.py CONF POOL SIZE PREFIX COUNT create   create COUNT images (the cold floor)
  librbd_loop.py CONF POOL SIZE PREFIX COUNT open     open every image of POOL read-only,
                                                      stat it and close it (the warm floor)
"""

import sys

import rados
import rbd

FEATURES = rbd.RBD_FEATURE_LAYERING | rbd.RBD_FEATURE_EXCLUSIVE_LOCK | rbd.RBD_FEATURE_OBJECT_MAP | rbd.RBD_FEATURE_FAST_DIFF


def create(ioctx, size: int, prefix: str, count: int) -> None:
    api = rbd.RBD()
    for index in range(count):
        api.create(ioctx, f"{prefix}{index:05d}", size, old_format=False, features=FEATURES, order=22)


def open_all(ioctx) -> None:
    for entry in rbd.RBD().list2(ioctx):
        image = rbd.Image(ioctx, entry["name"], read_only=True)
        try:
            image.stat()
        finally:
            image.close()


def main() -> None:
    conf, pool, size, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
    mode = sys.argv[6] if len(sys.argv) > 6 else "create"
    cluster = rados.Rados(conffile=conf)
    cluster.connect(timeout=30)
    ioctx = cluster.open_ioctx(pool)
    if mode == "open":
        open_all(ioctx)
    else:
        create(ioctx, size, prefix, count)
    ioctx.close()
    cluster.shutdown()


if __name__ == "__main__":
    main()
