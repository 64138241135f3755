# Two commands for people: `make run` and `make test`. `make check` is what CI and reviewers run.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The demo index of `make run`: docs-mcp's own docs, in a place of their own, so that the demo
# never replaces the index of your docs (~/.local/share/docs-mcp/index unless you chose another).
DEMO_DB ?= .docs-mcp/demo-index

.PHONY: run test check format format-check lint types bench clean

# Also rebuilds a venv made by an unsupported Python or left half-made (see the script).
$(STAMP): pyproject.toml
	@bash scripts/make-venv.sh "$(PYTHON)" "$(VENV)"

run: $(STAMP)  ## index the bundled docs (into their own demo index) and serve them on http://127.0.0.1:8000/mcp
	@echo "Indexing docs-mcp's own docs into the demo index $(DEMO_DB)..."
	@$(BIN)/docs-mcp index --db $(DEMO_DB)
	@echo "docs-mcp is $(abspath $(BIN))/docs-mcp (not on your PATH: use that path, or" \
		"\`source $(BIN)/activate\` first). Try: $(BIN)/docs-mcp search 'connect Claude' --db $(DEMO_DB)"
	@$(BIN)/docs-mcp serve --transport http --db $(DEMO_DB)

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

clean:  ## remove the environment, the demo index and caches (`make run` builds them again)
	rm -rf $(VENV) .docs-mcp .pytest_cache .mypy_cache .ruff_cache dist build
