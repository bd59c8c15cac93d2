# llm-bff: `make serve` runs the BFF on the offline demo model; `make test` runs everything,
# `make test-fast` all but the tests marked slow (a fresh clone, a wheel, the load test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test test-fast lint bench system-packages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

serve: $(VENV)/.installed
	$(BIN)/bff serve --host $(HOST) --port $(PORT)

system-packages:
	scripts/ensure-system-packages scripts/system-packages.txt

test: $(VENV)/.installed-test system-packages
	$(BIN)/pytest --cov --cov-report=term

test-fast: $(VENV)/.installed-test system-packages
	$(BIN)/pytest -m "not slow"

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $@ $(VENV)/.installed $(VENV)/.installed-test

bench: $(VENV)/.installed-bench system-packages
	$(BIN)/python -m benchmarks
