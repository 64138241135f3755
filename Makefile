# Two commands for people: `make run` and `make test`. `make check` is what CI and reviewers run.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check format format-check lint types bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)  ## index the bundled docs and serve them on http://127.0.0.1:8000/mcp
	$(BIN)/docs-mcp index
	$(BIN)/docs-mcp serve --transport http

test: $(STAMP)  ## the whole test suite
	$(BIN)/python -m pytest -q

format:
	$(BIN)/ruff format docs_mcp tests scripts
	$(BIN)/ruff check --fix docs_mcp tests scripts

format-check: $(STAMP)
	$(BIN)/ruff format --check docs_mcp tests scripts

lint: $(STAMP)
	$(BIN)/ruff check docs_mcp tests scripts

types: $(STAMP)
	$(BIN)/mypy

check: format-check lint types test

bench: $(STAMP)  ## index the Ray docs from ../shared/bench and measure (not a test)
	$(BIN)/python scripts/bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache dist build
