# Everything runs from .venv, built from requirements.lock: a fresh clone needs only python3 and make.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PY ?= python3
VENV = .venv
BIN = $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: help venv proto lint migrate run browser test test-faults bench lock clean distclean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

venv: $(VENV)/.installed ## Create or update .venv from requirements.lock

proto: $(VENV)/.installed ## Regenerate the Python code from protos/
	$(BIN)/python -m grpc_tools.protoc -Iprotos --python_out=. --pyi_out=. --grpc_python_out=. protos/autentikapp/v1/*.proto

lint: $(VENV)/.installed ## Lint the protos with buf
	$(BIN)/buf lint protos

migrate: $(VENV)/.installed ## Apply every process's migrations to the databases in the environment
	$(BIN)/autentikapp migrate

run: $(VENV)/.installed ## Run the whole system locally (own NATS and Postgres unless URLs are set)
	$(BIN)/python -m devstack run

# Each run keeps its temporary files (the test Postgres and NATS data among them) in a folder of its own:
# pytest's shared default removes all but its three newest runs, so a second `make test` started
# meanwhile on the same machine could delete the running one's database under it.
PYTEST = tmp=$$(mktemp -d -t autentikapp-tests.XXXXXX); trap 'rm -rf "$$tmp"' EXIT; \
	$(BIN)/python -m pytest --basetemp="$$tmp/pytest" --durations=15

# The browser tests (tests/browser/) drive a headless Chromium: found, else installed (Debian's chromium via
# apt-get as root, else `playwright install chromium`), and started once, or `make test` stops here.
browser: $(VENV)/.installed ## Find or install the headless Chromium the browser tests drive, and check it starts
	$(BIN)/python -m devstack.browser

test: $(VENV)/.installed browser ## Run the tests (they start their own NATS and Postgres)
	$(PYTEST) $(PYTEST_ARGS)

test-faults: $(VENV)/.installed ## Only the fault-injection and security suites (also part of `make test`); FAULTS_EVENTS=50000 for a soak
	$(PYTEST) tests/faults tests/security $(PYTEST_ARGS)

bench: $(VENV)/.installed ## Benchmark against same-run baselines (about 7 min); BENCH_ARGS=--quick for a 50 s check
	$(BIN)/python -m bench $(BENCH_ARGS)

lock: ## Re-pin requirements.lock from pyproject.toml in a fresh temporary venv
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PY) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/pip" install -q --upgrade pip; \
	"$$tmp/venv/bin/pip" install -q -e '.[dev]'; \
	"$$tmp/venv/bin/pip" freeze --exclude-editable > "$$tmp/requirements.lock"; \
	cmp -s "$$tmp/requirements.lock" requirements.lock || cp "$$tmp/requirements.lock" requirements.lock

clean: ## Remove runtime data (.run: local databases, logs) and caches
	rm -rf .run .pytest_cache .hypothesis build *.egg-info
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +

distclean: clean ## clean, and remove .venv too
	rm -rf $(VENV)
