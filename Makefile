# Every target bootstraps its own virtual environment, so a fresh machine needs only python3 and make.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean fidelity

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m issueops demo

lint: $(STAMP)
	$(VENV)/bin/ruff check scripts tests
	$(VENV)/bin/ruff format --check scripts tests
	$(VENV)/bin/mypy

test: lint fidelity
	$(VENV)/bin/pytest

# GitHub's published REST description (npm @octokit/openapi) for the sandbox fidelity tests;
# without npm (or offline) those tests are skipped with a message instead of failing the build.
FIDELITY := tests/fidelity/node_modules/.installed

$(FIDELITY): tests/fidelity/package.json tests/fidelity/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --prefix tests/fidelity --no-audit --no-fund --loglevel=error && touch $@ \
	  || echo "WARNING: npm ci failed; the sandbox fidelity tests will be skipped"; \
	else echo "WARNING: npm not found; the sandbox fidelity tests will be skipped"; fi

fidelity: $(FIDELITY)

# The scale benchmark's sizes: `make bench BENCH_SCALE_SIZES=1000` for a quick look (the default,
# 1,000, 5,000 and 20,000 items, takes about 13 minutes on 2 cores).
BENCH_SCALE_SIZES ?= 1000,5000,20000

bench: $(STAMP)
	BENCH_SCALE_SIZES=$(BENCH_SCALE_SIZES) $(PY) tests/bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
