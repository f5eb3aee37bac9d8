"""Time of one `loopwatch check` once profiles exist, on a 90-day store of 20,000 decisions a day.

    .venv/bin/python benchmarks/check_bench.py [--days 90] [--per-day 20000] [--repeat 5]

Simulates the store (cached under benchmarks/.data), profiles it once, then times
`run_checks` for the last day several times in one process (the profile history is
up to date, so each run only reads stored profiles) and in a fresh process (imports
included, as from cron). Reports the median and the fastest.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from loopwatch.core.spec import load_spec
from loopwatch.monitoring.job import run_checks
from loopwatch.simulate.fraud import SimulationConfig, simulate, write_simulation


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
    began = time.perf_counter()
    run_checks(spec, as_of=truth_end)  # profiles every day once
    first = time.perf_counter() - began
    warm = []
    for _ in range(args.repeat):
        began = time.perf_counter()
        run = run_checks(spec, as_of=truth_end)
        warm.append(time.perf_counter() - began)
    cold = []
    for _ in range(max(1, args.repeat // 2)):
        began = time.perf_counter()
        subprocess.run([str(Path(sys.executable).with_name("loopwatch")), "check", "--spec",
                        str(out / "loopwatch.yaml"), "--as-of", truth_end.isoformat(),
                        "--format", "json"], check=False, capture_output=True)
        cold.append(time.perf_counter() - began)
    print(f"check benchmark: {args.days} days × {args.per_day:,} decisions/day, "
          f"{len(run.findings)} findings, {run.tests} tests")
    print("| run | median s | fastest s |\n|---|---|---|")
    print(f"| first (profiles every day) | {first:.2f} | {first:.2f} |")
    print(f"| in process, profiles stored | {statistics.median(warm):.2f} | {min(warm):.2f} |")
    print(f"| new process (`loopwatch check`) | {statistics.median(cold):.2f} | {min(cold):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
