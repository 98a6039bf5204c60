# kamen — one command to run the shop, one to test it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
# Python caches compiled modules: without it every test process and server compiles Django and the
# project again (a second each).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run dev test install bench lint format worker beat messages

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q --no-compile -r requirements.txt
	touch $@

install: $(VENV)/.installed

# The shop as its buyers see it: DEBUG off, static files collected and served by whitenoise.
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v 0
	$(PY) manage.py seed_demo
	SITE_URL=$${SITE_URL:-http://$(HOST):$(PORT)} $(PY) manage.py runserver --noreload $(HOST):$(PORT)

# For developers: DEBUG on (technical error pages, static files read from the source tree), reloads on save.
dev: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	DEBUG=true SITE_URL=$${SITE_URL:-http://$(HOST):$(PORT)} $(PY) manage.py runserver $(HOST):$(PORT)

# Four test processes on two cores: many tests wait on a browser, a worker or a server they started.
# Tests that share a prepared server run in one process (pytest.mark.xdist_group).
test: install
	$(PY) -m pytest -n 4 --dist loadgroup $(PYTEST_ARGS)

bench: install
	@$(PY) bench/run.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

worker: install
	$(VENV)/bin/celery -A kamen worker -Q delivery,default,mail --without-mingle --without-gossip -l info

beat: install
	$(VENV)/bin/celery -A kamen beat -l info

messages: install
	$(PY) manage.py makemessages -l zh_Hans --ignore '.venv/*'
	$(PY) manage.py compilemessages --ignore '.venv/*'
