"""`loopwatch check` with a 50,000-value cohort column against the same store without it.

    .venv/bin/python benchmarks/cohort_bench.py [--days 60] [--per-day 5000] [--values 50000] [--repeat 3]

Simulates a store (cached under benchmarks/.data/cohort) twice: once as simulated, once with
a ``user_id`` column of ``--values`` values (half the decisions from a Zipf head, half
uniform over every value) declared as a cohort. Each repeat runs ``loopwatch check`` in a
new process on each store, the stored profiles deleted first (so the run profiles every
day, where the cohort's cost lies), and records its wall time and peak memory (the
process's maximum resident set, measured by GNU time). The spec's cap (``inputs.cohort_values``,
default 100) is what keeps the second store bounded.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import yaml

from loopwatch.simulate.fraud import SimulationConfig, simulate, write_simulation

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _records  # noqa: E402

BENCH = "cohort_bench"
VARIANTS = {"without": "without the column", "with": "with a user_id cohort column"}
#: GNU time, for the peak memory of a child process
TIME = shutil.which("time") or "/usr/bin/time"


def _users(n: int, values: int, seed: int) -> pa.Array:
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, values + 1)
    head = rng.choice(values, size=n // 2, p=(1 / ranks ** 1.1) / (1 / ranks ** 1.1).sum())
    tail = rng.integers(0, values, size=n - n // 2)
    picks = np.concatenate([head, tail])
    rng.shuffle(picks)
    return pa.array([f"user-{i:06d}" for i in picks])


def _build(root: Path, days: int, per_day: int, values: int) -> dict[str, Path]:
    """Both stores (cached): returns the spec path of each variant."""
    specs = {name: root / name / "loopwatch.yaml" for name in VARIANTS}
    if all(p.exists() for p in specs.values()):
        return specs
    result = simulate(SimulationConfig(days=days, decisions_per_day=per_day, incidents=(), seed=7))
    write_simulation(result, root / "without", overwrite=True)
    with_users = result.decisions.append_column(
        "user_id", _users(result.decisions.num_rows, values, seed=11))
    spec = result.spec.model_copy(update={"cohorts": (*result.spec.cohorts, "user_id")})
    write_simulation(type(result)(with_users, result.outcomes, spec, result.ground_truth),
                     root / "with", overwrite=True)
    return specs


def _run(spec: Path, as_of: str) -> tuple[float, float, int]:
    """(seconds, peak MB, exit code) of one `loopwatch check` in a new process.

    The peak is GNU time's maximum resident set size (``%M``): ``wait4``'s ``ru_maxrss``
    gave one and the same figure for every child on the sandboxed machine this ran on.
    """
    store = yaml.safe_load(spec.read_text())["store"]
    shutil.rmtree(spec.parent / store / "profiles", ignore_errors=True)
    with tempfile.TemporaryDirectory() as scratch:
        peak_file = Path(scratch) / "peak"
        command = [TIME, "-f", "%M", "-o", str(peak_file),
                   str(Path(sys.executable).with_name("loopwatch")), "check", "--spec", str(spec),
                   "--as-of", as_of, "--format", "json"]
        began = time.perf_counter()
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              check=False)
        seconds = time.perf_counter() - began
        peak_kb = int(peak_file.read_text().split()[-1])
    return seconds, peak_kb / 1024, done.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--per-day", type=int, default=5_000)
    parser.add_argument("--values", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / ".data" / "cohort")
    parser.add_argument("--no-record", action="store_true", help="print, do not append records")
    args = parser.parse_args(argv)
    root = args.out / f"{args.days}d-{args.per_day}-{args.values}"
    specs = _build(root, args.days, args.per_day, args.values)
    truth = json.loads((root / "without" / "ground_truth.json").read_text())
    run_info = _records.new_run(BENCH, argv)
    setting = {"days": args.days, "per_day": args.per_day, "values": args.values}
    for repeat in range(args.repeat):
        # alternate the order, so that neither variant always runs on a warmer machine
        order = list(VARIANTS) if repeat % 2 == 0 else list(reversed(VARIANTS))
        for variant in order:
            seconds, peak_mb, code = _run(specs[variant], truth["end"])
            record: dict[str, Any] = {**setting, "variant": variant, "repeat": repeat,
                                      "seconds": seconds, "peak_mb": peak_mb, "exit_code": code}
            print(json.dumps(record))
            if not args.no_record:
                _records.append(BENCH, run_info, record)
    if not args.no_record:
        print(_table(_records.load(BENCH)))
    return 0


def _table(records: list[dict[str, Any]]) -> str:
    found = _records.latest_runs(records)
    if not found:
        return "(no runs recorded yet: `.venv/bin/python benchmarks/cohort_bench.py`)\n"
    run = found[0]["run"]
    by_variant = _records.group_by(found, "variant")
    lines = [f"{found[0]['days']} days × {found[0]['per_day']:,} decisions; the cohort column has "
             f"{found[0]['values']:,} values. Run {run['id']} ({run['date']}, git {run['git']}, "
             f"{run['cpus']} CPUs, load average {run['load_average'][0]} at start); median "
             "(min–max) of the repeats, each a new `loopwatch check` process profiling every day.",
             "", "| store | check seconds | peak memory (MB) | exit code |", "| --- | ---: | ---: | ---: |"]
    for (variant,), rows in by_variant.items():
        lines.append(f"| {VARIANTS[variant]} | {_records.fmt_spread([r['seconds'] for r in rows], 1)} | "
                     f"{_records.fmt_spread([r['peak_mb'] for r in rows], 0)} | "
                     f"{', '.join(sorted({str(r['exit_code']) for r in rows}))} |")
    pairs = _records.group_by(found, "repeat")
    ratios = [next(r["seconds"] for r in rows if r["variant"] == "with")
              / next(r["seconds"] for r in rows if r["variant"] == "without")
              for rows in pairs.values() if len(rows) == 2]
    if ratios:
        lines += ["", f"Time with the column over time without it, per repeat: "
                      f"{_records.fmt_spread(ratios, 2, '×')}."]
    return "\n".join(lines) + "\n"


TABLES = {"check": _table}

if __name__ == "__main__":
    raise SystemExit(main())
