"""Label-free estimates against the values the labels later showed, on synthetic data and the simulator.

    .venv/bin/python benchmarks/label_free.py                   # synthetic coverage + the simulator
    .venv/bin/python benchmarks/label_free.py --draws 100 --no-simulator

**Synthetic coverage.** The score is calibrated by construction: a latent
``z ~ N(0, 1)`` (negatives) or ``N(1.8, 1)`` (positives, prior 5%), score
``P(y = 1 | z)`` in the 1,000 uniform bins. The calibration is fitted on a
reference of 50,000 labelled decisions; each draw is a window of 5,000
decisions from the same population (``covered`` counts the draws whose interval
holds the window's realized value) or with its latent shifted by +0.5 for
everyone (covariate shift: ``P(y | score)`` unchanged, more risky traffic),
where the estimates should move the way the realized values move.

**The fraud simulator.** A healthy 90-day run (10,000 decisions a day, seed 7,
every outcome observed by the end of the run) is evaluated with
:func:`loopwatch.evaluation.report.evaluate` from day 30 (reference: days 14-30,
past the model's training days): per day, the label-free AUC and precision
beside the realized ones, over the days 30-65 whose labels are complete; mean
absolute error and interval coverage. Then a run with ``gradual_drift``
(``velocity_ratio`` inflates to 3× over three weeks from day 62): the daily
estimates of the false-positive rate, recall and precision from the onset on,
against their mean over the week before, and the realized values once labelled.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special

from loopwatch.core.profile import score_bin, score_edges
from loopwatch.evaluation.bins import ScoreBins
from loopwatch.evaluation.label_free import estimate_metrics, fit_calibration
from loopwatch.evaluation.metrics import Metric, precision, roc_auc

Floats = npt.NDArray[np.float64]
EDGES = score_edges(None, 0.0, 1.0)
BINS = ScoreBins.from_edges(EDGES)
START = datetime(2026, 1, 1, tzinfo=UTC)
PRIOR, SEPARATION, THRESHOLD = 0.05, 1.8, 0.5


def shifted_window(rng: np.random.Generator, n: int, shift: float) -> npt.NDArray[np.int64]:
    """A window whose arrivals' latent is shifted by ``shift``, labels drawn from the unchanged P(y | z)."""
    healthy_y = rng.random(n) < PRIOR
    z = rng.standard_normal(n) + SEPARATION * healthy_y + shift
    posterior = special.expit(SEPARATION * z - SEPARATION**2 / 2 + special.logit(PRIOR))
    y = rng.random(n) < posterior
    b = score_bin(posterior, EDGES)
    return np.bincount(y.astype(np.int64) * 1000 + b, minlength=2000).reshape(2, 1000)


def realized(counts: npt.NDArray[np.int64]) -> dict[str, float]:
    return {"roc_auc": roc_auc(counts).value,
            "precision": precision(counts, bins=BINS, threshold=THRESHOLD).value,
            "recall": float(counts[1, 500:].sum() / counts[1].sum()),
            "base_rate": float(counts[1].sum() / counts.sum())}


def synthetic(draws: int, *, seed: int = 0, shift: float = 0.0) -> dict[str, Any]:
    """Coverage and mean error of the estimates over ``draws`` windows (see the module docstring)."""
    rng = np.random.default_rng(seed)
    reference = shifted_window(rng, 50_000, 0.0)
    calibration = fit_calibration(reference, seed=seed)
    names = ("roc_auc", "precision", "recall", "base_rate")
    covered = dict.fromkeys(names, 0)
    errors: dict[str, list[float]] = {n: [] for n in names}
    moved: dict[str, list[float]] = {n: [] for n in names}
    truth_moved: dict[str, list[float]] = {n: [] for n in names}
    baseline = estimate_metrics(reference.sum(axis=0), calibration, bins=BINS, threshold=THRESHOLD)
    ref_values = realized(reference)
    for d in range(draws):
        window = shifted_window(rng, 5_000, shift)
        estimates = estimate_metrics(window.sum(axis=0), calibration, bins=BINS, threshold=THRESHOLD, seed=d)
        truth = realized(window)
        for name in names:
            covered[name] += estimates[name].covers(truth[name])
            errors[name].append(abs(estimates[name].value - truth[name]))
            moved[name].append(estimates[name].value - baseline[name].value)
            truth_moved[name].append(truth[name] - ref_values[name])
    return {"coverage": {n: covered[n] / draws for n in names},
            "mae": {n: float(np.mean(errors[n])) for n in names},
            "estimate_change": {n: float(np.mean(moved[n])) for n in names},
            "realized_change": {n: float(np.mean(truth_moved[n])) for n in names}}


