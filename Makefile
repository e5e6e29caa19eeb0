# ShrivenQuant: `make demo` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

export SHRIVEN_HOME := $(CURDIR)
export SHRIVEN_DATA_DIR ?= $(CURDIR)/data
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 90
export PREFECT_LOGGING_EXTRA_LOGGERS := shriven
export PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW := ignore
export HF_HUB_OFFLINE := 1
# numba's parallel kernels and torch share libgomp; idle spinning threads starve the other's work
export OMP_WAIT_POLICY ?= PASSIVE
export PYTHONPATH := $(CURDIR)

PREFECT_PORT ?= 4200
PREFECT_URL := http://127.0.0.1:$(PREFECT_PORT)/api
POOL := shriven-local
# Local state (pid files, logs, journals): the data dir, or SHRIVEN_LOCAL_DIR (default ./data) when
# the lake is on object storage (SHRIVEN_DATA_DIR=s3://bucket/prefix).
LOCAL_DIR := $(if $(findstring ://,$(SHRIVEN_DATA_DIR)),$(or $(SHRIVEN_LOCAL_DIR),$(CURDIR)/data),$(SHRIVEN_DATA_DIR))
RUN_DIR := $(LOCAL_DIR)/run
# Use the server that `make serve` started when it is up; otherwise flows start Prefect's local one.
SERVER_UP = $(shell curl -fs -o /dev/null $(PREFECT_URL)/health && echo yes)

.PHONY: install browser postgres demo test test-fast bench serve stop serve-postgres stop-postgres dashboard gateway sql lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

# Debian's chromium for the dashboard browser tests (Playwright drives it; it never downloads one).
browser:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }

# Debian's PostgreSQL server, for the Prefect-on-PostgreSQL set-up and its test (never started here).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql >/dev/null; }

demo: install
	@if [ "$(SERVER_UP)" = yes ]; then export PREFECT_API_URL=$(PREFECT_URL); fi; \
	$(BIN)/shriven demo

# Two workers (CI has 2 cores): half the suite waits on servers, a browser or fsync, and numba's
# cold compiles of a fresh clone run on both cores. `pytest path::test` alone needs no -n.
test: install browser postgres
	$(BIN)/python -m pytest -q -n 2

test-fast: install
	$(BIN)/python -m pytest -q -n 2 -m "not slow"

bench: install
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/run_all.py

serve: install
	@mkdir -p $(RUN_DIR)
	@if [ "$(SERVER_UP)" != yes ]; then \
	  echo "starting Prefect server on 127.0.0.1:$(PREFECT_PORT) (log: $(RUN_DIR)/prefect-server.log)"; \
	  nohup $(BIN)/prefect server start --host 127.0.0.1 --port $(PREFECT_PORT) > $(RUN_DIR)/prefect-server.log 2>&1 & echo $$! > $(RUN_DIR)/prefect-server.pid; \
	  for i in $$(seq 1 90); do curl -fs -o /dev/null $(PREFECT_URL)/health && break; sleep 1; done; \
	fi
	@curl -fs -o /dev/null $(PREFECT_URL)/health || { echo "Prefect server did not come up; see $(RUN_DIR)/prefect-server.log"; exit 1; }
	PREFECT_API_URL=$(PREFECT_URL) $(BIN)/prefect work-pool inspect $(POOL) >/dev/null 2>&1 || \
	  PREFECT_API_URL=$(PREFECT_URL) $(BIN)/prefect work-pool create $(POOL) --type process
	PREFECT_API_URL=$(PREFECT_URL) $(BIN)/prefect deploy --all --no-prompt
	@if [ ! -f $(RUN_DIR)/prefect-worker.pid ] || ! kill -0 $$(cat $(RUN_DIR)/prefect-worker.pid) 2>/dev/null; then \
	  PREFECT_API_URL=$(PREFECT_URL) nohup $(BIN)/prefect worker start --pool $(POOL) --type process > $(RUN_DIR)/prefect-worker.log 2>&1 & echo $$! > $(RUN_DIR)/prefect-worker.pid; \
	fi
	@echo "Prefect UI: http://127.0.0.1:$(PREFECT_PORT)  (deployments: live, backfill, incremental, daily; worker log: $(RUN_DIR)/prefect-worker.log)"
	@echo "stop with: make stop"

# The worker goes first: a worker whose server vanished retries forever. A process still there
# 10 s after SIGTERM gets SIGKILL (a test's worker was found alive after the old stop).
stop:
	@for p in prefect-worker prefect-server; do \
	  if [ -f $(RUN_DIR)/$$p.pid ]; then \
	    pid=$$(cat $(RUN_DIR)/$$p.pid); \
	    if kill $$pid 2>/dev/null; then \
	      for i in $$(seq 1 20); do kill -0 $$pid 2>/dev/null || break; sleep 0.5; done; \
	      if kill -0 $$pid 2>/dev/null; then kill -9 $$pid 2>/dev/null; echo "killed $$p"; else echo "stopped $$p"; fi; \
	    fi; \
	    rm -f $(RUN_DIR)/$$p.pid; \
	  fi; \
	done

dashboard: install
	$(BIN)/streamlit run dashboards/streamlit_app.py --server.address 127.0.0.1 --server.port 8501 \
	  --browser.gatherUsageStats false --server.headless true --client.toolbarMode viewer

# The REST gateway on 127.0.0.1:8080 (OpenAPI at /docs); first key: `.venv/bin/shriven apikey create --subject you --role admin`.
gateway: install
	@if [ "$(SERVER_UP)" = yes ]; then export PREFECT_API_URL=$(PREFECT_URL); fi; \
	$(BIN)/python -m gateway

# An SQL shell over the lake views (in memory: never locks data/warehouse.duckdb).
sql: install
	$(BIN)/shriven sql

lint: install
	$(BIN)/ruff check shriven cli flows tasks dashboards gateway models tests bench

clean:
	rm -rf $(VENV) .prefect .pytest_cache

# `make serve` on PostgreSQL instead of SQLite, with two process workers on the pool
# (docs/prefect-postgres.md: when SQLite's "database is locked" starts to show under many tasks).
PG_PORT ?= 5433
PG_DIR ?= $(RUN_DIR)/postgres
serve-postgres: install postgres
	@mkdir -p $(RUN_DIR)
	@PG_URL=$$(bash scripts/postgres.sh start $(PG_DIR) $(PG_PORT)) || exit 1; \
	if [ "$(SERVER_UP)" = yes ]; then \
	  [ -f $(RUN_DIR)/prefect-pg-server.pid ] || { echo "a Prefect server already answers on port $(PREFECT_PORT) (make serve?): make stop first, or set PREFECT_PORT"; exit 1; }; \
	else \
	  echo "starting Prefect server on PostgreSQL at 127.0.0.1:$(PREFECT_PORT) (log: $(RUN_DIR)/prefect-pg-server.log)"; \
	  PREFECT_API_DATABASE_CONNECTION_URL="$$PG_URL" nohup $(BIN)/prefect server start --host 127.0.0.1 --port $(PREFECT_PORT) > $(RUN_DIR)/prefect-pg-server.log 2>&1 & echo $$! > $(RUN_DIR)/prefect-pg-server.pid; \
	  for i in $$(seq 1 90); do curl -fs -o /dev/null $(PREFECT_URL)/health && break; sleep 1; done; \
	fi
	@curl -fs -o /dev/null $(PREFECT_URL)/health || { echo "Prefect server did not come up; see $(RUN_DIR)/prefect-pg-server.log"; exit 1; }
	PREFECT_API_URL=$(PREFECT_URL) $(BIN)/prefect work-pool inspect $(POOL) >/dev/null 2>&1 || \
	  PREFECT_API_URL=$(PREFECT_URL) $(BIN)/prefect work-pool create $(POOL) --type process
	PREFECT_API_URL=$(PREFECT_URL) $(BIN)/prefect deploy --all --no-prompt
	@for w in 1 2; do \
	  if [ ! -f $(RUN_DIR)/prefect-pg-worker-$$w.pid ] || ! kill -0 $$(cat $(RUN_DIR)/prefect-pg-worker-$$w.pid) 2>/dev/null; then \
	    PREFECT_API_URL=$(PREFECT_URL) nohup $(BIN)/prefect worker start --pool $(POOL) --type process --name "$$(hostname)-pg-$$w" > $(RUN_DIR)/prefect-pg-worker-$$w.log 2>&1 & echo $$! > $(RUN_DIR)/prefect-pg-worker-$$w.pid; \
	  fi; \
	done
	@echo "Prefect UI: http://127.0.0.1:$(PREFECT_PORT)  (PostgreSQL on 127.0.0.1:$(PG_PORT), data in $(PG_DIR)); stop with: make stop-postgres"

stop-postgres:
	@for p in prefect-pg-worker-1 prefect-pg-worker-2 prefect-pg-server; do \
	  if [ -f $(RUN_DIR)/$$p.pid ]; then pid=$$(cat $(RUN_DIR)/$$p.pid); \
	    if kill $$pid 2>/dev/null; then \
	      for i in $$(seq 1 20); do kill -0 $$pid 2>/dev/null || break; sleep 0.5; done; \
	      if kill -0 $$pid 2>/dev/null; then kill -9 $$pid 2>/dev/null; echo "killed $$p"; else echo "stopped $$p"; fi; \
	    fi; rm -f $(RUN_DIR)/$$p.pid; fi; \
	done
	@bash scripts/postgres.sh stop $(PG_DIR)
