# make run    set up a fresh machine and start the bot (action server, Rasa, web app)
# make test   set up and run every test
# make test-fast  the tests that need no Rasa server and no browser (about a minute and a half)
# make shell  chat with the running bot in a terminal
# make train  train the model (only when data or config changed)
# make bench  run every benchmark and print its figures
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Rasa 3.6 needs Python 3.10; `pip install rasa` on 3.11 silently installs rasa 1.10.
PYTHON310 := $(shell for p in python3.10 "$$(pyenv root 2>/dev/null)/versions/3.10"*/bin/python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do \
	if command -v "$$p" >/dev/null 2>&1 && "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then command -v "$$p"; break; fi; done)
VENV := .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
MODEL := models/triage.tar.gz
SPACY := build/spacy/en_clinic_triage-1.0.0
DOMAIN := bot/domain
CREDENTIALS := var/credentials.yml

export CLINIC_ACTION_SERVER_URL ?= http://localhost:5055/webhook
# Shared secret between Rasa and the action server; empty = no check (local use). Rasa needs the
# variable to exist.
export CLINIC_ACTION_SERVER_TOKEN ?=
export TF_CPP_MIN_LOG_LEVEL ?= 3
# No usage data leaves the clinic (Rasa would otherwise report telemetry).
export RASA_TELEMETRY_ENABLED := false
export SANIC_REQUEST_MAX_SIZE ?= 1048576
export PYTHONPATH := $(CURDIR)

.PHONY: help run test test-fast shell train spacy bench bench-assertion bench-nlu bench-console bench-rasa bench-questions bench-readability bench-outbox \
	bench-findings bench-triage bench-redaction fuzz audit validate lint setup setup-dev browser clean

help:
	@sed -n 's/^# \{0,1\}//p' Makefile | sed -n '1,6p'

# --- environment ------------------------------------------------------------------------------
$(VENV)/.app: requirements/lock.txt requirements/app.in
	@test -n "$(PYTHON310)" || { echo "Python 3.10 is required (Rasa 3.6 does not run on 3.11+)."; \
		echo "Install it (e.g. 'pyenv install 3.10' or your OS package python3.10) and run make again."; exit 1; }
	@test -x $(PY) || { echo "creating $(VENV) with $(PYTHON310)"; $(PYTHON310) -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade "pip<24.1" wheel
	$(PY) -m pip install --quiet -c requirements/lock.txt -r requirements/app.in
	@touch $@

$(VENV)/.dev: $(VENV)/.app requirements/dev.in
	$(PY) -m pip install --quiet -c requirements/lock.txt -r requirements/dev.in
	$(PY) -m pip check
	@touch $@

setup: $(VENV)/.app
setup-dev: $(VENV)/.dev

# The widget's client library and the test-only axe-core, from web/package-lock.json.
webapp/site/static/vendor/.built: web/package.json web/package-lock.json web/build.mjs
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build
	@touch $@

# Debian's Chromium and ChromeDriver for the browser tests (no browser downloads), and nginx to
# run the deployment's proxy configuration for real (tests/deploy/test_nginx.py).
TEST_PACKAGES := chromium chromium-driver nginx-light
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && \
		{ command -v nginx >/dev/null || test -x /usr/sbin/nginx; } || { \
		echo "installing Debian's $(TEST_PACKAGES)"; \
		apt-get install -y -qq $(TEST_PACKAGES) >/dev/null || \
		{ apt-get update -qq && apt-get install -y -qq $(TEST_PACKAGES) >/dev/null; }; }

# --- build ------------------------------------------------------------------------------------
$(SPACY)/meta.json: $(VENV)/.app $(wildcard knowledge/data/*.yaml) $(wildcard knowledge/nlp/*.py) \
		$(wildcard benchmarks/data/triage/dev*_messages.yml)
	$(PY) -m knowledge.nlp.pipeline build

$(CREDENTIALS): bot/credentials.yml $(wildcard bot/channels/*.py)
	@mkdir -p var
	$(PY) -m bot.channels.credentials $(CREDENTIALS)

$(MODEL): bot/config.yml $(wildcard $(DOMAIN)/*.yml) $(wildcard nlu_data/*.yml nlu_data/*/*.yml) \
		$(wildcard bot/*.py) | $(SPACY)/meta.json
	$(PY) -m bot.domain_gen --check
	$(RASA) train --config bot/config.yml --domain $(DOMAIN) --data nlu_data --out models \
		--fixed-model-name triage

train: $(MODEL)

spacy: $(SPACY)/meta.json

# --- run --------------------------------------------------------------------------------------
run: $(MODEL) $(CREDENTIALS) webapp/site/static/vendor/.built
	$(PY) -m storage.cli migrate
	$(PY) scripts/serve.py

shell: $(VENV)/.app
	$(PY) scripts/chat.py

# --- test -------------------------------------------------------------------------------------
validate: $(MODEL)
	$(PY) -m bot.domain_gen --check
	$(PY) scripts/validate.py

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

# pip-audit needs PyPI's JSON API or osv.dev; where neither answers it says NOT AUDITED (exit 3),
# which `make test` reports without failing. Run `make audit` where the internet is reachable.
audit: $(VENV)/.app
	$(PY) scripts/audit.py

test: $(VENV)/.dev $(MODEL) $(CREDENTIALS) webapp/site/static/vendor/.built browser validate lint
	CLINIC_AUDIT_ALLOW_OFFLINE=1 $(PY) scripts/audit.py
	$(RASA) test core --model $(MODEL) --stories tests/stories --endpoints bot/endpoints.yml \
		--out results/stories --fail-on-prediction-errors --no-plot
	$(PY) -m pytest -q

# No Rasa server, no browser, no trained model (PostgreSQL and Redis are used where a test needs them).
test-fast: $(VENV)/.dev $(CREDENTIALS) $(SPACY)/meta.json lint
	$(PY) -m pytest -q -m "not servers and not slow and not browser"

# --- benchmarks -------------------------------------------------------------------------------
bench-assertion: $(VENV)/.app
	$(PY) benchmarks/assertion.py

bench-nlu: $(VENV)/.dev $(MODEL)
	$(PY) benchmarks/nlu.py

# Console lag while 50 conversations a second are held (projector worker, polling and through
# RabbitMQ, against the old page-view projection), then list page times at 100,000 conversations.
bench-console: $(VENV)/.dev $(SPACY)/meta.json
	$(PY) benchmarks/console_lag.py
	$(PY) benchmarks/console_list.py

# 10,000 outcomes through the outbox to a local webhook receiver: throughput, delay p50/p95, lost
# and duplicated, one message at a time (baseline) against the worker's batches (PostgreSQL).
bench-outbox: $(VENV)/.dev
	$(PY) benchmarks/outbox.py

bench-rasa: $(VENV)/.dev $(MODEL) $(CREDENTIALS)
	$(PY) benchmarks/rasa_latency.py

bench-questions: $(VENV)/.app
	$(PY) benchmarks/questions.py

bench-findings: $(VENV)/.app
	$(PY) benchmarks/findings.py

# Redaction recall per category, precision and clinical words removed, against the old regex-only
# redactor (benchmarks/data/redaction/, dev and held-out test splits).
bench-redaction: $(VENV)/.app $(SPACY)/meta.json
	$(PY) benchmarks/redaction.py $(if $(SPLIT),--split $(SPLIT),--split dev --split dev_blind1 --split dev_blind2 $(if $(wildcard benchmarks/data/redaction/test.yml),--split test))

# Reading level (Flesch-Kincaid, textstat) and length of every message the bot can say.
bench-readability: $(VENV)/.dev
	$(PY) benchmarks/readability.py

# Blind patient scripts played over REST, and findings on blind single messages, dev and test splits
# (benchmarks/data/triage/). Starts its own bot unless BENCH_URL names a running one.
bench-triage: $(VENV)/.dev $(MODEL) $(CREDENTIALS) $(SPACY)/meta.json
	$(PY) benchmarks/triage.py --split dev --split dev2 --split dev3 --split dev4 --split dev5 --split dev6 $(if $(wildcard benchmarks/data/triage/test_scripts.yml),--split test) $(if $(BENCH_URL),--url $(BENCH_URL))

# The full hostile-input run (>= 10,000 messages over every channel); a short one is in make test.
fuzz: $(VENV)/.dev $(MODEL) $(CREDENTIALS)
	$(PY) benchmarks/fuzz.py

bench: bench-assertion bench-findings bench-redaction bench-questions bench-readability bench-triage bench-nlu bench-console bench-outbox bench-rasa

clean:
	rm -rf build models var/credentials.yml results test-artifacts