# --- the fraud simulator ----------------------------------------------------------------------------------


def simulated_store(incidents: tuple[str, ...], *, seed: int = 7, per_day: int = 10_000,
                    root: Path) -> tuple[Any, Any]:
    """A 90-day simulated run with every outcome ingested; its spec's reference is days 14-30."""
    from loopwatch.core.spec import Reference
    from loopwatch.simulate.fraud import SimulationConfig, simulate
    from loopwatch.storage.parquet_store import ParquetStore

    result = simulate(SimulationConfig(days=90, decisions_per_day=per_day, incidents=incidents, seed=seed,
                                       start=START))
    spec = result.spec.model_copy(update={"reference": Reference(start=START + timedelta(days=14),
                                                                 end=START + timedelta(days=30))})
    store = ParquetStore(root, spec=spec)
    store.ingest("decisions", result.decisions, source="simulator")
    store.ingest("outcomes", result.outcomes, source="simulator")
    return spec, store


def healthy_days(*, seed: int = 7, per_day: int = 10_000, last_day: int = 65) -> dict[str, Any]:
    """MAE and coverage of the daily label-free estimates against the realized, days 30 to ``last_day``."""
    from loopwatch.evaluation.report import evaluate

    with tempfile.TemporaryDirectory() as tmp:
        spec, store = simulated_store((), seed=seed, per_day=per_day, root=Path(tmp) / "store")
        report = evaluate(spec, store=store, end=START + timedelta(days=last_day))
    out: dict[str, Any] = {}
    for name in ("roc_auc", "precision", "recall"):
        pairs = [(d.estimates[name], d.metrics[name]) for d in report.days]
        errors = [abs(e.value - m.value) for e, m in pairs]
        out[name] = {"mae": float(np.mean(errors)),
                     "coverage": float(np.mean([e.covers(m.value) for e, m in pairs])),
                     "days": len(pairs), "mean_realized": float(np.mean([m.value for _, m in pairs]))}
    return out


def drift_days(*, seed: int = 7, per_day: int = 10_000) -> list[dict[str, Any]]:
    """Daily estimates and realized values around the onset of ``gradual_drift`` (day 62)."""
    from loopwatch.evaluation.report import evaluate

    with tempfile.TemporaryDirectory() as tmp:
        spec, store = simulated_store(("gradual_drift",), seed=seed, per_day=per_day,
                                      root=Path(tmp) / "store")
        report = evaluate(spec, store=store, start=START + timedelta(days=55),
                          end=START + timedelta(days=68))
    return [{"day": (d.start - START).days, **{f"{k}_estimate": d.estimates[k] for k in _DRIFT},
             **{f"{k}_realized": d.metrics[k] for k in _DRIFT}} for d in report.days]


_DRIFT = ("false_positive_rate", "recall", "precision")


def _show(metric: Metric) -> str:
    return f"{metric.value:.4f} [{metric.low:.4f}, {metric.high:.4f}]"


BENCH = "label_free"
_NAMES = ("roc_auc", "precision", "recall", "base_rate")


def table_synthetic(records: list[dict[str, Any]]) -> str:
    """Coverage, error and response to a covariate shift of the synthetic label-free estimates."""
    from _records import latest_runs  # benchmarks/ is on the path when run or tabled; tests import this file

    rows = {r["case"]: r for r in latest_runs(records, where={"kind": "synthetic"})}
    if {"calibration holds", "latent +0.5"} - set(rows):
        return "(no records: run benchmarks/label_free.py)\n"
    same, moved = rows["calibration holds"], rows["latent +0.5"]
    run = same["run"]
    out = [f"Run {run['id']} ({run['date']}, `{run['command']}`), {same['draws']} windows "
           f"({moved['draws']} shifted).", "",
           "| | " + " | ".join(_NAMES) + " |", "|---|" + "---:|" * len(_NAMES),
           "| 95% interval covers the realized value | "
           + " | ".join(f"{100 * same['coverage'][n]:.1f}%" for n in _NAMES) + " |",
           "| mean absolute error | " + " | ".join(f"{same['mae'][n]:.4f}" for n in _NAMES) + " |",
           "| latent +0.5 for everyone (covariate shift): mean change of the estimate | "
           + " | ".join(f"{moved['estimate_change'][n]:+.4f}" for n in _NAMES) + " |",
           "| same: mean change of the realized value | "
           + " | ".join(f"{moved['realized_change'][n]:+.4f}" for n in _NAMES) + " |"]
    return "\n".join(out) + "\n"


