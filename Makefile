# SPDX-License-Identifier: GPL-3.0-or-later
# Set-up, tests, demo and benchmarks of limiquantix.ceph_rbd.
# On a fresh Debian 12 machine `make demo` and `make test` are the whole set-up.

SHELL := /bin/bash
VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
SYSTEM_PYTHON := /usr/bin/python3
BUILD := $(CURDIR)/build
COLLECTIONS := $(BUILD)/collections
COLLECTION := $(COLLECTIONS)/ansible_collections/limiquantix/ceph_rbd
TESTENV := $(CURDIR)/tests/testenv/testenv
DEMO_ENV := $(CURDIR)/.testenv/demo
PYTEST_ARGS ?=

# Recursive calls from a target that has already installed the dependencies and built
# the collection: neither is done again.
SUBMAKE = $(MAKE) --no-print-directory -o deps -o collection

export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PATH := $(BIN):$(PATH)

.PHONY: deps packages venv collection test test-unit test-sanity test-lint test-molecule \
        test-integration test-molecule test-demo test-oldest-core test-envs-up test-envs-down \
        test-on-envs demo demo-clean bench bench-fleet bench-import bench-migration docs clean

deps: packages venv

packages:
	tests/testenv/install-packages

venv: $(VENV)/.deps-stamp

$(VENV)/.deps-stamp: requirements-dev.txt
	test -x $(BIN)/python || $(SYSTEM_PYTHON) -m venv --system-site-packages $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

# The collection as Ansible and ansible-test expect it:
# build/collections/ansible_collections/limiquantix/ceph_rbd (tracked + new files).
collection:
	rm -rf $(COLLECTION)
	mkdir -p $(COLLECTION)
	git ls-files -z --cached --others --exclude-standard \
	  | tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -C $(COLLECTION) -xf -
	# ansible-test lists files through git: give the copy a repository of its own.
	cd $(COLLECTION) && git init -q && git add -A

# make test: the static checks (unit, sanity, lint) run while the test environments start
# in the background; then the integration suite in pytest-xdist workers, one test
# environment each; then molecule and the oldest ansible-core on the first environment
# while the demo runs on its own cluster. Every environment is stopped whatever the result;
# the first failing stage fails make test (later stages are skipped, as make would).
# docs/testing.md ("How make test is split") has the figures.
TEST_ENV := $(CURDIR)/.testenv/test
# Each environment: 4 OSDs (the example inventory's SSD and HDD tiers get two each:
# tests/integration/test_example_inventory.py) and 3 hypervisors hv1..hv3 (the fleet tests,
# molecule), its fleet on the next net of TEST_FLEET_NETS: .testenv/test-1 on 127.0.1.1-3,
# .testenv/test-2 on 127.0.2.1-3. One net, one worker: make test TEST_FLEET_NETS=127.0.1
TEST_ENV_ARGS := --osds 4 --hypervisors 3
TEST_FLEET_NETS ?= 127.0.1 127.0.2
TEST_ENVS = $(foreach k,$(shell seq $(words $(TEST_FLEET_NETS))),$(TEST_ENV)-$(k))
TEST_LOGS := $(BUILD)/test-logs

test: deps collection
	@mkdir -p $(TEST_LOGS); rc=0; \
	trap '$(SUBMAKE) test-envs-down' EXIT; \
	echo "== $$(date +%T) starting $(words $(TEST_FLEET_NETS)) test environment(s) in the background: $(TEST_LOGS)/envs-up.log"; \
	$(SUBMAKE) test-envs-up > $(TEST_LOGS)/envs-up.log 2>&1 & up=$$!; \
	echo "== $$(date +%T) test-unit, test-sanity, test-lint"; $(SUBMAKE) test-unit test-sanity test-lint || rc=$$?; \
	wait $$up || { cat $(TEST_LOGS)/envs-up.log; echo "test: the test environments did not start" >&2; rc=1; }; \
	if [ $$rc = 0 ]; then $(SUBMAKE) test-on-envs || rc=$$?; fi; \
	echo "== $$(date +%T) make test: exit $$rc"; exit $$rc

