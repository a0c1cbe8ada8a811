# The two commands a newcomer needs: `make run` and `make test`. Nothing else to install.
PYTHON ?= python3
PORT ?= 8000
VENV := .venv
PY := $(VENV)/bin/python
LOCAL_ENV_FILE ?= var/make-run.env

.PHONY: run test lint venv clean bench local-env lock audit

# The locked sets (every package, pinned, with hashes) are what gets installed; requirements*.txt list the
# direct dependencies they are compiled from (`make lock`).
$(VENV)/.installed: requirements.lock
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	touch $@

# The W3C Nu HTML checker for the browser tests (vnu.jar; needs a Java runtime). --ignore-scripts: its
# postinstall would download a Java runtime of its own.
node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.lock
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.lock
	touch $@

## Re-compile the locked sets after changing requirements.txt or requirements-dev.txt.
lock: $(VENV)/.installed-dev
	$(VENV)/bin/uv pip compile requirements.txt --generate-hashes --python-version 3.11 -o requirements.lock -q
	$(VENV)/bin/uv pip compile requirements-dev.txt --generate-hashes --python-version 3.11 -o requirements-dev.lock -q

## Known vulnerabilities in the locked runtime set (needs PyPI's or OSV's vulnerability data over the network).
## --strict: a package that could not be checked is a failure, not a silent pass.
audit: $(VENV)/.installed-dev
	$(VENV)/bin/pip-audit --strict --require-hashes --disable-pip -r requirements.lock

venv: $(VENV)/.installed

## Development settings for every manage.py command in this checkout: DEBUG on, email links on this PORT.
local-env:
	@mkdir -p $(dir $(LOCAL_ENV_FILE))
	@printf '# Written by `make run`: development settings for this checkout (.env and the environment win).\nDEBUG=1\nSITE_URL=http://127.0.0.1:%s\n' "$(PORT)" > $(LOCAL_ENV_FILE)
	@# The web server and the Celery worker share the cache through files (no Redis needed): a payment the worker
	@# confirms drops the users' cached pages that the web server serves.
	@printf 'CACHE_URL=filecache://%s/var/cache/default\nPAGE_CACHE_URL=filecache://%s/var/cache/pages\n' "$(CURDIR)" "$(CURDIR)" >> $(LOCAL_ENV_FILE)

## Run the site with demo data: web server + Celery worker + Celery beat (SQLite, embedded broker by default).
run: $(VENV)/.installed local-env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py sync_periodic_jobs
	$(PY) manage.py seed_demo
	@echo ""
	@echo "  Site: http://127.0.0.1:$(PORT)/   (admin: http://127.0.0.1:$(PORT)/admin/)"
	@echo ""
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/honcho -f Procfile.dev start -p $(PORT)

## Run every test: lint, unit, integration (PostgreSQL, Redis, Celery) and browser (chromium).
test: export DEBUG = 0
test: $(VENV)/.installed-dev node_modules/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pytest

## Benchmark on a large generated dataset (PostgreSQL, Redis, wrk): pages, audit and sweep as ratios. See README.
## e.g. make bench BENCH_ARGS="--scale 1 --overdue 100000"
BENCH_ARGS ?=
bench: export DEBUG = 0
bench: $(VENV)/.installed
	$(PY) -m bench $(BENCH_ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) var staticfiles artifacts node_modules
