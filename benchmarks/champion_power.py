"""How often the champion rule blocks a challenger exactly as good as the champion, per cohort size.

The rule (``learning.champion``) asks each cohort to show non-inferiority, H0: AUC difference
≤ −margin (0.01), one-sided at alpha 0.05; a cohort that cannot is blocked. For an *equal*
challenger that is a power question: with few positives the paired standard error is larger
than margin / 1.645 and an equal challenger is blocked most of the time. This measures the
single-cohort block rate before the Holm correction across cohorts (which only raises it),
by simulation: binormal scores (positives shifted 1.5, as in the coverage runs) of two
versions with the same AUC, correlated ρ = 0.6 (versions that differ a lot) and ρ = 0.9
(versions that differ by a feature, as in the simulator's scenario), 30 negatives per positive.

    .venv/bin/python benchmarks/champion_power.py --runs 300
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import numpy as np
from _records import append, latest_runs, load, new_run

from loopwatch.evaluation.paired import paired_auc

BENCH = "champion_power"
POSITIVES = (25, 55, 100, 200, 400, 800)
CORRELATIONS = (0.6, 0.9)
MARGIN, ALPHA = 0.01, 0.05


def block_rate(positives: int, rho: float, runs: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng([seed, positives, int(rho * 100)])
    negatives = 30 * positives
    cov = [[1.0, rho], [rho, 1.0]]
    blocked, ses = 0, []
    for _ in range(runs):
        pos = rng.multivariate_normal([1.5, 1.5], cov, size=positives)
        neg = rng.multivariate_normal([0.0, 0.0], cov, size=negatives)
        labels = np.r_[np.ones(positives, bool), np.zeros(negatives, bool)]
        got = paired_auc(labels, np.r_[pos[:, 0], neg[:, 0]], np.r_[pos[:, 1], neg[:, 1]])
        blocked += got.p_at_most(-MARGIN) > ALPHA
        ses.append(got.se)
    return {"positives": positives, "negatives": negatives, "rho": rho, "runs": runs, "blocked": blocked,
            "median_se": float(np.median(ses))}


def table(records: list[dict[str, Any]]) -> str:
    """Block rate of an equal challenger per cohort size and correlation."""
    rows = latest_runs(records)
    if not rows:
        return "(no records: run benchmarks/champion_power.py)\n"
    info = rows[0]["run"]
    out = [f"Run {info['id']} ({info['date']}, `{info['command']}`, git {info['git']}, load average "
           f"{info['load_average'][0]}; others' work ran at nice 19): share of runs in which an equal "
           f"challenger is blocked in one cohort (margin {MARGIN}, alpha {ALPHA}, before Holm), with its "
           "binomial standard error, and the median paired standard error of the AUC difference.", "",
           "| positives | negatives | ρ | runs | blocked | median SE |", "|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        p = r["blocked"] / r["runs"]
        se = math.sqrt(p * (1 - p) / r["runs"])
        out.append(f"| {r['positives']} | {r['negatives']:,} | {r['rho']} | {r['runs']} | "
                   f"{100 * p:.1f}% ±{100 * se:.1f} | {r['median_se']:.4f} |")
    return "\n".join(out) + "\n"


TABLES = {"block_rate": table}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=300, help="simulated cohorts per setting")
    parser.add_argument("--no-record", action="store_true", help="print only; write no records")
    args = parser.parse_args()
    meta = new_run(BENCH)
    found = []
    for rho in CORRELATIONS:
        for positives in POSITIVES:
            r = block_rate(positives, rho, args.runs, 20261205)
            print(r, flush=True)
            found.append(r)
    if not args.no_record:
        for r in found:
            append(BENCH, meta, r)
        print(table(load(BENCH)))


if __name__ == "__main__":
    main()
