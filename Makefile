# Duplex: two commands. `make run` sets up and runs the demo center; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
DATA_DIR ?= ./data
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test venv install install-test lint typecheck pytest services clean web-assets

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PIP) install -q -e '.[test]'
	touch $@

venv install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: $(VENV)/.installed web-assets
	$(VENV)/bin/duplex db upgrade --data-dir $(DATA_DIR)
	$(VENV)/bin/duplex demo seed --data-dir $(DATA_DIR)
	DUPLEX_SIP_TLS_ENABLED=$${DUPLEX_SIP_TLS_ENABLED:-true} DUPLEX_SIP_WS_ENABLED=$${DUPLEX_SIP_WS_ENABLED:-true} $(VENV)/bin/duplex serve --data-dir $(DATA_DIR)

services:
	bash scripts/test-deps.sh

lint: install-test
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: install-test
	$(VENV)/bin/mypy

# Most tests wait on peers and timers, so they run in parallel processes (PYTEST_WORKERS, 3 by default: a
# third worker fills the waits of the other two on a 2-core machine); the `serial` tests measure timing, load
# or memory and run alone afterwards. PYTEST_WORKERS=0 runs everything in one process. Exit status 5 (no test
# selected, e.g. PYTEST_ARGS=tests/sip has no serial test) is not a failure.
PYTEST_WORKERS ?= 3
pytest: install-test services
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist worksteal -m "not serial" $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(VENV)/bin/pytest -m serial $(PYTEST_ARGS) || [ $$? -eq 5 ]

# The console's browser libraries (JsSIP), bundled by esbuild from the locked npm packages. Without npm the
# console still works, without the softphone.
WEB := src/duplex/web
web-assets: $(WEB)/static/vendor/duplex-vendor.js

$(WEB)/static/vendor/duplex-vendor.js: $(WEB)/package-lock.json $(WEB)/vendor-entry.js
	@if command -v npm >/dev/null; then \
	  cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error && npm run -s build; \
	else \
	  echo "npm not found: the web console runs without its softphone bundle (install Node.js and npm, then: make web-assets)"; \
	fi

test: install-test services web-assets lint typecheck pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
