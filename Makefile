# Infinite Lanes — `make help` lists the targets. Everything runs inside ./.venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
AUDIT_VENV ?= .venv-audit
# Advisories we have read and accepted, each with its reason in README "Dependencies" (none today):
AUDIT_IGNORES :=
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Bytecode is kept whatever the environment says: the suite starts three pytest processes and dozens of servers, and
# without it each would compile app/ again and rewrite the assertions of every pytest plugin's modules (schemathesis
# and hypothesis: some 400); a worker then took 16 s to collect the suite instead of 4 s (docs/performance.md).
unexport PYTHONDONTWRITEBYTECODE

.DEFAULT_GOAL := help
.PHONY: help run demo export test lint typecheck pytest browser redis fuzz audit bench bench-training bench-cost bench-slopes bench-page bench-animation bench-store bench-api bench-load bench-contention bench-slow-clients screenshots clean system-python

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

run: $(VENV)/.runtime ## Set up and serve on http://127.0.0.1:8000 (LANES_HOST, LANES_PORT, LANES_WORKERS: see README)
	$(BIN)/python -m app serve

demo: $(VENV)/.runtime ## Run the default drift experiment and print what it measured
	$(BIN)/python -m app demo

test: lint typecheck pytest ## Install what the tests need and run lint, type checks and the whole suite

lint: $(VENV)/.dev ## ruff
	$(BIN)/ruff check app tests benchmarks

typecheck: $(VENV)/.dev ## mypy --strict on app/
	$(BIN)/mypy

pytest: $(VENV)/.dev browser redis ## The test suite (browser tests drive Debian's Chromium; store tests a redis-server they start)
	$(BIN)/python -m pytest -n 2 -m "not alone"
	$(BIN)/python -m pytest -m alone

screenshots: $(VENV)/.dev browser ## Record the figures' reference images (tests/web/screenshots/) after an intended change of look
	$(BIN)/python -m tests.web.test_layout

fuzz: $(VENV)/.dev ## Schema-driven fuzzing of every API operation with FUZZ_EXAMPLES (default 1000) examples each
	FUZZ_EXAMPLES=$(or $(FUZZ_EXAMPLES),1000) $(BIN)/python -m pytest tests/api/test_fuzz.py -q \
		--hypothesis-seed=$(or $(FUZZ_SEED),$$RANDOM) --hypothesis-show-statistics

audit: $(VENV)/.dev $(AUDIT_VENV)/bin/pip-audit ## Known vulnerabilities in every installed pinned package (needs PyPI's or OSV's advisory data: not part of make test)
	$(AUDIT_VENV)/bin/pip-audit --strict --progress-spinner off --desc on $(AUDIT_IGNORES) \
		--path $$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')

$(AUDIT_VENV)/bin/pip-audit: requirements-audit.txt
	$(PYTHON) -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/python -m pip install --quiet -r requirements-audit.txt

browser: ## Debian's Chromium for the browser tests, if missing (Playwright cannot download one here)
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

redis: ## Debian's redis-server for the result store's tests, if missing (the tests start and stop it themselves)
	@test -x /usr/bin/redis-server || { $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server; }

export: $(VENV)/.runtime ## Static site with the presets' results in ./build/site (EXPORT_DIR=…)
	$(BIN)/python -m app export $(or $(EXPORT_DIR),build/site)

bench: $(VENV)/.runtime ## Benchmarks: kernel throughput against matmul, default experiment time
	$(BIN)/python -m benchmarks.core

bench-training: $(VENV)/.runtime ## A deep training step against numpy's streaming bandwidth; float32 training against float64
	$(BIN)/python -m benchmarks.training

bench-cost: $(VENV)/.runtime ## The cost model against measured CPU time over a grid of settings (fails outside 2×)
	$(BIN)/python -m benchmarks.cost

bench-slopes: $(VENV)/.runtime ## The ReLU drift's slope and its two parts' (units switching, the rest), and erf's, widths 16…8192
	$(BIN)/python -m benchmarks.drift_parts

bench-page: $(VENV)/.dev browser ## A first visit's bytes, time to the first figure and first screen, each chart's delay once scrolled to (1280 px; Lighthouse's mobile profile), warm and cold server, targets beside
	$(BIN)/python -m benchmarks.page

bench-animation: $(VENV)/.dev browser ## Frames per second of "Widen the road" and "Play the day" in headless Chromium
	$(BIN)/python -m benchmarks.animation

bench-store: $(VENV)/.runtime redis ## The result store: put, get and eviction of the default experiment, SQLite against Redis
	$(BIN)/python -m benchmarks.store

bench-load: $(VENV)/.dev ## Realistic mix at 10, 50 and 200 clients against uvicorn --workers 2 on 127.0.0.1 (wrk)
	@command -v wrk >/dev/null || { $(SUDO) apt-get update && $(SUDO) apt-get install -y wrk; }
	$(BIN)/python -m benchmarks.load

bench-contention: $(VENV)/.dev ## Uncached experiments beside busy loops, and four large ones at once, against uvicorn --workers 2
	$(BIN)/python -m benchmarks.contention

bench-slow-clients: $(VENV)/.dev ## Slowloris, short bodies, a huge header and a drain against python -m app serve with 2 workers
	$(BIN)/python -m benchmarks.slow_clients

bench-api: $(VENV)/.runtime ## API latency and bounded load runs on 127.0.0.1 (installs Debian's wrk if missing)
	@command -v wrk >/dev/null || { $(SUDO) apt-get update && $(SUDO) apt-get install -y wrk; }
	$(BIN)/python -m benchmarks.api

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) $(AUDIT_VENV) .pytest_cache .mypy_cache .ruff_cache

system-python: ## Debian: install python3-venv if this Python cannot make virtualenvs
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { $(SUDO) apt-get update && $(SUDO) apt-get install -y python3-venv python3-pip; }
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), f"Python 3.11 or newer is needed, this is {sys.version}"'

$(VENV)/bin/python: | system-python
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@
