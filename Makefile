# The two commands of the README: `make demo` and `make test`. Each creates .venv with the
# project installed when it is missing or older than pyproject.toml; re-runs skip that.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m driftline.storage.offline_assets
	touch $@

demo: $(STAMP)
	$(BIN)/driftline demo

# Fast tests run first, the server-backed ones last (ordering in tests/conftest.py).
# pytest exits 5 when it collects nothing; that fails this target like any other failure.
test: $(STAMP) lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	$(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf .driftline data
