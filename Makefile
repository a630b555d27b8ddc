# The front door. `make` (or `make help`) lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
export APP_ENV ?= development

PYTEST_ARGS ?=

.PHONY: help install install-dev run migrate test lint format clean

help: ## List every target with one line of help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: app/requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r app/requirements.txt
	@touch $@

$(VENV)/.dev-installed: requirements-dev.txt app/requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime-installed

install: $(VENV)/.runtime-installed ## Create .venv and install the pinned runtime dependencies

install-dev: $(VENV)/.dev-installed ## Install runtime, test and lint dependencies

migrate: install ## Apply the database migrations (SQLite under instance/ unless DATABASE_URL is set)
	$(BIN)/flask --app app db upgrade

run: migrate ## Serve the app on http://127.0.0.1:5000 (development, SQLite, gunicorn.conf.py)
	@echo "Serving on http://$(HOST):$(PORT)  (Ctrl-C to stop)"
	GUNICORN_BIND=$(HOST):$(PORT) WEB_CONCURRENCY=$${WEB_CONCURRENCY:-2} \
		$(BIN)/gunicorn -c gunicorn.conf.py --reload "app:create_app()"

test: install-dev ## Run the test suite with branch coverage of app/ (>= 90% enforced)
	$(BIN)/python -m pytest --cov --cov-report=term --cov-report=xml:coverage.xml \
		--junitxml=junit.xml $(PYTEST_ARGS)

lint: install-dev ## ruff check and format check
	$(BIN)/ruff check app tests scripts gunicorn.conf.py
	$(BIN)/ruff format --check app tests scripts gunicorn.conf.py

format: install-dev ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix app tests scripts gunicorn.conf.py
	$(BIN)/ruff format app tests scripts gunicorn.conf.py

clean: ## Remove the virtualenv, caches and test outputs (keeps instance/)
	rm -rf $(VENV) .pytest_cache .ruff_cache htmlcov .coverage .coverage.* coverage.xml junit.xml
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
