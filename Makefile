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

.PHONY: setup run test test-slow book notebooks clean help

help:
	@echo "make run    - set up .venv and run the pipeline on the offline defaults (PRESET=$(PRESET), RUN_DIR=$(RUN_DIR))"
	@echo "make test   - set up .venv and run the test suite (not the slow tier)"
	@echo "make test-slow - the slow tier (real models and data)"
	@echo "make notebooks - execute every notebook in place on the cpu run (after make run), outputs kept for the book"
	@echo "make book   - build the book into _build/html (offline, warnings are errors)"

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

# MathJax 3 for the book, from the npm registry, checked against the tarball's SHA-256
MATHJAX_VERSION := 3.2.2
MATHJAX_SHA256 := 1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09
MATHJAX := _mathjax/mathjax/tex-chtml.js

$(MATHJAX):
	@mkdir -p .cache/npm
	cd .cache/npm && npm pack --silent mathjax@$(MATHJAX_VERSION) > /dev/null
	echo "$(MATHJAX_SHA256)  .cache/npm/mathjax-$(MATHJAX_VERSION).tgz" | sha256sum --check --quiet
	rm -rf .cache/npm/package _mathjax
	tar -xzf .cache/npm/mathjax-$(MATHJAX_VERSION).tgz -C .cache/npm package/es5
	mkdir -p _mathjax && mv .cache/npm/package/es5 _mathjax/mathjax

mathjax: $(MATHJAX)

book: $(STAMP) $(MATHJAX)
	$(BIN)/jupyter-book build --warningiserror --keep-going --quiet .
	@echo "open _build/html/index.html in a browser (or: python -m http.server -d _build/html)"

NOTEBOOKS ?= $(wildcard notebooks/[0-9][0-9]_*.ipynb)
# the run folder as the notebooks (cwd notebooks/) see it, so no absolute path lands in them
NB_RUN_DIR = $(shell python3 -c "import os; print(os.path.relpath('$(abspath $(RUN_DIR))', 'notebooks'))")
# the committed notebooks run with their parameters cell as it stands (preset cpu, run_dir
# None = runs/cpu in the checkout); another preset or folder is passed to papermill
NB_PARAMS = $(if $(filter cpu,$(PRESET)),,-p preset $(PRESET)) $(if $(filter runs/$(PRESET),$(RUN_DIR)),,-p run_dir "$(NB_RUN_DIR)")

# 09_results runs `lcrec-mini study` (about two hours on the cpu preset, resumable) unless its results exist
notebooks: $(STAMP)
	@for nb in $(NOTEBOOKS); do \
	  echo "== $$nb"; \
	  $(BIN)/papermill --cwd notebooks -k python3 $$nb $$nb $(NB_PARAMS) || exit 1; \
	  $(BIN)/python tools/make_notebooks.py --tidy $$nb; \
	done

clean:
	rm -rf $(VENV) runs _build .pytest_cache .cache _mathjax
