# `make run` and `make test` work on a fresh machine: they create .venv,
# install Curbside and its system packages, then start or test everything.

VENV      := .venv
BIN       := $(VENV)/bin
INSTALLED := $(VENV)/.installed
SYSDEPS   := $(VENV)/.system-deps
NODE_DIR  := tests/interop/element_client
NODE_DEPS := $(NODE_DIR)/node_modules/.package-lock.json

.PHONY: run test lint bench clean

run: $(INSTALLED) $(SYSDEPS)
	$(BIN)/curbside init
	$(BIN)/curbside up

test: $(INSTALLED) $(SYSDEPS) $(NODE_DEPS) lint
	$(BIN)/pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/mypy

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# medspacy without its Python<3.12 spaCy cap (see the comment in pyproject.toml)
	$(BIN)/pip install --quiet --no-deps 'medspacy==1.3.1'
	touch $@

$(SYSDEPS): scripts/install-system-deps.sh
	scripts/install-system-deps.sh
	touch $@

$(NODE_DEPS): $(NODE_DIR)/package-lock.json
	npm ci --prefix $(NODE_DIR) --no-audit --no-fund --loglevel=error

clean:
	rm -rf $(VENV) $(NODE_DIR)/node_modules
