# medner: the embedding study for clinical medication NER.
# `make all` runs the study; `make test` runs the tests; `make help` lists every target.
# Both set up .venv first when it is missing or older than the dependency list.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PY := $(BIN)/python

.PHONY: help setup test

help: ## List every target with what it does
	@grep -hE '^[A-Za-z0-9_./%-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  %-18s %s\n", $$1, $$2}'

setup: $(STAMP) ## Create .venv with the pinned environment (runs by itself when needed)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@echo "== setting up $(VENV) (pinned versions from requirements.txt + constraints.txt; a few minutes the first time)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -r requirements.txt -c constraints.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

test: $(STAMP) ## Run the test suite (what CI runs)
	$(PY) -m pytest
