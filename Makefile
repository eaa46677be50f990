# chargeflow: `make install`, `make demo`, `make test`, `make check`, `make package-check`,
# `make bench`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test check lint typecheck contracts diagrams diagrams-check package-check bench demo \
	clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	command -v dot >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq graphviz; } \
		|| { echo "Graphviz's dot is needed for SVG diagrams: install graphviz (e.g. sudo apt-get install graphviz)"; exit 1; }
	touch $(STAMP)

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

# The layers are type-checked as chargeflow/<layer> (symlinks to the root folders), once each.
typecheck: install
	$(BIN)/mypy chargeflow tests benchmarks

contracts: install
	$(BIN)/lint-imports

diagrams: install
	$(BIN)/python -m chargeflow.diagrams --out diagrams

diagrams-check: install
	$(BIN)/python -m chargeflow.diagrams --check --out diagrams

check: lint typecheck contracts diagrams-check test

# The built wheel in clean virtual environments (Python 3.11 and the newest CPython here).
package-check: install
	DEV_PYTHON=$(BIN)/python .ci/package-check

# `make bench`: the full benchmarks (several minutes); `make bench BENCH=quick`: under a minute.
# BENCH_ARGS passes options on, e.g. `make bench BENCH_ARGS="--only lifecycle,statements"`.
bench: install
	BENCH=$(BENCH) $(BIN)/python -m benchmarks.bench $(BENCH_ARGS)

demo: install
	$(BIN)/chargeflow --database chargeflow-demo.db demo --diagrams demo-diagrams

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build dist *.egg-info chargeflow-demo.db demo-diagrams
