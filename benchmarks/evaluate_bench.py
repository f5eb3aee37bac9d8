"""`evaluate` on a profiled simulated store, against the floor of reading the profiles it reads.

    .venv/bin/python benchmarks/evaluate_bench.py [--days 90] [--per-day 20000] [--repeat 5]

Simulates a fraud run with every incident (cached under ``benchmarks/.data/evaluate``) and
profiles it once. Each repeat, in this one process, times (CPU seconds of the process, and
wall seconds):

* ``evaluate``: :func:`loopwatch.evaluation.report.evaluate` with ``update=False``, as
  ``loopwatch evaluate`` runs once the store is profiled;
* ``evaluate_estimator``: the same with scikit-learn's ``IsotonicRegression`` doing each
  of the calibrations' fits, as ``evaluate`` did before (the same report, to the last bit:
  ``tests/evaluation/test_report.py``);
* ``read``: the floor, reading the profiles ``evaluate`` reads (the reference's cohorts and
  each day's) with nothing computed on them;
* ``calibration`` and ``calibration_estimator``: the label-free calibration of the
  reference's global cohort (one fit and 200 bootstrap refits, its profile read before)
  as ``evaluate`` fits it, and the same with
  scikit-learn's ``IsotonicRegression`` doing each fit, as it did before (the two give the
  same numbers, ``tests/evaluation/test_label_free.py``); ``evaluate`` fits one per
  reference cohort with enough positives (46 on the default store).

The machine may be shared: every record carries the load average at its start.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from loopwatch.core.profile import ALL, ScoreStats
from loopwatch.core.spec import load_spec
from loopwatch.evaluation import label_free
from loopwatch.evaluation.report import evaluate
from loopwatch.simulate.fraud import SimulationConfig, simulate, write_simulation
from loopwatch.storage.parquet_store import ParquetStore
from loopwatch.storage.profile_history import ProfileHistory

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _records  # noqa: E402

BENCH = "evaluate_bench"
STEPS = ("evaluate", "evaluate_estimator", "read", "calibration", "calibration_estimator")


def _estimator_isotonic(rates: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """One fit as scikit-learn's estimator makes it (the path ``evaluate`` took before)."""
    from sklearn.isotonic import IsotonicRegression

    x = np.arange(rates.size, dtype=np.float64)
    used = weights > 0
    fit = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
    fit.fit(x[used], rates[used], sample_weight=weights[used])
    return np.asarray(fit.predict(x), dtype=np.float64)


def _store(days: int, per_day: int) -> Path:
    """The profiled simulated store (cached): its spec path."""
    root = HERE / ".data" / "evaluate" / f"d{days}-n{per_day}"
    spec_path = root / "loopwatch.yaml"
    if not (root / "profiled").exists():
        print(f"simulating {days} days x {per_day} decisions into {root} ...", flush=True)
        result = simulate(SimulationConfig(days=days, decisions_per_day=per_day, seed=7))
        write_simulation(result, root, overwrite=True)
        print("profiling ...", flush=True)
        ProfileHistory(ParquetStore.for_spec(load_spec(spec_path))).update()
        (root / "profiled").touch()
    return spec_path


def _read(spec_path: Path) -> int:
    """Read what evaluate reads: the reference's profiles and each later day's."""
    history = ProfileHistory(ParquetStore.for_spec(load_spec(spec_path)))
    binning, ref = history.binning(), history.reference_window()
    parts = history.parts()
    reference = parts.profiles(binning, start=ref.start, end=ref.end)
    last = max(parts.moments.column("day").to_pylist())
    day, n = ref.end, len(reference)
    while day <= last:
        parts.profiles(binning, start=day, end=day + timedelta(days=1), cohorts=[ALL])
        day, n = day + timedelta(days=1), n + 1
    return n


def _reference_score(spec_path: Path) -> ScoreStats:
    history = ProfileHistory(ParquetStore.for_spec(load_spec(spec_path)))
    ref = history.reference_window()
    return history.parts().profiles(history.binning(), start=ref.start, end=ref.end)[ALL].score


def _timed(step: Callable[[], object]) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    step()
    return time.process_time() - cpu, time.perf_counter() - wall


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--per-day", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    run = _records.new_run(BENCH, argv)
    spec_path = _store(args.days, args.per_day)
    spec = load_spec(spec_path)
    score = _reference_score(spec_path)  # the calibration steps time the fits alone
    steps: dict[str, Callable[[], object]] = {
        "evaluate": lambda: evaluate(spec, update=False),
        "read": lambda: _read(spec_path),
        "calibration": lambda: label_free.fit_calibration(score.by_label, value_sum=score.value_sum),
    }
    steps["evaluate"]()  # imports and first reads, not timed
    fitted = label_free._isotonic
    for r in range(args.repeat):
        load = [round(x, 2) for x in os.getloadavg()]
        times: dict[str, Any] = {}
        for name, step in steps.items():
            times[name] = _timed(step)
        label_free._isotonic = _estimator_isotonic
        try:
            times["calibration_estimator"] = _timed(steps["calibration"])
            times["evaluate_estimator"] = _timed(steps["evaluate"])
        finally:
            label_free._isotonic = fitted
        for name, (cpu, wall) in times.items():
            _records.append(BENCH, run, {"step": name, "repeat": r, "cpu_s": cpu, "wall_s": wall,
                                         "days": args.days, "per_day": args.per_day, "load": load})
        print(f"repeat {r} (load {load[0]}): " + ", ".join(f"{n} {c:.2f} s cpu / {w:.2f} s wall"
                                                          for n, (c, w) in times.items()), flush=True)
    print(table(_records.load(BENCH)))


def table(records: list[dict[str, Any]]) -> str:
    """Median and spread (min–max) of each step's CPU and wall time in the latest run."""
    latest = _records.latest_runs(records)
    if not latest:
        return "(no records: run benchmarks/evaluate_bench.py)\n"
    run = latest[0]["run"]
    loads = [r["load"][0] for r in latest]
    out = [f"Run {run['id']} ({run['date']}, `{run['command']}`, {run['cpus']} CPUs, "
           f"{latest[0]['days']} days x {latest[0]['per_day']} decisions; load average "
           f"{min(loads):.1f}-{max(loads):.1f}).", "",
           "| step | CPU s | wall s |", "|---|---:|---:|"]
    for step in STEPS:
        mine = [r for r in latest if r["step"] == step]
        if mine:
            out.append(f"| {step} | {_records.fmt_spread([r['cpu_s'] for r in mine])} | "
                       f"{_records.fmt_spread([r['wall_s'] for r in mine])} |")
    return "\n".join(out) + "\n"


TABLES = {"times": table}

if __name__ == "__main__":
    main()
