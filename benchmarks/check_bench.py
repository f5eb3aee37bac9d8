"""Time of one `loopwatch check` once profiles exist, on a 90-day store of 20,000 decisions a day.

    .venv/bin/python benchmarks/check_bench.py [--days 90] [--per-day 20000] [--repeat 5]

Simulates the store (cached under benchmarks/.data), profiles it once, then times
`run_checks` for the last day several times in one process (the profile history is
up to date, so each run only reads stored profiles) and in a fresh process (imports
included, as from cron). Each time is appended to ``records/check_bench.jsonl``; the
table quotes the median and the spread of the runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from loopwatch.core.spec import load_spec
from loopwatch.monitoring.job import run_checks
from loopwatch.simulate.fraud import SimulationConfig, simulate, write_simulation
from loopwatch.storage.parquet_store import ParquetStore
from loopwatch.storage.profile_history import ProfileHistory

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _records  # noqa: E402

BENCH = "check_bench"
_RUNS = {"first": "first run (profiles every day)", "in_process": "in process, profiles stored",
         "new_process": "new process (`loopwatch check`, imports included)"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--per-day", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/.data/check"))
    args = parser.parse_args(argv)
    out = args.out / f"{args.days}d-{args.per_day}"
    if not (out / "loopwatch.yaml").exists():
        write_simulation(simulate(SimulationConfig(days=args.days, decisions_per_day=args.per_day,
                                                   incidents=("all",), seed=7)), out, overwrite=True)
    spec = load_spec(out / "loopwatch.yaml")
    truth_end = datetime.fromisoformat(json.loads((out / "ground_truth.json").read_text())["end"])
    run_info = _records.new_run(BENCH, argv)
    setting = {"days": args.days, "per_day": args.per_day}

    def record(kind: str, seconds: float, **extra: Any) -> float:
        _records.append(BENCH, run_info, {**setting, "run_kind": kind, "seconds": seconds, **extra})
        return seconds

    # a store cached from an earlier invocation keeps its profiles: start from none
    shutil.rmtree(ProfileHistory(ParquetStore.for_spec(spec))._base(), ignore_errors=True)
    began = time.perf_counter()
    run_checks(spec, as_of=truth_end)  # profiles every day once
    record("first", time.perf_counter() - began)
    for _ in range(args.repeat):
        began = time.perf_counter()
        run = run_checks(spec, as_of=truth_end)
        record("in_process", time.perf_counter() - began, findings=len(run.findings))
    for _ in range(max(1, args.repeat // 2)):
        began = time.perf_counter()
        subprocess.run([str(Path(sys.executable).with_name("loopwatch")), "check", "--spec",
                        str(out / "loopwatch.yaml"), "--as-of", truth_end.isoformat(),
                        "--format", "json"], check=False, capture_output=True)
        record("new_process", time.perf_counter() - began)
    print(_table(_records.load(BENCH)))
    return 0


def _table(records: list[dict[str, Any]]) -> str:
    found = _records.latest_runs(records)
    if not found:
        return "(no records yet: run benchmarks/check_bench.py)\n"
    run = found[0]["run"]
    lines = [f"{found[0]['days']} days × {found[0]['per_day']:,} decisions a day, every incident; "
             f"`{run['command']}` on {run['date'][:10]} ({run['cpus']} CPUs, load average "
             f"{run['load_average'][0]} at start). Median of the runs (min–max).", "",
             "| run | seconds |", "|---|---|"]
    for (kind,), group in _records.group_by(found, "run_kind").items():
        lines.append(f"| {_RUNS[kind]} | {_records.fmt_spread([r['seconds'] for r in group])} |")
    return "\n".join(lines) + "\n"


TABLES = {"check": _table}


if __name__ == "__main__":
    raise SystemExit(main())
