# Build, test and run the course. `make book` and `make test` do all the set-up on a fresh
# machine (they create .venv from requirements.txt if it is missing or out of date); the
# browser test also needs Debian's chromium (/usr/bin/chromium), which .ci/run installs.

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
NBVAL := $(PY) -m pytest -q -p no:cacheprovider -p tests.nbval_cpu --nbval --nbval-current-env \
         --nbval-sanitize-with tests/nbval_sanitize.cfg
LINT_PATHS := $(wildcard mdiff tools tests benchmarks chapters _ext)
export PYTHONHASHSEED := 0
# oneDNN (PyTorch's CPU convolutions) picks its kernels by the CPU's instruction set: AVX-512
# and AVX2 round float32 sums differently, so the U-Net's samples (results/E9.csv, chapter 10)
# would differ in their last printed digit between machines. Capped at AVX2, an AVX-512
# machine computes what an AVX2 one does (checked: the E9 prefix rerun matches the stored rows
# on both; tools/long_runs.py and tests/conftest.py set the same default when run directly).
export ONEDNN_MAX_CPU_ISA ?= AVX2

# PyTorch, CPU-only by default. requirements.txt pins torch (torch==X.Y.Z, the one pin read
# here). On Linux, PyPI's wheel of that version is the CUDA build (a ~0.9 GB wheel that pulls
# ~2.2 GB of NVIDIA wheels; README, "Install sizes"), so on Linux the venv step first installs
# the pinned torch from PyTorch's CPU index (a 192 MB wheel), and requirements.txt then finds
# it satisfied. A torch wheel pip can already find without any index (--find-links,
# PIP_FIND_LINKS) is used first, without network. TORCH_INDEX= (empty) installs PyPI's
# default build (the CUDA one on Linux: for a GPU); another index URL, e.g.
# https://download.pytorch.org/whl/cu126, that index's build. macOS and Windows: PyPI's
# wheels are CPU builds already, so the default there is PyPI.
TORCH_PIN := $(shell sed -n 's/^\(torch==[^ ;#]*\).*/\1/p' requirements.txt)
ifeq ($(shell uname -s),Linux)
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
else
TORCH_INDEX ?=
endif

.PHONY: help venv book build test lint lint-workflows unit nbval browser execute lab \
        lab-instructor student release bench long-runs clean distclean

help:
	@echo "make book      create .venv if needed, build the HTML book, print its path"
	@echo "make test      ruff, unit tests, notebooks vs stored outputs (nbval), strict build,"
	@echo "               browser test of the built book (headless Chromium, offline)"
	@echo "make browser   only the browser test, on the existing build (_build/html)"
	@echo "make lab       open the chapters in JupyterLab (students: no nbgrader)"
	@echo "make lab-instructor  JupyterLab with nbgrader's extensions (COURSE=dir, default"
	@echo "               chapters/: a course directory with nbgrader_config.py)"
	@echo "make execute   re-execute every chapter in place (outputs + widget state) with"
	@echo "               python -m tools.execute; NB=chapters/01-....ipynb for one chapter"
	@echo "make student   generate the student versions into _build/student"
	@echo "make bench     run the performance benchmarks (benchmarks/); the instructors' tables:"
	@echo "               python -m tools.chapter_table [--measure] (re-times every chapter)"
	@echo "make long-runs the full-length experiments into results/*.csv with provenance"
	@echo "               (tools/long_runs.py; 56 min on 2 idle cores; EXPERIMENTS=, JOBS=)"
	@echo "make release   check versions, citation and Colab cells, tag vX.Y.Z (DRY_RUN=1:"
	@echo "               only check and print the git command)"
	@echo "make clean     remove build products (keeps .venv); distclean also removes .venv"
	@echo "Variables: TORCH_INDEX (default on Linux: PyTorch's CPU wheel index; empty: PyPI)"

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@if [ -n "$(TORCH_INDEX)" ]; then \
	  echo "$(TORCH_PIN): a local wheel, else $(TORCH_INDEX) (TORCH_INDEX= for PyPI's build)"; \
	  $(PY) -m pip install -q --no-deps --no-index "$(TORCH_PIN)" 2>/dev/null \
	  || $(PY) -m pip install --no-deps --index-url "$(TORCH_INDEX)" "$(TORCH_PIN)" \
	  || echo "warning: could not install $(TORCH_PIN) from $(TORCH_INDEX); requirements.txt" \
	          "now installs PyPI's build (on Linux the CUDA one, about 3 GB)" >&2; \
	fi
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
	$(BIN)/ruff format --check chapters
	@$(MAKE) --no-print-directory lint-workflows

