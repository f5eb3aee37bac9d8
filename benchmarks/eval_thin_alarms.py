"""False alarms of the performance regression tests on thin cohorts, by simulation.

    .venv/bin/python benchmarks/eval_thin_alarms.py                  # 1,000 healthy periods per setting
    .venv/bin/python benchmarks/eval_thin_alarms.py --periods 200    # quicker

The populations, thresholds and value model are ``benchmarks/eval_coverage.py``'s
(:mod:`loopwatch.simulate.scores`: base rates 0.5-3%, skewed, tied, heavy-tailed,
AUC 0.70-0.99; choosing and held-out). One *healthy period* is one cohort
compared as the ``performance`` check compares it: a reference of 16 days and a
current window of 7 days, both drawn from the same population, the current
window holding ``positives`` expected positives (9-200) and the reference 16/7
times as many decisions; every outcome labelled. The pair goes through
:func:`loopwatch.evaluation.comparison.compare` with the spec's threshold at the
setting's cut and the value model, i.e. the minimum-effect tests of ROC AUC,
recall, precision, value per decision (pages), false-positive rate and base rate
(warnings) under one Benjamini-Hochberg procedure. A period with any finding is
a false alarm; the target is at most 5% of healthy periods, reported with its
binomial standard error.
"""

from __future__ import annotations

import argparse
import math
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from _records import append, latest_runs, load, new_run
from eval_coverage import POSITIVES, SETTINGS, VALUE_MODEL, population, threshold, window

from loopwatch.core.findings import Severity
from loopwatch.core.profile import ALL, Binning, Profile, ScoreStats, score_edges
from loopwatch.core.spec import Spec, spec_from_mapping
from loopwatch.evaluation.comparison import compare
from loopwatch.simulate.scores import ScorePopulation

BENCH = "eval_thin_alarms"
START = datetime(2026, 1, 1, tzinfo=UTC)
BINNING = Binning(numeric={}, categorical={}, score=score_edges(None, 0.0, 1.0), actions=("approve", "block"))
REFERENCE_DAYS, CURRENT_DAYS = 16, 7
TARGET = 0.05


def spec_for(cut: float) -> Spec:
    vm = VALUE_MODEL
    return spec_from_mapping({
        "model": "thin", "features": [{"name": "amount", "dtype": "numeric"}], "threshold": cut,
        "value": {"true_positive": vm.true_positive,
                  "true_positive_value_share": vm.true_positive_value_share,
                  "false_positive": vm.false_positive, "false_negative": vm.false_negative,
                  "false_negative_value_share": vm.false_negative_value_share},
    })


def profile(pop: ScorePopulation, rng: np.random.Generator, *, decisions: int, cut: float, start: datetime,
            days: int) -> Profile:
    """The global cohort's profile of one window drawn from ``pop``."""
    w = window(pop, rng, decisions=decisions, cut=cut)
    stats = ScoreStats(by_label=w.by_label, by_action=w.by_action, value_sum=w.value_sum, value_sq=w.value_sq)
    empty = BINNING.empty(start, start + timedelta(days=days), ALL)
    return replace(empty, n=decisions, score=stats)


@dataclass(frozen=True)
class Job:
    setting: str
    positives: int
    periods: int
    seed: int


