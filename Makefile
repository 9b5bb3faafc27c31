# The two commands: `make run` and `make test`. Both create .venv when needed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run worker test lint schema migrate lock clean

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

# requirements.lock: every runtime package pinned with its hashes, for production installs
# (README: `pip install --require-hashes -r requirements.lock`). Run on Python 3.11, Linux.
# pip-tools lives in a venv of its own, so the app's .venv is left as it is.
LOCK_VENV := .venv-lock
lock:
	test -x $(LOCK_VENV)/bin/pip-compile || ($(PYTHON) -m venv $(LOCK_VENV) \
		&& $(LOCK_VENV)/bin/python -m pip install --quiet 'pip-tools>=7.4')
	CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes \
		--strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
		--no-emit-trusted-host --output-file requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) .pytest_cache
