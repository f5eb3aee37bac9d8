"""How often the champion rule blocks a challenger exactly as good as the champion, per cohort size.

The rule (``learning.champion``) asks each cohort to show non-inferiority, H0: AUC difference
≤ −margin (0.01), one-sided at alpha 0.05; a cohort that cannot is blocked. For an *equal*
challenger that is a power question: with few positives the paired standard error is larger
than margin / 1.645 and an equal challenger is blocked most of the time. This measures the
single-cohort block rate before the Holm correction across cohorts (which only raises it),
by simulation: binormal scores (positives shifted 1.5, as in the coverage runs) of two
versions with the same AUC, correlated ρ = 0.6 (versions that differ a lot) and ρ = 0.9
(versions that differ by a feature, as in the simulator's scenario), 30 negatives per positive.

Beside the rule as it is, the same runs judged by a power-based floor, to decide whether to build
it: a cohort whose test could not show an equal challenger within the margin with 80% power
(``Φ(margin / SE − z₁₋α) < 0.8`` at its observed paired SE) is "not enough data", and is blocked
only when shown worse by more than the margin (p of "difference ≥ −margin" below alpha). And a
challenger truly worse by twice the margin (AUC 0.02 lower) under both: what the floor would let
through.

    .venv/bin/python benchmarks/champion_power.py --runs 300
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import numpy as np
from _records import append, latest_runs, load, new_run
from scipy import stats

from loopwatch.evaluation.paired import paired_auc

BENCH = "champion_power"
POSITIVES = (25, 55, 100, 200, 400, 800)
CORRELATIONS = (0.6, 0.9)
MARGIN, ALPHA = 0.01, 0.05
SHIFT, POWER = 1.5, 0.8
#: the shift whose binormal AUC is 2 margins below the champion's
WORSE_SHIFT = math.sqrt(2) * float(stats.norm.ppf(stats.norm.cdf(SHIFT / math.sqrt(2)) - 2 * MARGIN))


def _outcomes(got: Any) -> tuple[bool, str]:
    """Blocked by the rule as it is; and the power floor's outcome: blocked, not_enough_data or passed."""
    blocked = got.p_at_most(-MARGIN) > ALPHA
    power = float(stats.norm.cdf(MARGIN / got.se - stats.norm.ppf(1 - ALPHA)))
    if power >= POWER:
        return blocked, "blocked" if blocked else "passed"
    shown_worse = float(stats.norm.cdf((got.difference + MARGIN) / got.se)) < ALPHA
    return blocked, "blocked" if shown_worse else "not_enough_data"


def block_rate(positives: int, rho: float, runs: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng([seed, positives, int(rho * 100)])
    negatives = 30 * positives
    cov = [[1.0, rho], [rho, 1.0]]
    labels = np.r_[np.ones(positives, bool), np.zeros(negatives, bool)]
    blocked, ses = 0, []
    floor = {"equal": {"blocked": 0, "not_enough_data": 0, "passed": 0},
             "worse": {"blocked": 0, "not_enough_data": 0, "passed": 0}}
    worse_blocked = 0
    for _ in range(runs):
        pos = rng.multivariate_normal([SHIFT, SHIFT], cov, size=positives)
        neg = rng.multivariate_normal([0.0, 0.0], cov, size=negatives)
        got = paired_auc(labels, np.r_[pos[:, 0], neg[:, 0]], np.r_[pos[:, 1], neg[:, 1]])
        rule, floored = _outcomes(got)
        blocked += rule
        floor["equal"][floored] += 1
        ses.append(got.se)
        worse = paired_auc(labels, np.r_[pos[:, 0], neg[:, 0]],
                           np.r_[pos[:, 1] - SHIFT + WORSE_SHIFT, neg[:, 1]])
        rule, floored = _outcomes(worse)
        worse_blocked += rule
        floor["worse"][floored] += 1
    return {"positives": positives, "negatives": negatives, "rho": rho, "runs": runs, "blocked": blocked,
            "median_se": float(np.median(ses)), "floor": floor, "worse_blocked": worse_blocked}


def table(records: list[dict[str, Any]]) -> str:
    """Block rate of an equal challenger per cohort size and correlation; with the power floor's
    outcomes for an equal challenger and one worse by twice the margin, where recorded."""
    rows = latest_runs(records)
    if not rows:
        return "(no records: run benchmarks/champion_power.py)\n"
    info = rows[0]["run"]
    out = [f"Run {info['id']} ({info['date']}, `{info['command']}`, git {info['git']}, load average "
           f"{info['load_average'][0]}; others' work ran at nice 19): share of runs in which an equal "
           f"challenger is blocked in one cohort (margin {MARGIN}, alpha {ALPHA}, before Holm), with its "
           "binomial standard error, and the median paired standard error of the AUC difference; then, "
           "under a power floor (not enough data below 80% power, blocked there only when shown worse "
           "by more than the margin), the equal challenger's and a challenger worse by "
           f"{2 * MARGIN:g} AUC: blocked / not enough data / passed.", "",
           "| positives | negatives | ρ | runs | blocked | median SE | worse one blocked | floor: equal "
           "| floor: worse by 0.02 |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def split(counts: dict[str, int] | None, runs: int) -> str:
        if counts is None:
            return "—"
        return " / ".join(f"{100 * counts[k] / runs:.0f}%" for k in ("blocked", "not_enough_data", "passed"))

    for r in rows:
        p = r["blocked"] / r["runs"]
        se = math.sqrt(p * (1 - p) / r["runs"])
        floor = r.get("floor", {})
        worse = "—" if "worse_blocked" not in r else f"{100 * r['worse_blocked'] / r['runs']:.0f}%"
        out.append(f"| {r['positives']} | {r['negatives']:,} | {r['rho']} | {r['runs']} | "
                   f"{100 * p:.1f}% ±{100 * se:.1f} | {r['median_se']:.4f} | {worse} | "
                   f"{split(floor.get('equal'), r['runs'])} | {split(floor.get('worse'), r['runs'])} |")
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
