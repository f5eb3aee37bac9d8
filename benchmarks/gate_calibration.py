"""The deploy gate's calibration default on both simulators: does a healthy served model pass?

    .venv/bin/python benchmarks/gate_calibration.py [--generators fraud,churn] [--days 75]
        [--per-day 5000] [--seeds 1,2]

For each generator and seed a healthy run (no incident) is written to a store, and the
gate's calibration check (``gate.calibration`` defaults: the 14 days ending 30 days before
the run's end, slope within [0.8, 1.25], intercept within [-0.5, 0.5], 30 positives) is run
on the scores the simulator's own model served, replayed by decision id. A healthy model
that fails is a false alarm of the default. The churn world was not looked at when the
defaults were chosen. Records go to ``records/gate_calibration.jsonl``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from loopwatch.core.gate_spec import Calibration
from loopwatch.core.spec import load_spec
from loopwatch.learning.gate import calibration_check
from loopwatch.prediction.models import Model
from loopwatch.simulate.churn import ChurnConfig, simulate_churn
from loopwatch.simulate.fraud import SimulationConfig, SimulationResult, simulate, write_simulation
from loopwatch.storage.sources import open_source

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _records  # noqa: E402

BENCH = "gate_calibration"


def _replay(result: SimulationResult) -> Model:
    """The served model, as the scores it logged, looked up by decision id."""
    ids = result.decisions.column("decision_id").to_pylist()
    scores = dict(zip(ids, result.decisions.column(result.spec.columns.score).to_pylist(), strict=True))

    def encode(rows: Sequence[dict[str, Any]]) -> list[Any]:
        return [r["decision_id"] for r in rows]

    def predict(keys: list[Any]) -> Any:
        return np.array([scores[k] for k in keys], dtype=np.float64)

    return Model(predictor=predict, version="served", features=["decision_id"], encode=encode)


def run(generator: str, *, days: int, per_day: int, seed: int) -> dict[str, Any]:
    if generator == "churn":
        result = simulate_churn(ChurnConfig(days=days, decisions_per_day=per_day, incidents=(), seed=seed))
    else:
        result = simulate(SimulationConfig(days=days, decisions_per_day=per_day, incidents=(), seed=seed))
    with tempfile.TemporaryDirectory() as tmp:
        write_simulation(result, Path(tmp) / "sim")
        spec = load_spec(Path(tmp) / "sim" / "loopwatch.yaml")
        end = datetime.fromisoformat(result.ground_truth["end"])
        check = calibration_check(spec, Calibration(), _replay(result), open_source(spec), end)
    detail = dict(check.detail)
    return {"generator": generator, "seed": seed, "days": days, "per_day": per_day, "status": check.status,
            "summary": check.summary, "n": detail.get("n"), "positives": detail.get("positives"),
            "slope": detail.get("slope"), "intercept": detail.get("intercept")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generators", default="fraud,churn")
    parser.add_argument("--days", type=int, default=75)
    parser.add_argument("--per-day", type=int, default=5_000)
    parser.add_argument("--seeds", default="1,2")
    args = parser.parse_args(argv)
    run_info = _records.new_run(BENCH, argv)
    for generator in args.generators.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            record = run(generator, days=args.days, per_day=args.per_day, seed=seed)
            _records.append(BENCH, run_info, record)
            print(f"{generator} seed {seed}: {record['status']}: {record['summary']}", flush=True)
    return 0


def _table(records: list[dict[str, Any]]) -> str:
    latest = _records.latest_runs(records)
    if not latest:
        return "_no records yet_"
    run = latest[0]["run"]
    lines = [f"`{run['command']}` on {run['date'][:10]} ({run['cpus']} CPUs, load average "
             f"{run['load_average'][0]} at start). A healthy run's served scores; a fail is a false alarm.",
             "", "| generator | seed | labelled decisions | positives | calibration slope (95%) | "
             "intercept (95%) | gate |", "|---|---:|---:|---:|---|---|---|"]

    def shown(metric: dict[str, Any] | None) -> str:
        if not metric or metric.get("value") is None:
            return "-"
        if metric.get("low") is None:
            return f"{metric['value']:.3f}"
        return f"{metric['value']:.3f} ({metric['low']:.3f} to {metric['high']:.3f})"

    for r in latest:
        lines.append(f"| {r['generator']} | {r['seed']} | {r['n'] or 0:,} | {r['positives'] or 0:,} | "
                     f"{shown(r['slope'])} | {shown(r['intercept'])} | {r['status'].replace('_', ' ')} |")
    return "\n".join(lines)


TABLES = {"healthy": _table}

if __name__ == "__main__":
    raise SystemExit(main())
