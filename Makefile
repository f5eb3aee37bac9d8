# Two commands on a fresh machine (Python 3.11 + make):
#   make demo   loopwatch demo: a simulated fraud model watched day by day, ending with its incident timeline
#   make test   lint, type-check, import contracts and the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
SUM := $(shell cat pyproject.toml | cksum | cut -d' ' -f1)
STAMP := $(VENV)/.installed-$(SUM)
# the demo needs the core dependencies only (no Spark, PostgreSQL driver or test tools),
# installed by uv (pinned; from PyPI through pip): 3 s of CPU where pip took 37 s
# (docs/DESIGN-NOTES.md, "loopwatch demo in make demo")
CORE_STAMP := $(VENV)/.core-$(SUM)
UV_VERSION := 0.13.9
DEMO_DIR ?= demo-data

.PHONY: demo test install bench bench-full bench-tables clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

$(CORE_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION) \
	    && $(BIN)/uv pip install --quiet --python $(BIN)/python -e . \
	    || { echo "uv could not install the core dependencies (behind a mirror, set UV_INDEX_URL): using pip"; \
	         $(BIN)/python -m pip install --quiet -e .; }
	@rm -f $(VENV)/.core-* && touch $(CORE_STAMP)

install: $(STAMP)

# exit 0 with the demo's pages open: showing them is its point
demo: $(CORE_STAMP)
	$(BIN)/loopwatch demo --days 90 --out $(DEMO_DIR)

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -q

# make bench: every benchmark with short settings (a few minutes each on 2 cores); its
# records go to benchmarks/.data/records, never into the published tables.
# make bench-full: the settings behind benchmarks/*RESULTS.md (hours on 2 cores: detection
# ~1 h per generator, compare_anchors with every tool ~1 h, profile_bench at 10M ~30 min),
# records appended to benchmarks/records/, then the tables regenerated.
QUICK_RECORDS := $(CURDIR)/benchmarks/.data/records
bench: $(STAMP)
	@mkdir -p $(QUICK_RECORDS)
	@export LOOPWATCH_BENCH_RECORDS=$(QUICK_RECORDS); set -e; \
	$(BIN)/python benchmarks/logger_bench.py --quick; \
	$(BIN)/python benchmarks/profile_bench.py --rows 100000 --repeat 3; \
	$(BIN)/python benchmarks/compare_anchors.py --quick --tools '' --repeat 3 --wait-idle 0; \
	$(BIN)/python benchmarks/check_bench.py --days 40 --per-day 5000 --repeat 3; \
	$(BIN)/python benchmarks/history_bench.py --days 10,20 --per-day 2000 --repeat 2; \
	$(BIN)/python benchmarks/detection.py --days 45 --per-day 5000; \
	$(BIN)/python benchmarks/detection.py --generator churn --days 45 --per-day 2000; \
	$(BIN)/python benchmarks/drift_decision.py --days 40 --scale 0.1; \
	$(BIN)/python benchmarks/eval_coverage.py --draws 200; \
	$(BIN)/python benchmarks/eval_rate_coverage.py --positives 9,25; \
	$(BIN)/python benchmarks/eval_false_alarms.py --draws 20; \
	$(BIN)/python benchmarks/label_free.py --draws 30; \
	$(BIN)/python benchmarks/store_readers.py --runs 1 --days 4; \
	$(BIN)/python benchmarks/eval_thin_alarms.py --periods 100; \
	$(BIN)/python benchmarks/alerts_replay.py --days 45 --per-day 5000; \
	$(BIN)/python benchmarks/baselines_replay.py --days 45 --per-day 5000; \
	$(BIN)/python benchmarks/serve_bench.py --rounds 1 --seconds 3

bench-full: $(STAMP)
	$(BIN)/python benchmarks/logger_bench.py
	$(BIN)/python benchmarks/logger_bench.py --one-core
	$(BIN)/python benchmarks/profile_bench.py --rows 1000000,10000000 --repeat 3
	bash benchmarks/competitors/setup.sh
	$(BIN)/python benchmarks/compare_anchors.py --repeat 3
	$(BIN)/python benchmarks/check_bench.py --repeat 3
	$(BIN)/python benchmarks/history_bench.py --repeat 3
	$(BIN)/python benchmarks/history_bench.py --per-day 1000000 --days 30,90 --repeat 3
	$(BIN)/python benchmarks/profile_bench.py --rows 10000000 --engines duckdb,postgres,pyspark --repeat 1
	$(BIN)/python benchmarks/aggregate_bytes.py benchmarks/.data/history/20000x30 benchmarks/.data/profile/10000000
	$(BIN)/python benchmarks/detection.py --incidents all
	$(BIN)/python benchmarks/detection.py --incidents none
	$(BIN)/python benchmarks/detection.py --generator churn --incidents all
	$(BIN)/python benchmarks/detection.py --generator churn --incidents none
	$(BIN)/python benchmarks/drift_decision.py --seeds 1,2,3
	$(BIN)/python benchmarks/eval_coverage.py --draws 2000
	$(BIN)/python benchmarks/eval_rate_coverage.py
	$(BIN)/python benchmarks/eval_false_alarms.py --draws 200 --simulator 29
	$(BIN)/python benchmarks/label_free.py --draws 300
	$(BIN)/python benchmarks/eval_thin_alarms.py
	$(BIN)/python benchmarks/alerts_replay.py
	$(BIN)/python benchmarks/alerts_replay.py --generator churn
	$(BIN)/python benchmarks/baselines_replay.py --variant open
	$(BIN)/python benchmarks/baselines_replay.py --variant none
	$(BIN)/python benchmarks/baselines_replay.py --generator churn --variant open
	$(BIN)/python benchmarks/baselines_replay.py --generator churn --variant none
	$(BIN)/python benchmarks/store_readers.py --runs 3
	$(BIN)/python benchmarks/demo_bench.py --repeat 3
	$(BIN)/python benchmarks/serve_bench.py --rounds 5 --seconds 8
	$(BIN)/python benchmarks/tables.py

bench-tables: $(STAMP)
	$(BIN)/python benchmarks/tables.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
