# Duplex: two commands. `make run` sets up and runs the demo center; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
DATA_DIR ?= ./data
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test venv install install-test lint typecheck pytest services clean

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

run: $(VENV)/.installed
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

pytest: install-test services
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test: install-test services lint typecheck pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