# Start / stop the environments of TEST_ENVS, each with its fleet on its net.
test-envs-up:
	@set -e; set -- $(TEST_FLEET_NETS); for dir in $(TEST_ENVS); do \
	  echo "$$dir: fleet on $$1.1-3"; TESTENV_FLEET_NET=$$1 $(TESTENV) up $$dir $(TEST_ENV_ARGS); shift; done

test-envs-down:
	@for dir in $(TEST_ENVS); do if [ -e $$dir ]; then $(TESTENV) down $$dir; fi; done

# On running environments: the integration suite in one worker per environment, then
# molecule and the oldest ansible-core on the first one while the demo runs beside them
# (its own cluster, its output in $(TEST_LOGS)/demo.log, shown at the end).
test-on-envs:
	@rc=0; \
	TESTENV_DIRS="$(TEST_ENVS)" $(SUBMAKE) test-integration || rc=$$?; \
	if [ $$rc != 0 ]; then exit $$rc; fi; \
	echo "== $$(date +%T) test-demo in the background: $(TEST_LOGS)/demo.log"; \
	$(SUBMAKE) test-demo > $(TEST_LOGS)/demo.log 2>&1 & demo=$$!; \
	echo "== $$(date +%T) test-molecule, test-oldest-core on $(firstword $(TEST_ENVS))"; \
	TESTENV_DIR=$(firstword $(TEST_ENVS)) $(SUBMAKE) test-molecule test-oldest-core || rc=$$?; \
	wait $$demo; demo_rc=$$?; \
	echo "== $$(date +%T) test-demo (exit $$demo_rc): the last lines of $(TEST_LOGS)/demo.log"; tail -n 25 $(TEST_LOGS)/demo.log; \
	if [ $$demo_rc != 0 ]; then rc=$$demo_rc; fi; \
	exit $$rc

test-unit: collection
	cd $(COLLECTION) && $(BIN)/python -m pytest -q tests/unit $(PYTEST_ARGS)

# ansible-test bootstraps pip in its venvs with a script it downloads from a host
# outside the registries; seed its cache with our stand-in (see the script).
ANSIBLE_TEST_PIP = $(shell $(BIN)/python -c 'from types import SimpleNamespace as N; \
  from ansible_test._internal.python_requirements import get_venv_packages as g; \
  print(g(N(version="3.11"))["pip"].replace(".", "_"))' 2>/dev/null)

test-sanity: collection
	@[ -n "$(ANSIBLE_TEST_PIP)" ] || { echo "cannot read ansible-test's pip version" >&2; exit 1; }
	mkdir -p ~/.ansible/test/cache
	cp tests/tools/pip_bootstrap.py ~/.ansible/test/cache/get_pip_$(ANSIBLE_TEST_PIP).py
	cd $(COLLECTION) && $(BIN)/ansible-test sanity --local --python 3.11 --color no

# A HOME of its own: ansible-lint looks in ~/.ansible/collections first, where a copy of
# this collection installed by anything else would shadow the one being linted.
test-lint: collection
	mkdir -p $(BUILD)/lint-home
	cd $(COLLECTION) && HOME=$(BUILD)/lint-home $(BIN)/ansible-lint --profile production
	cd $(COLLECTION) && $(BIN)/antsibull-changelog lint

