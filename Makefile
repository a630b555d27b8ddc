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
# make test-infra / test-terraform spread their tests over this many pytest-xdist workers
# (auto: one per core; 0: serially in one process). Each file runs whole on one worker
# (--dist loadfile), but for test_terraform.py's: tests/infra/conftest.py.
INFRA_WORKERS ?= auto
INFRA_XDIST    = -n $(INFRA_WORKERS) --dist loadfile --no-loadscope-reorder

# The requirement files are complete, hashed sets (make lock): installed as they are,
# every file checked against its hash, nothing resolved anew; `pip check` after.
PIP_LOCKED := --quiet --disable-pip-version-check --no-deps --require-hashes

.PHONY: help install install-dev install-infra install-e2e test-e2e run migrate test test-infra test-chart test-terraform terraform-docs lint lint-infra format \
	chart-readme chart-readme-check deploy deploy-local deploy-local-down bench faults clean lock lock-check

help: ## List every target with one line of help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: app/requirements.txt | $(BIN)/python
	$(BIN)/pip install $(PIP_LOCKED) -r app/requirements.txt
	$(BIN)/pip check
	@touch $@

$(VENV)/.dev-installed: requirements-dev.txt app/requirements.txt | $(BIN)/python
	$(BIN)/pip install $(PIP_LOCKED) -r requirements-dev.txt
	$(BIN)/pip check
	@touch $@ $(VENV)/.runtime-installed

# Checkov pins versions that clash with the app's, so it lives in a venv of its own.
CHECKOV_VENV ?= .venv-checkov
export CHECKOV_BIN := $(CHECKOV_VENV)/bin/checkov

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install $(PIP_LOCKED) -r requirements-checkov.txt
	$(CHECKOV_VENV)/bin/pip check
	@touch $@

$(VENV)/.infra-installed: requirements-infra.txt requirements-dev.txt app/requirements.txt | $(BIN)/python
	$(BIN)/pip install $(PIP_LOCKED) -r requirements-infra.txt
	$(BIN)/pip check
	@touch $@ $(VENV)/.dev-installed $(VENV)/.runtime-installed

# The pinned, hashed sets pip installs, compiled from pyproject.toml (and
# requirements-checkov.in). Existing pins are kept: to upgrade one package,
# `make lock LOCK_ARGS=--upgrade-package=NAME`. Each set is compiled with the
# one below it as constraints, so a package has one version in every set.
UV        := $(BIN)/uv
LOCK_ARGS ?=
LOCK_OPTS := --quiet --generate-hashes --universal --python-version 3.11 --custom-compile-command "make lock" $(LOCK_ARGS)
define compile_locks
	$(UV) pip compile pyproject.toml $(LOCK_OPTS) -o $(1)/app/requirements.txt
	$(UV) pip compile pyproject.toml --extra dev -c app/requirements.txt $(LOCK_OPTS) -o $(1)/requirements-dev.txt
	$(UV) pip compile pyproject.toml --extra dev --extra e2e -c requirements-dev.txt $(LOCK_OPTS) -o $(1)/requirements-e2e.txt
	$(UV) pip compile pyproject.toml --extra dev --extra infra -c requirements-dev.txt $(LOCK_OPTS) -o $(1)/requirements-infra.txt
	$(UV) pip compile requirements-checkov.in $(LOCK_OPTS) -o $(1)/requirements-checkov.txt
endef
LOCKED := app/requirements.txt requirements-dev.txt requirements-e2e.txt requirements-infra.txt requirements-checkov.txt

lock: install-dev ## Compile the pinned, hashed requirement sets from pyproject.toml (uv pip compile)
	$(call compile_locks,.)

LOCK_TMP := $(VENV)/lock-check

lock-check: install-dev ## Fail when a compiled requirement set is not what `make lock` writes
	@rm -rf $(LOCK_TMP) && mkdir -p $(LOCK_TMP)/app && for f in $(LOCKED); do cp "$$f" "$(LOCK_TMP)/$$f"; done
	$(call compile_locks,$(LOCK_TMP))
	@for f in $(LOCKED); do diff -u "$$f" "$(LOCK_TMP)/$$f" \
	  || { echo "$$f is not what make lock writes from pyproject.toml: run make lock" >&2; exit 1; }; done
	@echo "lock-check: $(words $(LOCKED)) requirement sets match pyproject.toml"

