# subventio — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export SUBVENTIO_DATA_DIR ?= $(CURDIR)/var

.DEFAULT_GOAL := help
.PHONY: help install run demo test test-sqlite test-postgres chromium lint bench bench-quick clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install pinned dependencies

run: $(STAMP) ## load the demo history (on an empty store) and serve on 127.0.0.1:$${SUBVENTIO_PORT:-8000}
	mkdir -p $(SUBVENTIO_DATA_DIR)
	$(BIN)/subventio demo --if-empty
	$(BIN)/subventio serve

demo: $(STAMP) ## load the real demo history into the store
	$(BIN)/subventio demo

test: $(STAMP) chromium ## lint the dependency rule, then the suite on SQLite, then on PostgreSQL + RabbitMQ
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

chromium: ## install headless Chromium and its driver (Debian packages) for the browser test, when missing
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || (apt-get update && apt-get install -y chromium chromium-driver)

test-sqlite: $(STAMP) ## the suite on the embedded default (SQLite, in-memory broker)
	SUBVENTIO_TEST_BACKEND=sqlite $(BIN)/pytest -q -p no:cacheprovider

test-postgres: $(STAMP) ## the suite on PostgreSQL (127.0.0.1:5432) and RabbitMQ (127.0.0.1:5672)
	SUBVENTIO_TEST_BACKEND=postgres $(BIN)/pytest -q -p no:cacheprovider -m "not sqlite_only"

lint: $(STAMP) ## ruff, mypy (strict on domain/ and projections/), import-linter contracts
	$(BIN)/ruff check .
	$(BIN)/mypy domain projections
	$(BIN)/lint-imports

bench: $(STAMP) ## run the benchmarks (SQLite, and PostgreSQL when it answers); writes bench/RESULTS.md
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; } || echo "wrk could not be installed: the Python load generator stands in"
	$(BIN)/python -m bench --postgres

bench-quick: $(STAMP) ## a short run of the benchmarks (a few minutes)
	$(BIN)/python -m bench --quick

clean: ## remove the virtualenv and the local data
	rm -rf $(VENV) var/*
