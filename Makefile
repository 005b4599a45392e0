# Two commands matter (README): `make run` and `make test`. Both create .venv when it
# is missing and install the pinned requirements first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PRESET ?= cpu
RUN_DIR ?= runs/$(PRESET)
PYTEST_ARGS ?=
STAMP := $(VENV)/.installed

.PHONY: setup run test test-slow clean help

help:
	@echo "make run    - set up .venv and run the pipeline on the offline defaults (PRESET=$(PRESET), RUN_DIR=$(RUN_DIR))"
	@echo "make test   - set up .venv and run the test suite (not the slow tier)"
	@echo "make test-slow - the slow tier (real models and data)"

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/lcrec-mini run --preset $(PRESET) --run-dir $(RUN_DIR)

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) runs _build .pytest_cache