# Node tools, pinned by package-lock.json (npm ci installs exactly that, or fails):
# the chart README generator. Node.js and npm come from the machine (Debian: nodejs npm).
NPM      ?= npm
NODE_BIN := node_modules/.bin

node_modules/.installed: package.json package-lock.json
	@command -v $(NPM) >/dev/null || { echo "install-infra needs Node.js and npm: apt-get install -y --no-install-recommends nodejs npm"; exit 1; }
	$(NPM) ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

install: $(VENV)/.runtime-installed ## Create .venv and install the pinned runtime dependencies

install-dev: $(VENV)/.dev-installed ## Install runtime, test and lint dependencies

$(VENV)/.e2e-installed: requirements-e2e.txt requirements-dev.txt app/requirements.txt | $(BIN)/python
	$(BIN)/pip install $(PIP_LOCKED) -r requirements-e2e.txt
	$(BIN)/pip check
	@touch $@ $(VENV)/.dev-installed $(VENV)/.runtime-installed

install-e2e: $(VENV)/.e2e-installed ## Install the browser-test tools (Playwright, axe); Chromium comes from apt

install-infra: $(VENV)/.infra-installed $(CHECKOV_VENV)/.installed node_modules/.installed ## Install the offline validators (helm SDK, trivy, checkov, readme-generator-for-helm, ...)

migrate: install ## Apply the database migrations (SQLite under instance/ unless DATABASE_URL is set)
	$(BIN)/flask --app app db upgrade

run: migrate ## Serve the app on http://127.0.0.1:5000 (development, SQLite, gunicorn.conf.py)
	@echo "Serving on http://$(HOST):$(PORT)  (Ctrl-C to stop)"
	GUNICORN_BIND=$(HOST):$(PORT) WEB_CONCURRENCY=$${WEB_CONCURRENCY:-2} \
		$(BIN)/gunicorn -c gunicorn.conf.py --reload "app:create_app()"

test: install-dev ## Run the test suite with branch coverage of app/ (>= 90% enforced)
	$(BIN)/python -m pytest --ignore=tests/infra --ignore=tests/e2e --cov --cov-report=term --cov-report=xml:coverage.xml \
		--junitxml=junit.xml $(PYTEST_ARGS)

CHROMIUM ?= /usr/bin/chromium

test-e2e: install-e2e ## Real-browser tests (Chromium) and axe audit under gunicorn; screenshots in test-artifacts/e2e
	@test -x $(CHROMIUM) || { echo "test-e2e needs Chromium at $(CHROMIUM): apt-get install -y --no-install-recommends chromium"; exit 1; }
	E2E_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest tests/e2e -p no:cacheprovider \
		--output=test-artifacts/e2e/playwright --tracing=retain-on-failure --screenshot=only-on-failure \
		--junitxml=test-artifacts/e2e/junit.xml $(PYTEST_ARGS)

PROMTOOL ?= promtool

test-infra: install-infra lint-infra ## lint-infra, then the chart, alert rules (promtool), Terraform, pipeline and container tests
	@command -v $(PROMTOOL) >/dev/null || { echo "test-infra needs promtool: apt-get install -y --no-install-recommends prometheus"; exit 1; }
	eval "$$(scripts/ci/docker-engine.sh)" && $(BIN)/python -m pytest tests/infra $(INFRA_XDIST) $(PYTEST_ARGS)

test-terraform: install-infra ## fmt, init+validate, setup-backend and plans against moto, Checkov, Trivy (offline)
	$(BIN)/python -m pytest tests/infra/test_terraform.py $(INFRA_XDIST) $(PYTEST_ARGS)

test-chart: install-infra ## Lint, render and validate helm/flask-app for every values file, and its README (no Docker)
	$(BIN)/python -m pytest tests/infra/test_helm_chart.py tests/infra/test_chart_readme.py $(PYTEST_ARGS)

# The chart's README.md: its Parameters tables are generated from values.yaml's
# `## @param` / `## @section` comments (readme-generator-for-helm). CHART_DIR lets
# tests/infra/test_chart_readme.py run the same check on a copy of the chart.
CHART_DIR ?= helm/flask-app
CHART_README_GEN = $(NODE_BIN)/readme-generator --values $(CHART_DIR)/values.yaml --readme

chart-readme: node_modules/.installed ## Regenerate helm/flask-app/README.md's Parameters tables from values.yaml's @param comments
	$(CHART_README_GEN) $(CHART_DIR)/README.md

