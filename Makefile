# The entry point. Every target installs what it needs into .venv first (PyPI only, no root).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
USER ?= dev

.PHONY: install run test bench lint typecheck token clean-data

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

bench: $(STAMP)
	$(BIN)/python -m tests.bench.upload
	$(BIN)/python -m tests.bench.delete
	$(BIN)/python -m tests.bench.catalog
	$(BIN)/python -m tests.bench.render
	$(BIN)/python -m tests.bench.observability

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

token: $(STAMP)
	@$(BIN)/python -m deploy.token $(USER) $(if $(ADMIN),--admin)

clean-data:
	rm -rf .data/cache .data/work
