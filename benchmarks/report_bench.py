"""Time and size of `loopwatch report` on stores of two sizes, beside `loopwatch evaluate` on the same window.

    .venv/bin/python benchmarks/report_bench.py [--days 45] [--per-day 2000,20000] [--repeat 3]

For each size the store is simulated (cached under benchmarks/.data) and profiled
once; then, in one process, the report of the last 14 days is written ``--repeat``
times (profiles up to date, so each run reads stored profiles, the control plane
and one aggregate query) and `evaluate` of the same window is timed as many times
in between as the baseline (the report runs it too). Each time and the HTML file's
size go to ``records/report_bench.jsonl``; the table quotes medians and spreads.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from loopwatch.core.spec import load_spec
from loopwatch.evaluation.report import evaluate
from loopwatch.report import write_report
from loopwatch.simulate.fraud import SimulationConfig, simulate, write_simulation
from loopwatch.storage.parquet_store import ParquetStore
from loopwatch.storage.profile_history import ProfileHistory

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _records  # noqa: E402

BENCH = "report_bench"
WINDOW_DAYS = 14


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=45)
    parser.add_argument("--per-day", default="2000,20000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/.data/report"))
    args = parser.parse_args(argv)
    run_info = _records.new_run(BENCH, argv)
    for per_day in (int(x) for x in args.per_day.split(",")):
        out = args.out / f"{args.days}d-{per_day}"
        if not (out / "loopwatch.yaml").exists():
            write_simulation(simulate(SimulationConfig(days=args.days, decisions_per_day=per_day,
                                                       incidents=("all",), seed=7)), out, overwrite=True)
        spec = load_spec(out / "loopwatch.yaml")
        end = datetime.fromisoformat(json.loads((out / "ground_truth.json").read_text())["end"])
        store = ParquetStore.for_spec(spec)
        ProfileHistory(store).update()
        decisions = store.count("decisions")
        setting = {"days": args.days, "per_day": per_day, "decisions": decisions, "window_days": WINDOW_DAYS}
        with tempfile.TemporaryDirectory() as scratch:
            for _ in range(args.repeat):
                began, cpu = time.perf_counter(), time.process_time()
                path = write_report(spec, Path(scratch) / "report.html", as_of=end, days=WINDOW_DAYS)
                _records.append(BENCH, run_info, {**setting, "what": "report",
                                                  "seconds": time.perf_counter() - began,
                                                  "cpu_seconds": time.process_time() - cpu,
                                                  "bytes": path.stat().st_size})
                began, cpu = time.perf_counter(), time.process_time()
                evaluate(spec, start=end - timedelta(days=WINDOW_DAYS), end=end, update=False)
                _records.append(BENCH, run_info, {**setting, "what": "evaluate",
                                                  "seconds": time.perf_counter() - began,
                                                  "cpu_seconds": time.process_time() - cpu})
    print(_table(_records.load(BENCH)))
    return 0


def _table(records: list[dict[str, Any]]) -> str:
    found = _records.latest_runs(records)
    if not found:
        return "(no records yet: run benchmarks/report_bench.py)"
    run = found[0]["run"]
    lines = [f"`{run['command']}` on {run['date'][:10]}, {run['cpus']} CPUs, load average at start "
             f"{run['load_average'][0]:.1f} (a shared machine); CPU seconds of the process (wall-clock "
             "seconds under that load after the slash), median (min–max, runs).", "",
             "| decisions in the store | report of 14 days | `evaluate` of the same window | report file |",
             "| ---: | --- | --- | ---: |"]
    for (per_day,), rows in _records.group_by(found, "per_day").items():
        size = max(r["bytes"] for r in rows if r["what"] == "report")
        lines.append(f"| {rows[0]['decisions']:,} ({per_day:,} a day) | {_both(rows, 'report')} "
                     f"| {_both(rows, 'evaluate')} | {size / 1024:,.0f} KiB |")
    return "\n".join(lines)


def _both(rows: list[dict[str, Any]], what: str) -> str:
    chosen = [r for r in rows if r["what"] == what]
    cpu = [r["cpu_seconds"] for r in chosen]
    wall = [r["seconds"] for r in chosen]
    return f"{_records.fmt_spread(cpu, 1, ' s')} / {_records.spread(wall)[0]:.0f} s"


TABLES = {"times": _table}

if __name__ == "__main__":
    raise SystemExit(main())
