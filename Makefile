# Rubberduck: `make run` to use it, `make test` to test it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUBBERDUCK_PORT ?= 8000
export RUBBERDUCK_DATA_DIR ?= ./data

.PHONY: run test install frontend migrate lint bench chromium clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

frontend/node_modules/.installed: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	touch $@

frontend: frontend/node_modules/.installed
	cd frontend && npm run build

migrate: install
	$(PY) manage.py migrate --noinput

run: install frontend migrate
	$(PY) manage.py serve --port $(RUBBERDUCK_PORT)

chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Three pytest processes, each with a fresh test database. In one long process, the TLS and browser tests
# that come last met SQLite "disk I/O error" on the shared test file (not reproduced in any shorter run;
# still under investigation), so they run on their own.
PYTEST := $(PY) -m pytest -q -p no:cacheprovider
test: install frontend chromium lint
	$(PYTEST) tests --ignore=tests/browser --ignore=tests/proxies/test_tls.py
	$(PYTEST) tests/proxies/test_tls.py
	$(PYTEST) tests/browser

bench: install
	$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) frontend/node_modules frontend/dist data
