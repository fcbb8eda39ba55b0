# followup: run the stack with `make up`, run every test with `make test`.
# Needs only Python 3.11, Java 17, Maven and the PostgreSQL 15 binaries; the rest bootstraps.
SHELL := /bin/bash
.DEFAULT_GOAL := help
ROOT := $(abspath .)
UV := $(shell $(ROOT)/infra/bootstrap-uv.sh)
export UV
export UV_PROJECT_ENVIRONMENT := $(ROOT)/.venv
# Everything make runs (the local stack, tests, benches) is development: a derived master key,
# with a warning (SPEC §8). A deployment sets FOLLOWUP_MASTER_KEYS and no FOLLOWUP_ENV.
export FOLLOWUP_ENV ?= development
RUN := $(UV) run --frozen --all-packages

# The test stack is its own Kafka broker and PostgreSQL cluster (other ports, other data dir),
# so `make test` never disturbs a running `make up` stack.
TEST_HOME := $(ROOT)/.local/test
TEST_KAFKA_PORT ?= 29092
TEST_PG_PORT ?= 25432
TEST_ENV := FOLLOWUP_HOME=$(TEST_HOME) FOLLOWUP_KAFKA_PORT=$(TEST_KAFKA_PORT) FOLLOWUP_PG_PORT=$(TEST_PG_PORT)
export FOLLOWUP_TEST_KAFKA_BOOTSTRAP ?= 127.0.0.1:$(TEST_KAFKA_PORT)
export FOLLOWUP_TEST_PG_DSN ?= postgresql://postgres@127.0.0.1:$(TEST_PG_PORT)/postgres
PYTEST_ARGS ?=

.PHONY: help sync up down status sample demo demo-down test test-unit test-infra test-infra-down lint typecheck bench clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

sync: ## Install Python dependencies from uv.lock
	@$(UV) sync --frozen --all-packages --quiet

up: ## Start Kafka, PostgreSQL and the four services (FOLLOWUP_CLOCK=simulated for the simulated clock)
	@infra/stack.sh up

down: ## Stop what `make up` started
	@infra/stack.sh down

status: ## Show what runs, where, and its logs
	@infra/stack.sh status

sample: ## Publish a sample delivery to followup.customers
	@$(RUN) followup sample delivery

demo: sync ## Play a year of a department on its own stack (CUSTOMERS=2000 MONTHS=12 SEED=1 POLICY=home-cinema)
	@CUSTOMERS=$(or $(CUSTOMERS),2000) MONTHS=$(or $(MONTHS),12) SEED=$(or $(SEED),1) \
	  POLICY=$(or $(POLICY),home-cinema) infra/demo.sh up

demo-down: ## Stop the demo's stack
	@infra/demo.sh down

test: sync test-infra ## Run every test (unit, integration, contract, e2e) on real Kafka and PostgreSQL
	@$(RUN) pytest $(PYTEST_ARGS)

test-unit: sync ## Run the tests that need no infrastructure
	@$(RUN) pytest -m "not infra" $(PYTEST_ARGS)

test-infra: ## Start the test Kafka and PostgreSQL (if not up)
	@$(TEST_ENV) FOLLOWUP_SERVICES="" infra/stack.sh infra-up

test-infra-down: ## Stop the test Kafka and PostgreSQL
	@$(TEST_ENV) FOLLOWUP_SERVICES="" infra/stack.sh down

lint: sync ## ruff and mypy (strict on the contract, the calendar and every domain module)
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .
	@$(RUN) mypy libs/events/src libs/calendar/src libs/core/src services/*/src

bench: sync test-infra ## Benchmarks: print figures and write .local/bench/*.json
	@mkdir -p .local/bench
	@for b in bench/*_bench.py; do echo "== $$b"; $(RUN) python $$b || exit 1; done

clean: down test-infra-down ## Stop everything and delete .local (data, logs, jars)
	rm -rf .local