chart-readme-check: node_modules/.installed ## Fail if a chart value lacks its @param comment or helm/flask-app/README.md is stale
	@tmp="$$(mktemp)"; trap 'rm -f "$$tmp"' EXIT; cp $(CHART_DIR)/README.md "$$tmp"; \
	if ! out="$$($(CHART_README_GEN) "$$tmp" 2>&1)"; then \
		printf '%s\n' "$$out" | grep '^ERROR' || printf '%s\n' "$$out"; \
		echo "$(CHART_DIR)/values.yaml: every value needs a '## @param' comment (readme-generator-for-helm)"; exit 1; \
	fi; \
	diff -u --label $(CHART_DIR)/README.md --label generated $(CHART_DIR)/README.md "$$tmp" \
		|| { echo "$(CHART_DIR)/README.md is stale: run make chart-readme"; exit 1; }

SHELL_SCRIPTS := .ci/run scripts/*.sh scripts/lib/*.sh scripts/ci/*.sh docker/entrypoint.sh terraform/setup-backend.sh
PY_SOURCES    := app tests scripts gunicorn.conf.py

terraform-docs: install-infra ## Rewrite the Inputs/Outputs tables of terraform/modules/*/README.md from variables.tf/outputs.tf
	$(BIN)/python scripts/terraform_docs.py

lint-infra: install-infra chart-readme-check ## Every delivery-file linter: hadolint, shellcheck, yamllint, actionlint, zizmor, schemas, Trivy, chart README
	$(BIN)/hadolint --failure-threshold warning docker/Dockerfile
	$(BIN)/shellcheck -S warning $(SHELL_SCRIPTS)
	$(BIN)/yamllint --strict -c .yamllint .
	$(BIN)/actionlint -no-color .github/workflows/*.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-actions .github/actions/*/action.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.dev.yml
	$(BIN)/pre-commit validate-config .pre-commit-config.yaml
	TF_CLI_CONFIG_FILE=/dev/null terraform fmt -check -recursive terraform
	$(BIN)/trivy fs --config trivy.yaml --scanners secret,misconfig --severity HIGH,CRITICAL --exit-code 1 \
		--skip-check-update --quiet .
	$(BIN)/zizmor --offline --no-progress .github/

lint: install-dev lock-check ## ruff check, ruff format --check, bandit; the compiled requirement sets are current
	$(BIN)/ruff check $(PY_SOURCES)
	$(BIN)/ruff format --check $(PY_SOURCES)
	$(BIN)/bandit -q -c pyproject.toml -r app scripts gunicorn.conf.py

format: install-dev ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix $(PY_SOURCES)
	$(BIN)/ruff format $(PY_SOURCES)

# Compose v2 only: scripts/deploy-local.sh finds it (or says how to get it). ENV_FILE defaults to .env.
COMPOSE  ?=
ENV_FILE ?= .env

deploy-local: ## The app with PostgreSQL, Redis and Mailpit in Docker; prints the URL once it is ready (Compose v2, .env)
	COMPOSE="$(COMPOSE)" ENV_FILE="$(ENV_FILE)" scripts/deploy-local.sh up

deploy-local-down: ## Stop the local Docker stack (keeps the database volume)
	COMPOSE="$(COMPOSE)" ENV_FILE="$(ENV_FILE)" scripts/deploy-local.sh down

ENV ?=
DEPLOY_ARGS ?=

deploy: ## Deploy to AWS: make deploy ENV=dev|staging|prod [DEPLOY_ARGS="--image-tag T --dry-run"]
	@test -n "$(ENV)" || { echo "usage: make deploy ENV=dev|staging|prod"; exit 2; }
	scripts/deploy.sh $(ENV) $(DEPLOY_ARGS)

BENCH_ARGS ?=

bench: install-dev ## Benchmark under gunicorn against bare WSGI/Flask baselines (scripts/bench/README.md)
	$(BIN)/python scripts/bench/bench.py $(BENCH_ARGS)

ARGS ?=

faults: install-dev ## Fault suite: private PostgreSQL/Redis/SMTP, app under load, faults injected (ARGS=--quick)
	$(BIN)/python -m scripts.faults $(ARGS)

clean: ## Remove the virtualenv, caches and test outputs (keeps instance/)
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules .pytest_cache .ruff_cache htmlcov .coverage .coverage.* coverage.xml junit.xml
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