def run(job: Job) -> dict[str, Any]:
    """Healthy periods of one setting: how many had a finding, a page, and which metrics."""
    pop = population(job.setting)
    cut = threshold(pop)
    spec = spec_for(cut)
    current_n = round(job.positives / pop.prevalence)
    reference_n = round(current_n * REFERENCE_DAYS / CURRENT_DAYS)
    rng = np.random.default_rng(job.seed)
    any_finding = pages = 0
    by_metric: Counter[str] = Counter()
    started = time.perf_counter()
    for _ in range(job.periods):
        ref = profile(pop, rng, decisions=reference_n, cut=cut, start=START, days=REFERENCE_DAYS)
        cur_start = START + timedelta(days=REFERENCE_DAYS)
        cur = profile(pop, rng, decisions=current_n, cut=cut, start=cur_start, days=CURRENT_DAYS)
        found = compare({ALL: ref}, {ALL: cur}, BINNING, spec, window=cur.window)
        any_finding += bool(found)
        pages += any(f.severity == Severity.PAGE for f in found)
        by_metric.update({f.statistic for f in found})
    return {"setting": job.setting, "group": SETTINGS[job.setting][0], "positives": job.positives,
            "current_decisions": current_n, "reference_decisions": reference_n, "threshold": cut,
            "periods": job.periods, "seed": job.seed, "any_finding": any_finding, "pages": pages,
            "by_metric": dict(by_metric), "seconds": time.perf_counter() - started}


def _share(count: int, periods: int) -> str:
    p = count / periods
    se = math.sqrt(max(p * (1 - p), 1 / periods) / periods)  # at 0, the se of one event
    flag = "**" if p > TARGET else ""
    return f"{flag}{100 * p:.1f}% ±{100 * se:.1f}{flag}"


def table_alarms(records: list[dict[str, Any]]) -> str:
    """Share of healthy periods with any finding, and with a page, per setting (± binomial se)."""
    rows = latest_runs(records)
    if not rows:
        return "(no records: run benchmarks/eval_thin_alarms.py)\n"
    run_info = rows[0]["run"]
    positives = sorted({r["positives"] for r in rows})
    out = [f"Run {run_info['id']} ({run_info['date']}, `{run_info['command']}`, git {run_info['git']}), "
           f"{rows[0]['periods']} healthy periods per cell: periods with any finding (with a page).", "",
           "| group | population | " + " | ".join(f"{k} positives" for k in positives) + " |",
           "|---|---|" + "---:|" * len(positives)]
    by = {(r["setting"], r["positives"]): r for r in rows}
    for group, setting in dict.fromkeys((r["group"], r["setting"]) for r in rows):
        cells = []
        for k in positives:
            r = by.get((setting, k))
            cells.append("—" if r is None else
                         f"{_share(r['any_finding'], r['periods'])} ({100 * r['pages'] / r['periods']:.1f}%)")
        out.append(f"| {group} | {setting} | " + " | ".join(cells) + " |")
    total = Counter[str]()
    for r in rows:
        total.update(r["by_metric"])
    periods = sum(r["periods"] for r in rows)
    alarms = sum(r["any_finding"] for r in rows)
    shown = ", ".join(f"{m} {n}" for m, n in total.most_common()) or "none"
    out += ["", f"All cells: {alarms} of {periods} healthy periods with a finding "
                f"({100 * alarms / periods:.2f}%); findings by metric: {shown}."]
    return "\n".join(out) + "\n"


TABLES = {"alarms": table_alarms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--periods", type=int, default=1000, help="healthy periods per setting")
    parser.add_argument("--positives", default=",".join(map(str, POSITIVES)),
                        help="expected positives in the current window, comma-separated")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--no-record", action="store_true", help="print only; write no records")
    args = parser.parse_args()
    positives = [int(x) for x in args.positives.split(",")]
    jobs = [Job(n, k, args.periods, args.seed + 1000 * i + k)
            for i, n in enumerate(SETTINGS) for k in positives]
    meta = new_run(BENCH)
    began = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for r in pool.map(run, jobs):
            print(f"{r['setting']}, {r['positives']} positives: {_share(r['any_finding'], r['periods'])} "
                  f"with a finding, {r['pages']} pages {r['by_metric'] or ''} ({r['seconds']:.0f} s)",
                  flush=True)
            if not args.no_record:
                append(BENCH, meta, r)
    print(f"total {time.perf_counter() - began:.0f} s")
    if not args.no_record:
        print(table_alarms(load(BENCH)))


if __name__ == "__main__":
    main()
