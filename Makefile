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

bench: $(STAMP)
	$(BIN)/python bench/parse_check.py
	$(BIN)/python bench/evaluate.py
	$(BIN)/python bench/combine.py
	$(BIN)/python bench/grpc.py
	$(BIN)/python bench/analyze.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
