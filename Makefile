# Two commands on a fresh machine (Python 3.11+, a package index, nothing else):
#   make demo   install into .venv (created if missing), then run examples/demo.py
#   make test   what CI runs: a fresh .ci-venv, the README's test install, ruff (lint and
#               format), mypy, pytest
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
CI_VENV := .ci-venv
CPU_TORCH := torch==2.13.0

.PHONY: demo test

demo: $(VENV)/.installed
	$(VENV)/bin/python examples/demo.py

# The README's install. The stamp is redone when pyproject.toml changes (new dependencies).
# Torch first: the CPU build unless there is an NVIDIA GPU (nvidia-smi), so a CPU machine never
# downloads the multi-GB CUDA build; pip then keeps whichever torch is there.
$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	if command -v nvidia-smi >/dev/null; then $(VENV)/bin/pip install -q torch; \
	else $(VENV)/bin/pip install -q $(CPU_TORCH); fi
	$(VENV)/bin/pip install -q -e .
	touch $@

# Always from scratch, so it tests the install a new user gets, not whatever .ci-venv holds;
# every step runs in the activated venv, as a user following the README would. Two halves,
# so CI (.ci/run) can install the machine's services beside the first: ci-env (environment,
# lint, types), then ci-pytest (the README's test command).
IN_CI_VENV = . $(CI_VENV)/bin/activate &&

.PHONY: ci-env ci-pytest

test: ci-env ci-pytest

ci-env:
	rm -rf $(CI_VENV)
	$(PYTHON) -m venv $(CI_VENV)
	$(IN_CI_VENV) pip install -q $(CPU_TORCH)  # README, "Run the tests": CPU torch first
	# with Data-Juicer (some 30 s, beside the rest): its scorer's tests run in CI, not skip
	$(IN_CI_VENV) pip install -q -e ".[dev,data-juicer]"
	$(IN_CI_VENV) ruff check mixopt tests benchmarks examples
	$(IN_CI_VENV) ruff format --check mixopt tests benchmarks examples
	$(IN_CI_VENV) mypy
	# pip byte-compiles what it installs, but not an editable install's own sources; where
	# PYTHONDONTWRITEBYTECODE is set nothing compiled at import is kept, so every process
	# (each Ray worker, each subprocess) would compile mixopt again
	$(IN_CI_VENV) python -m compileall -q mixopt benchmarks examples

ci-pytest:
	$(IN_CI_VENV) { status=0; python -m pytest || status=$$?; \
	if [ "$$status" -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; \
	exit "$$status"; }
