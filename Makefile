# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BUILT  := $(VENV)/.compiled
# what the compiled code is built from: the compiled modules ([tool.promo] compiled in
# pyproject.toml) and the engine modules mypyc reads for their types
ENGINE := $(shell find engine -name '*.py')

.PHONY: run test bench proto clean

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	PROMO_PURE_PYTHON=1 $(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# compile the pricing core in place (setup.py), again after an edit to the engine:
# Python imports the extension beside a module's source, so it must never be older
$(BUILT): $(STAMP) $(ENGINE) setup.py
	$(BIN)/python setup.py --quiet build_ext --inplace
	touch engine/_compiled__mypyc.*.so $(BUILT)  # mypyc keeps the library when only docstrings changed

# the gRPC service on the double11 pack (docs/service.md); Ctrl-C stops it gracefully
run: $(BUILT)
	$(BIN)/promo serve examples/double11

# regenerate server/gen/ from proto/ with the pinned grpcio-tools (tests fail if it is stale)
proto: $(STAMP)
	$(BIN)/python proto/generate.py

# lint and import order, types (strict on the compiled set), the layers' import contracts, then
# the suites; each step fails the target (settings: pyproject.toml's [tool.ruff], [tool.mypy],
# [tool.importlinter])
test: $(BUILT)
	$(BIN)/ruff check --no-cache .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo --no-cache
	$(BIN)/python -m pytest

# every benchmark in one run, peers (rule-engine, cel-python, zen-engine) installed from the
# `bench` extra; writes docs/benchmarks.md (about 10 minutes on 2 cores). Single benches: bench/*.py
bench: $(BUILT)
	$(BIN)/python -c 'import rule_engine, celpy, zen' 2>/dev/null || $(BIN)/pip install --quiet -e '.[dev,bench]' \
		|| echo 'bench peers not installed: docs/benchmarks.md will say which'
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build .mypy_cache .ruff_cache .import_linter_cache
	find engine -name '*.so' -delete
