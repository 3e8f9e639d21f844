# SPDX-License-Identifier: GPL-3.0-or-later
"""Stand-in for the pip bootstrap script that ansible-test downloads.

ansible-test creates a virtual environment per sanity test and bootstraps pip in it
with ``python get_pip.py [pip options] pip==X setuptools wheel``, fetching that
script from a host this machine cannot reach. `make test` copies this file into
ansible-test's cache (~/.ansible/test/cache/get_pip_<version>.py): it installs the
Python's bundled pip with ensurepip, then the requested packages from PyPI.
"""

import ensurepip
import subprocess
import sys

# get-pip.py's own flags, which pip itself does not know.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

ensurepip.bootstrap(upgrade=True)
subprocess.check_call([sys.executable, "-m", "pip", "install"] + [a for a in sys.argv[1:] if a not in GET_PIP_ONLY])