def table_simulator(records: list[dict[str, Any]]) -> str:
    """Daily label-free estimates on a healthy simulated run against the realized values."""
    from _records import latest_runs

    rows = latest_runs(records, where={"kind": "simulator_healthy"})
    if not rows:
        return "(no records: run benchmarks/label_free.py without --no-simulator)\n"
    run = rows[0]["run"]
    out = [f"Run {run['id']} ({run['date']}, `{run['command']}`).", "",
           "| | mean realized | MAE of the estimate | interval coverage |", "|---|---:|---:|---:|"]
    out += [f"| {r['metric']} | {r['mean_realized']:.3f} | {r['mae']:.3f} | "
            f"{100 * r['coverage']:.1f}% ({r['days']} days) |" for r in rows]
    return "\n".join(out) + "\n"


TABLES = {"synthetic": table_synthetic, "simulator": table_simulator}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--no-simulator", action="store_true")
    parser.add_argument("--no-record", action="store_true", help="print only; write no records")
    args = parser.parse_args()
    from _records import append, new_run

    meta = new_run(BENCH)

    def record(row: dict[str, Any]) -> None:
        if not args.no_record:
            append(BENCH, meta, row)

    began = time.perf_counter()
    same = synthetic(args.draws, seed=1)
    record({"kind": "synthetic", "case": "calibration holds", "draws": args.draws, **same})
    print("synthetic, calibration holds: coverage", {k: f"{v:.1%}" for k, v in same["coverage"].items()},
          "MAE", {k: f"{v:.4f}" for k, v in same["mae"].items()})
    moved = synthetic(max(args.draws // 3, 20), seed=2, shift=0.5)
    record({"kind": "synthetic", "case": "latent +0.5", "draws": max(args.draws // 3, 20), **moved})
    print("synthetic, latent +0.5 (covariate shift): coverage",
          {k: f"{v:.1%}" for k, v in moved["coverage"].items()},
          "\n  mean change of the estimate", {k: f"{v:+.4f}" for k, v in moved["estimate_change"].items()},
          "\n  mean change of the realized", {k: f"{v:+.4f}" for k, v in moved["realized_change"].items()})
    if not args.no_simulator:
        healthy = healthy_days()
        print("simulator, healthy days 30-65, daily windows:")
        for name, row in healthy.items():
            record({"kind": "simulator_healthy", "metric": name, **row})
            print(f"  {name}: MAE {row['mae']:.4f} (mean realized {row['mean_realized']:.4f}), "
                  f"interval coverage {row['coverage']:.1%} over {row['days']} days")
        print("simulator, gradual_drift from day 62 (estimate vs realized, daily):")
        rows = drift_days()
        for row in rows:
            print(f"  day {row['day']}: " + "; ".join(
                f"{k} est {_show(row[k + '_estimate'])} real {row[k + '_realized'].value:.4f}"
                for k in _DRIFT))
        week = [r for r in rows if 55 <= r["day"] < 62]
        for day in (62, 63, 64):
            (row,) = [r for r in rows if r["day"] == day]
            print(f"  day {day} against the mean of days 55-61:")
            for k in _DRIFT:
                estimates = [r[k + "_estimate"].value for r in week]
                realized = [r[k + "_realized"].value for r in week]
                estimate = row[k + "_estimate"].value
                print(f"    {k}: estimate {estimate - np.mean(estimates):+.4f} "
                      f"(beyond every day of that week: "
                      f"{estimate > max(estimates) or estimate < min(estimates)}), "
                      f"realized {row[k + '_realized'].value - np.mean(realized):+.4f}")
    print(f"total {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