# The GitHub Actions workflow cannot run here: validate it against GitHub's workflow schema
# (check-jsonschema's bundled copy, offline) and audit it for security (zizmor, offline).
# tests/test_publishing.py runs the same two checks in the unit tests.
lint-workflows: $(STAMP)
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/zizmor --offline --no-progress .github/workflows/

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
	$(PY) -m tools.execute $(NB)

# JupyterLab for students: without nbgrader (requirements.txt installs it for instructors),
# so no nbgrader menu or panels, and no nbgrader warnings at start. Its front-end is disabled
# by a page_config.json in a config directory inside .venv, added for this command only
# (JUPYTER_CONFIG_PATH); its server extensions on the command line; ~/.jupyter is untouched.
# As root (a container) it adds --allow-root --no-browser; LAB_FLAGS adds options, e.g.
# LAB_FLAGS="--ip=0.0.0.0 --port=8888".
STUDENT_JUPYTER := $(CURDIR)/$(VENV)/etc/jupyter-student
NO_NBGRADER_SERVER := "{'nbgrader.server_extensions.formgrader': False, \
  'nbgrader.server_extensions.assignment_list': False, \
  'nbgrader.server_extensions.course_list': False, \
  'nbgrader.server_extensions.validate_assignment': False}"
AS_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root --no-browser)
LAB_FLAGS ?=
COURSE ?= chapters

lab: $(STAMP)
	@mkdir -p $(STUDENT_JUPYTER)/labconfig
	@echo '{"disabledExtensions": {"@jupyter/nbgrader": true}}' \
	  > $(STUDENT_JUPYTER)/labconfig/page_config.json
	JUPYTER_CONFIG_PATH="$(STUDENT_JUPYTER)$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
	  $(BIN)/jupyter lab chapters/ $(AS_ROOT) $(LAB_FLAGS) \
	  --ServerApp.jpserver_extensions=$(NO_NBGRADER_SERVER)

# JupyterLab for instructors: nbgrader's menu, formgrader and assignment panels, started in
# COURSE (nbgrader reads nbgrader_config.py from there; see chapters/instructors.md).
lab-instructor: $(STAMP)
	cd $(COURSE) && $(CURDIR)/$(BIN)/jupyter lab $(AS_ROOT) $(LAB_FLAGS)

student: $(STAMP)
	$(PY) -m mdiff.classroom student chapters _build/student

# Tag the release vX.Y.Z of pyproject.toml's version (tools/release.py): checks that the tree
# is clean, that mdiff.__version__, CITATION.cff and the README's citation state the same
# version, that every chapter's Colab cell installs that tag, and that the tag is new; then
# `git tag -a`. DRY_RUN=1 checks and prints the git command without tagging.
release: $(STAMP)
	$(PY) -m tools.release $(if $(DRY_RUN),--dry-run)

bench: $(STAMP)
	$(PY) -m benchmarks

# The full-length experiments (tools/long_runs.py): every CSV of results/ from scratch, in
# JOBS processes of one torch thread (bit-reproducible); EXPERIMENTS="E8c E7" for some only.
# 56 minutes on two idle cores, measured end to end; tests/test_long_runs.py reruns a prefix
# of each and matches its rows exactly.
JOBS ?= 2
long-runs: $(STAMP)
	$(PY) -m tools.long_runs $(EXPERIMENTS) --jobs $(JOBS)

clean:
	rm -rf _build .pytest_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -print0 | xargs -0 rm -rf
	find . -path ./$(VENV) -prune -o -name .ipynb_checkpoints -type d -print0 | xargs -0 rm -rf

distclean: clean
	rm -rf $(VENV)
