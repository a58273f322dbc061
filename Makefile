# make run  - set everything up and start the app on http://127.0.0.1:8000
# make test - set everything up and run every check and test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.txt requirements-nodeps.txt pyproject.toml | cksum | cut -d' ' -f1)
UV_VERSION := 0.13.9
CLIENT_SOURCES := $(shell find client/src client/index.html client/package.json client/vite.config.ts client/tsconfig*.json -type f 2>/dev/null)

# The PostgreSQL server the suite runs against a second time (each test server gets its own
# database there); without one, that pass skips with the reason (fails in CI).
TEST_POSTGRES_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432

.PHONY: run test install client client-deps style types lint generate check-generated test-python test-postgres test-client test-browser

run: install client
	$(BIN)/productdemo serve

test: install client lint types check-generated test-client test-python test-postgres test-browser

install: $(STAMP)

$(STAMP): requirements-dev.txt requirements-nodeps.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	VIRTUAL_ENV=$(VENV) $(BIN)/uv pip sync -q --compile-bytecode requirements-dev.txt
	# Packages whose declared dependencies we must not install (see requirements-nodeps.txt).
	VIRTUAL_ENV=$(VENV) $(BIN)/uv pip install -q --no-deps -r requirements-nodeps.txt
	VIRTUAL_ENV=$(VENV) $(BIN)/uv pip install -q --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

# The web client: built with npm when Node is present; an existing build is used as is otherwise.
client: client/dist/index.html

client/dist/index.html: client/node_modules/.package-lock.json $(CLIENT_SOURCES)
	@command -v npm >/dev/null || { test -f $@ && echo "npm not found: using the existing client build" && exit 0; \
	  echo "npm not found and client/dist is missing: install Node.js 20+ to build the web client"; exit 1; }
	cd client && npm run build

client-deps: client/node_modules/.package-lock.json

client/node_modules/.package-lock.json: client/package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: skipping the client's dependencies"; exit 0; }
	cd client && npm ci --no-audit --no-fund

style: install
	$(BIN)/ruff format src tests bench scripts
	$(BIN)/ruff check --fix src tests bench scripts

lint: install client-deps
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/ruff check src tests bench scripts
	cd client && npm run lint

types: install client-deps
	$(BIN)/mypy
	cd client && npm run typecheck

# Generated from the server's models: the TypeScript frame types and the protocol reference.
generate: install
	$(BIN)/python scripts/gen_protocol.py --write

check-generated: install
	$(BIN)/python scripts/gen_protocol.py --check

test-client: client-deps
	cd client && npx vitest run

test-python: install
	$(BIN)/python -m pytest --ignore=tests/browser

test-postgres: install
	PRODUCTDEMO_TEST_POSTGRES_URL=$(TEST_POSTGRES_URL) $(BIN)/python -m pytest -q --ignore=tests/browser --ignore=tests/scaleout

test-browser: install client
	$(BIN)/python -m pytest tests/browser