# Module reference generated from the modules' own documentation: build/docs/<module>.txt
docs: deps collection
	rm -rf $(BUILD)/docs && mkdir -p $(BUILD)/docs
	for module in $$(ls plugins/modules/*.py | xargs -n1 basename | sed 's/\.py$$//'); do \
	  ANSIBLE_NOCOLOR=1 $(BIN)/ansible-doc -t module limiquantix.ceph_rbd.$$module > $(BUILD)/docs/$$module.txt || exit 1; \
	done
	for role in $$(ls roles); do \
	  ANSIBLE_NOCOLOR=1 $(BIN)/ansible-doc -t role limiquantix.ceph_rbd.$$role > $(BUILD)/docs/role-$$role.txt || exit 1; \
	done
	@echo "module and role reference in $(BUILD)/docs"

# The integration suite. With TESTENV_DIRS naming N running environments: N pytest-xdist
# workers, one environment each (conftest.py), whole files dealt out longest first
# (conftest.py's FILE_SECONDS); every worker records its modules' results in MODULE_RUNS,
# and test_module_docs.py then checks them in one last run; the 15 slowest tests are listed
# (where to win back time). Else one pytest process on
# TESTENV_DIR, or on an environment of its own.
MODULE_RUNS := $(BUILD)/module-runs
INTEGRATION_WORKERS = $(words $(TESTENV_DIRS))

test-integration: collection
	@rm -rf $(MODULE_RUNS); cd $(COLLECTION) && \
	if [ $(INTEGRATION_WORKERS) -gt 1 ]; then rc=0; \
	  echo "== $$(date +%T) integration: $(INTEGRATION_WORKERS) workers on $(TESTENV_DIRS)"; \
	  MODULE_RUNS_DIR=$(MODULE_RUNS) $(BIN)/python -m pytest -q -n $(INTEGRATION_WORKERS) --dist loadfile --durations=15 \
	    --no-loadscope-reorder --ignore=tests/integration/test_module_docs.py tests/integration $(PYTEST_ARGS) || rc=$$?; \
	  echo "== $$(date +%T) integration: test_module_docs.py on every worker's module results"; \
	  MODULE_RUNS_DIR=$(MODULE_RUNS) TESTENV_DIRS= TESTENV_DIR=$(firstword $(TESTENV_DIRS)) \
	    $(BIN)/python -m pytest -q tests/integration/test_module_docs.py || rc=$$?; \
	  exit $$rc; \
	else TESTENV_DIR=$${TESTENV_DIR:-$(firstword $(TESTENV_DIRS))} $(BIN)/python -m pytest -q tests/integration $(PYTEST_ARGS); fi

# The oldest ansible-core that meta/runtime.yml claims (requires_ansible: ">=X.Y.Z"), in a
# virtualenv of its own (kept under build/ between runs): the unit tests and a short
# integration smoke, one module of each family and one playbook (test_core_smoke.py).
# Against TESTENV_DIR when it names a running test environment, else one of its own.
OLDEST_CORE = $(shell sed -n 's/^requires_ansible: *">=\([0-9]*\.[0-9]*\).*/\1/p' meta/runtime.yml)
OLDEST_VENV = $(BUILD)/venv-ansible-core-$(OLDEST_CORE)

test-oldest-core: collection
	@[ -n "$(OLDEST_CORE)" ] || { echo "cannot read requires_ansible from meta/runtime.yml" >&2; exit 1; }
	test -f $(OLDEST_VENV)/.deps-stamp || { rm -rf $(OLDEST_VENV) \
	  && $(SYSTEM_PYTHON) -m venv --system-site-packages $(OLDEST_VENV) \
	  && $(OLDEST_VENV)/bin/python -m pip install -q "ansible-core==$(OLDEST_CORE).*" "pytest>=8" \
	  && touch $(OLDEST_VENV)/.deps-stamp; }
	cd $(COLLECTION) && PATH=$(OLDEST_VENV)/bin:$$PATH $(OLDEST_VENV)/bin/python -m pytest -q \
	  tests/unit tests/integration/test_core_smoke.py $(PYTEST_ARGS)

# Molecule scenarios of the roles (extensions/molecule), on this machine and on the fleet's
# host hv2 (over ssh, with become), against a test environment: TESTENV_DIR when it names a
# running one with a fleet, else one started and stopped here.
MOLECULE_TESTENV := $(CURDIR)/.testenv/molecule
MOLECULE_SCENARIOS := ceph_client libvirt_secret

test-molecule: collection
	@set -e; \
	if [ -n "$$TESTENV_DIR" ] && [ -f "$$TESTENV_DIR/env" ]; then envdir=$$TESTENV_DIR; started=0; \
	else envdir=$(MOLECULE_TESTENV); $(TESTENV) up $$envdir --osds 1 --hypervisors 2; started=1; fi; \
	grep -q TESTENV_INVENTORY $$envdir/env \
	  || { echo "test-molecule: $$envdir has no fleet (testenv up DIR --hypervisors 2)" >&2; exit 1; }; \
	rc=0; \
	for scenario in $(MOLECULE_SCENARIOS); do \
	  ( source $$envdir/env && cd $(COLLECTION) && $(BIN)/molecule test -s $$scenario ) || { rc=1; break; }; \
	done; \
	if [ $$started = 1 ]; then $(TESTENV) down $$envdir; fi; \
	exit $$rc

# The demo: 3 HDD OSDs and 1 SSD OSD, so that the SSD tier has somewhere to go.
DEMO_PLAYBOOK = source $(DEMO_ENV)/env && cd $(COLLECTION) && $(BIN)/ansible-playbook -i playbooks/inventory/demo

DEMO_ENV_ARGS := --osds 4 --ssd-osds 1
demo: deps collection
	$(TESTENV) up $(DEMO_ENV) $(DEMO_ENV_ARGS)
	$(DEMO_PLAYBOOK) playbooks/demo.yml $(DEMO_ARGS)

# CI's check of the demo: a first run converges (its VM boots from the golden image's clone and
# writes its line on the serial console), a check run and a second run change nothing and show
# that line in their summary, then clean up. Before the first run, a shut-off VM of the demo's
# name is defined with its console in another directory, as a killed run or another checkout
# leaves it (CI met one once): the demo must define its own over it (playbooks/tasks/demo_vm.yml).
DEMO_VM := limiquantix-demo-vm# the demo inventory's demo_vm_name
test-demo: deps collection
	$(SUBMAKE) demo-clean
	$(TESTENV) up $(DEMO_ENV) $(DEMO_ENV_ARGS)
	mkdir -p $(BUILD)/stale-demo  # as in CI: that other directory exists
	virsh -c qemu:///system domstate $(DEMO_VM) >/dev/null 2>&1 || printf '%s' \
	  "<domain type='qemu'><name>$(DEMO_VM)</name><memory unit='MiB'>64</memory>" \
	  "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><serial type='file'>" \
	  "<source path='$(BUILD)/stale-demo/demo-vm-serial.log'/><target port='0'/></serial></devices></domain>" \
	  | virsh -c qemu:///system define /dev/stdin
	$(SUBMAKE) demo
	$(SUBMAKE) demo DEMO_ARGS="--check --diff" | tee $(BUILD)/demo-check.log
	$(SUBMAKE) demo | tee $(BUILD)/demo-second.log
	rc=0; for log in $(BUILD)/demo-check.log $(BUILD)/demo-second.log; do \
	  grep -Eq 'localhost +: ok=[0-9]+ +changed=0 +unreachable=0 +failed=0' $$log \
	    || { echo "demo: $$log reports changes or failures" >&2; rc=1; }; \
	  grep -q '"limiquantix-boot-ok" appeared' $$log \
	    || { echo "demo: $$log does not show the guest's boot line" >&2; rc=1; }; done; \
	$(SUBMAKE) demo-clean; exit $$rc

demo-clean: collection
	if [ -f $(DEMO_ENV)/env ]; then $(DEMO_PLAYBOOK) playbooks/demo_clean.yml; fi
	$(TESTENV) down $(DEMO_ENV)

bench: deps collection
	cd $(COLLECTION) && $(BIN)/python benchmarks/run.py --out $(CURDIR)/benchmarks/results $(BENCH_ARGS)
	$(SUBMAKE) bench-fleet
	$(SUBMAKE) bench-import
	$(SUBMAKE) bench-migration

# rbd_image source: vs rbd import and qemu-img convert, 1 GiB 90 % zeros (BENCH_IMPORT_ARGS: --size-mib, --rounds).
bench-import: collection
	cd $(COLLECTION) && $(BIN)/python benchmarks/image_import.py --out $(CURDIR)/benchmarks/results $(BENCH_IMPORT_ARGS)

# hypervisors.yml on 1, 2 and 4 hosts of a fleet of its own (127.0.8.x), or FLEET_TESTENV_DIR.
bench-fleet: collection
	cd $(COLLECTION) && $(BIN)/python benchmarks/fleet.py --out $(CURDIR)/benchmarks/results $(BENCH_FLEET_ARGS)

# One live migration (module and migrate.yml) and one up-front refusal, on a fleet of its own
# (127.0.9.x) or MIGRATION_TESTENV_DIR.
bench-migration: collection
	cd $(COLLECTION) && $(BIN)/python benchmarks/migration.py --out $(CURDIR)/benchmarks/results $(BENCH_MIGRATION_ARGS)

clean:
	rm -rf $(BUILD) tests/output .pytest_cache
