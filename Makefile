# The two commands: `make run` and `make test`. Both create .venv when needed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run worker test lint schema migrate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m scripts.serve

# production: as many as wanted, next to API processes started with CUNWU_JOBS=0
worker: $(STAMP)
	$(BIN)/python -m scripts.worker

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

schema: $(STAMP)
	$(BIN)/python -m scripts.dump_schema

migrate: $(STAMP)
	$(BIN)/python -m scripts.migrate

clean:
	rm -rf $(VENV) .pytest_cache
