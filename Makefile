# llm-bff: `make serve` runs the BFF on the offline demo model; `make test` runs everything,
# `make test-fast` all but the tests marked slow (a fresh clone, a wheel, the load test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test test-fast lint bench system-packages eval eval-baselines

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

# The peers the benchmarks measure beside the BFF (benchmarks/peers/), in their own venv.
PEERS := .venv-peers

$(PEERS)/.installed: benchmarks/peers/requirements.txt
	$(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/pip install -q -r benchmarks/peers/requirements.txt
	touch $@

bench: $(VENV)/.installed-bench $(PEERS)/.installed system-packages
	$(BIN)/python -m benchmarks

# The eval gate (docs/evals.md): every reference task on the demo model, its committed
# dataset, compared with its committed baseline; fails on a regression. Runs, summaries and
# reports land in evals/runs/.
EVAL_TASKS := extractActionPlan summarizeTicket briefCountry answerFromDocs
EVAL_ENV := BFF_DEMO_CHUNK_DELAY_S=0 BFF_DEMO_FAULT_RATE=0
EVAL_RUN = $(EVAL_ENV) $(BIN)/bff eval $$task --route demo/heuristic --concurrency 8

eval: $(VENV)/.installed
	@mkdir -p evals/runs
	@status=0; for task in $(EVAL_TASKS); do \
	  $(EVAL_RUN) --out evals/runs/$$task.json --html evals/runs/$$task.html \
	    > evals/runs/$$task.txt || exit $$?; \
	  head -n 2 evals/runs/$$task.txt; \
	  $(BIN)/bff eval compare evals/baselines/$$task.json evals/runs/$$task.json \
	    --html evals/runs/$$task-compare.html || status=1; \
	done; exit $$status

eval-baselines: $(VENV)/.installed
	@for task in $(EVAL_TASKS); do \
	  $(EVAL_RUN) --out evals/baselines/$$task.json || exit $$?; \
	done
