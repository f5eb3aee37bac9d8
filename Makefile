# Two commands on a fresh machine (Python 3.11 + make):
#   make demo   simulate a production fraud model into the embedded store, profile and check it
#   make test   lint, type-check, import contracts and the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO_DIR ?= demo-data

.PHONY: demo test install bench bench-tables clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/loopwatch simulate --days 90 --incidents all --out $(DEMO_DIR) --overwrite
	$(BIN)/loopwatch summary --spec $(DEMO_DIR)/loopwatch.yaml
	$(BIN)/loopwatch profile --spec $(DEMO_DIR)/loopwatch.yaml
	@# the day a new merchant category starts to go unscored: exit 1 (a page) is the expected answer
	$(BIN)/loopwatch check --spec $(DEMO_DIR)/loopwatch.yaml --as-of 2026-02-17 || test $$? -eq 1

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/logger_bench.py

bench-tables: $(STAMP)
	$(BIN)/python benchmarks/tables.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
