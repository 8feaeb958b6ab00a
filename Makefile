# Routine tasks. `make demo` and `make test` each set up everything they need on a fresh machine.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: demo serve test lint format typecheck install services clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/.installed

demo: install            ## run the platform on SQLite with demo data
	$(BIN)/contact-center demo

serve: install           ## run the platform without demo data
	$(BIN)/contact-center serve

services:                ## install and start what the tests talk to (PostgreSQL, Redis, Dovecot)
	scripts/ensure-services

test: install services   ## the whole suite, on SQLite and PostgreSQL, memory and Redis
	$(BIN)/pytest -q

lint: install            ## ruff (lint and format) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
