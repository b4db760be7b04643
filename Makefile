# Build, test and run the course. `make book` and `make test` do all the set-up on a fresh
# machine (they create .venv from requirements.txt if it is missing or out of date).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed

# Strict book build: every Sphinx warning (and every broken reference, -n) is an error.
# --all re-reads every page (sphinxcontrib-bibtex does not track citations incrementally).
JB_BUILD := $(BIN)/jupyter-book build . --all -W -n --keep-going
NBVAL := $(PY) -m pytest -q -p no:cacheprovider --nbval --nbval-current-env \
         --nbval-sanitize-with tests/nbval_sanitize.cfg
LINT_PATHS := $(wildcard mdiff tests benchmarks chapters _ext)
export PYTHONHASHSEED := 0

.PHONY: help venv book build test lint unit nbval browser execute lab student bench clean distclean

help:
	@echo "make book      create .venv if needed, build the HTML book, print its path"
	@echo "make test      ruff, unit tests, notebooks vs stored outputs (nbval), strict build,"
	@echo "               browser test of the built book (headless Chromium, offline)"
	@echo "make browser   only the browser test, on the existing build (_build/html)"
	@echo "make lab       open the chapters in JupyterLab"
	@echo "make execute   re-execute every chapter in place (outputs + widget state)"
	@echo "make student   generate the student versions into _build/student"
	@echo "make bench     run the performance benchmarks"
	@echo "make clean     remove build products (keeps .venv); distclean also removes .venv"

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -r requirements.txt
	touch $@

book: $(STAMP) build
	@echo "Book: $(CURDIR)/_build/html/index.html"

# The strict build alone (renders the stored outputs; executes nothing).
build: $(STAMP)
	@SECONDS=0; $(JB_BUILD); echo "[time] strict book build: $${SECONDS} s"

# Each notebook executes exactly once in `make test`: under nbval, which checks that the
# stored outputs reproduce; the build then renders those same stored outputs.
test: $(STAMP)
	@SECONDS=0; $(MAKE) --no-print-directory lint; echo "[time] ruff: $${SECONDS} s"
	@SECONDS=0; $(MAKE) --no-print-directory unit; echo "[time] unit tests: $${SECONDS} s"
	@SECONDS=0; $(MAKE) --no-print-directory nbval; echo "[time] notebooks (nbval): $${SECONDS} s"
	@$(MAKE) --no-print-directory build
	@SECONDS=0; $(MAKE) --no-print-directory browser; echo "[time] browser test: $${SECONDS} s"
	@echo "make test: all checks passed"

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)

unit: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests

nbval: $(STAMP)
	$(NBVAL) chapters/

# The built book in headless Chromium (tests/browser; screenshots in _build/screenshots).
# It needs a build, so `pytest tests` (the unit run) does not collect tests/browser: it runs
# only when named, as here. BOOK_HTML=... tests another build directory.
browser: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests/browser

# Re-execute chapters top to bottom in place (all, or NB="chapters/01-....ipynb");
# prints wall time and peak kernel memory per chapter.
execute: $(STAMP)
	$(PY) tests/execute.py $(NB)

lab: $(STAMP)
	$(BIN)/jupyter lab chapters/

student: $(STAMP)
	$(PY) -m mdiff.classroom student chapters _build/student

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf _build .pytest_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -print0 | xargs -0 rm -rf
	find . -path ./$(VENV) -prune -o -name .ipynb_checkpoints -type d -print0 | xargs -0 rm -rf

distclean: clean
	rm -rf $(VENV)
