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
import time
from typing import Any

import numpy as np

from loopwatch.evaluation.metrics import Metric
from loopwatch.simulate.calibrated import DRIFT_METRICS, drift_days, healthy_days, synthetic


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
                for k in DRIFT_METRICS))
        week = [r for r in rows if 55 <= r["day"] < 62]
        for day in (62, 63, 64):
            (row,) = [r for r in rows if r["day"] == day]
            print(f"  day {day} against the mean of days 55-61:")
            for k in DRIFT_METRICS:
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
