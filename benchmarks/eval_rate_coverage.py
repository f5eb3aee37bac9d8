"""Exact coverage of the rate intervals (precision, recall, false-positive and decision rate), no simulation.

    .venv/bin/python benchmarks/eval_rate_coverage.py                 # every setting of eval_coverage.py
    .venv/bin/python benchmarks/eval_rate_coverage.py --positives 9,25

A rate's interval is Wilson's of a count: ``X ~ Binomial(N, p)`` successes in
``N`` trials, ``N`` itself binomial over the window's decisions (flagged
decisions for precision, positives for recall, negatives for the false-positive
rate; the decision rate's ``N`` is the window). Its coverage of ``p`` is then a
finite sum, ``Σ_N P(N) Σ_x P(x | N)·[p in wilson(x, N)]`` over the windows with
``N > 0`` (those where the rate is defined), computed here exactly (tails below
``1e-12`` left out) for the populations, thresholds and window sizes of
``benchmarks/eval_coverage.py``. Where counts are small the coverage of any
interval of a count steps up and down with ``p`` and ``N`` (Brown, Cai &
DasGupta 2001, "Interval estimation for a binomial proportion", *Statistical
Science* 16:101-133); the simulation's cells can only estimate it, with a
binomial standard error, where this sum has none. The Wilson interval here is
computed vectorised and checked against :func:`loopwatch.core.intervals.wilson`
on every count of the first cell.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

import numpy as np
from _records import append, latest_runs, new_run
from eval_coverage import HIGH, LOW, POSITIVES, SETTINGS, population, threshold, truth
from scipy import stats

from loopwatch.core.intervals import wilson

BENCH = "eval_rate_coverage"
RATES = ("precision", "recall", "false_positive_rate", "decision_rate")
Z = float(stats.norm.ppf(0.975))
TAIL = 1e-12


def _wilson(x: np.ndarray, n: float) -> tuple[np.ndarray, np.ndarray]:
    p = x / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * np.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return np.maximum(centre - half, 0.0), np.minimum(centre + half, 1.0)


def _support(n: int, p: float) -> np.ndarray:
    low, high = stats.binom.ppf([TAIL, 1 - TAIL], n, p)
    return np.arange(max(int(low) - 1, 0), min(int(high) + 1, n) + 1)


def exact_coverage(decisions: int, share: float, p: float, *, check: bool = False) -> float:
    """Coverage of ``p`` by Wilson's 95% interval of ``Binomial(N, p)``, ``N ~ Binomial(decisions, share)``,
    over the windows with ``N > 0`` (``share`` 1: ``N`` is the window)."""
    trials = np.array([decisions]) if share >= 1 else _support(decisions, share)
    trials = trials[trials > 0]
    weights = np.ones(1) if share >= 1 else stats.binom.pmf(trials, decisions, share)
    covered = 0.0
    for n, w in zip(trials, weights, strict=True):
        x = _support(int(n), p)
        low, high = _wilson(x.astype(np.float64), float(n))
        if check:
            shipped = np.array([wilson(float(k), float(n)) for k in x])
            if not np.allclose(np.column_stack((low, high)), shipped, rtol=1e-10, atol=1e-12):
                raise RuntimeError("the vectorised Wilson interval differs from core.intervals.wilson")
            check = False
        inside = (low <= p) & (p <= high)
        covered += w * float(stats.binom.pmf(x[inside], int(n), p).sum())
    return covered / float(weights.sum())


def run(setting: str, positives: int, *, check: bool) -> list[dict[str, Any]]:
    pop = population(setting)
    cut = threshold(pop)
    true = truth(pop, cut)
    decisions = round(positives / pop.prevalence)
    pi = pop.prevalence
    trials = {"precision": true["decision_rate"], "recall": pi, "false_positive_rate": 1 - pi,
              "decision_rate": 1.0}
    out = []
    for i, name in enumerate(RATES):
        out.append({"setting": setting, "group": SETTINGS[setting][0], "positives": positives,
                    "decisions": decisions, "metric": name, "truth": true[name], "trial_share": trials[name],
                    "coverage": exact_coverage(decisions, trials[name], true[name], check=check and i == 0)})
    return out


def table_exact(records: list[dict[str, Any]]) -> str:
    """Exact coverage (%) of each rate's Wilson interval per population and expected positives; bold
    outside 93.5-96.5%."""
    rows = latest_runs(records)
    if not rows:
        return "(no records: run benchmarks/eval_rate_coverage.py)\n"
    run_info = rows[0]["run"]
    sizes = list(dict.fromkeys(r["positives"] for r in rows))
    by = {(r["setting"], r["positives"], r["metric"]): r["coverage"] for r in rows}
    short = {"precision": "prec.", "recall": "recall", "false_positive_rate": "FPR", "decision_rate": "dec."}
    out = [f"Run {run_info['id']} ({run_info['date']}, `{run_info['command']}`, git {run_info['git']}): "
           "exact, no sampling error. Cells: precision / recall / FPR / decision rate.", "",
           "| group | population | " + " | ".join(f"{k} positives" for k in sizes) + " |",
           "|---|---|" + "---|" * len(sizes)]
    for setting in dict.fromkeys(r["setting"] for r in rows):
        cells = []
        for k in sizes:
            parts = []
            for name in RATES:
                c = by[(setting, k, name)]
                text = f"{100 * c:.1f}"
                parts.append(text if LOW <= c <= HIGH else f"**{text}**")
            cells.append(" / ".join(parts))
        out.append(f"| {SETTINGS[setting][0]} | {setting} | " + " | ".join(cells) + " |")
    values = [r["coverage"] for r in rows]
    out += ["", f"All {len(values)} cells ({', '.join(short[m] for m in RATES)}): "
                f"{100 * min(values):.2f}–{100 * max(values):.2f}%; "
                f"outside 93.5–96.5%: {sum(not LOW <= v <= HIGH for v in values)}."]
    return "\n".join(out) + "\n"


TABLES = {"exact": table_exact}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--positives", default=",".join(map(str, POSITIVES)),
                        help="expected positives per window, comma-separated")
    parser.add_argument("--no-record", action="store_true", help="print only; write no records")
    args = parser.parse_args()
    positives = [int(x) for x in args.positives.split(",")]
    meta = new_run(BENCH)
    began = time.perf_counter()
    measured: list[dict[str, Any]] = []
    for i, setting in enumerate(SETTINGS):
        for j, k in enumerate(positives):
            records = run(setting, k, check=i == 0 and j == 0)
            measured += [{"run": meta, **r} for r in records]
            print(f"{setting}, {k} positives: " + ", ".join(
                f"{r['metric']} {100 * r['coverage']:.2f}" for r in records), flush=True)
            if not args.no_record:
                for r in records:
                    append(BENCH, meta, r)
    print(f"total {time.perf_counter() - began:.0f} s")
    print(table_exact(measured))
    if not math.isfinite(sum(r["coverage"] for r in measured)):
        raise SystemExit("a coverage is not finite")


if __name__ == "__main__":
    main()
