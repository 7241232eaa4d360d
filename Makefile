# The two quick-start commands: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp

.PHONY: demo test lint typecheck pytest system-deps test-system-deps clean

$(STAMP)-venv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	touch $@

$(STAMP)-demo: $(STAMP)-venv pyproject.toml
	$(BIN)/pip install --quiet -e ".[models,video]"
	touch $@

$(STAMP)-test: $(STAMP)-venv pyproject.toml
	$(BIN)/pip install --quiet -e ".[all,dev]"
	touch $@ $(STAMP)-demo

system-deps:
	@bash scripts/install-system-deps

test-system-deps:
	@bash scripts/install-system-deps --with-chromium

demo: $(STAMP)-demo system-deps
	$(BIN)/omnidex demo

lint: $(STAMP)-test
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

typecheck: $(STAMP)-test
	$(BIN)/mypy

pytest: $(STAMP)-test test-system-deps
	$(BIN)/pytest

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
