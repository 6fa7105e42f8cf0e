# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench proto clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# the gRPC service on the double11 pack (docs/service.md); Ctrl-C stops it gracefully
run: $(STAMP)
	$(BIN)/promo serve examples/double11

# regenerate server/gen/ from proto/ with the pinned grpcio-tools (tests fail if it is stale)
proto: $(STAMP)
	$(BIN)/python proto/generate.py

test: $(STAMP)
	$(BIN)/python -m pytest

# every benchmark in one run, peers (rule-engine, cel-python, zen-engine) installed from the
# `bench` extra; writes docs/benchmarks.md (about 10 minutes on 2 cores). Single benches: bench/*.py
bench: $(STAMP)
	$(BIN)/python -c 'import rule_engine, celpy, zen' 2>/dev/null || $(BIN)/pip install --quiet -e '.[dev,bench]' \
		|| echo 'bench peers not installed: docs/benchmarks.md will say which'
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
