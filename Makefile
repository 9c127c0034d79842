# The entry point. Every target installs what it needs into .venv first (PyPI only, no root).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
USER ?= dev

.PHONY: install run test test-fast bench lint typecheck token clean-data

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m deploy.stack

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Unit and deploy checks only: no server is started, no media is encoded (tests/README.md).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not integration" $(PYTEST_ARGS)

# One table at the end, bench/results.json, and the README's table rewritten from it.
# BENCH_SCALE=full runs longer (the 1 GiB upload, the 60 s render source).
bench: $(STAMP)
	$(BIN)/python -m tests.bench
	$(BIN)/python -m tests.bench.report

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

token: $(STAMP)
	@$(BIN)/python -m deploy.token $(USER) $(if $(ADMIN),--admin)

clean-data:
	rm -rf .data/ingest .data/storage .data/tracking .data/render
