# Rubberduck: `make run` to use it, `make test` to test it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUBBERDUCK_PORT ?= 8000
export RUBBERDUCK_DATA_DIR ?= ./data

.PHONY: run test install frontend migrate lint bench chromium clean

$(STAMP): pyproject.toml client/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	$(PY) -m pip install -q -e ./client
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

# Debian packages the tests use: chromium (browser tests) and wrk (the bench's smoke test).
chromium:
	@command -v chromium >/dev/null && command -v wrk >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium wrk)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

test: install frontend chromium lint
	$(PY) -m pytest -q -p no:cacheprovider

bench: install
	$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) frontend/node_modules rubberduck_site/ui data
