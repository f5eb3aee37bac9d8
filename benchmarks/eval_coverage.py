"""Coverage of every 95% interval loopwatch reports, where data is thin, by simulation.

    .venv/bin/python benchmarks/eval_coverage.py                    # 2,000 windows per setting
    .venv/bin/python benchmarks/eval_coverage.py --draws 300        # quicker
    .venv/bin/python benchmarks/eval_coverage.py --only held-out --positives 25,50
    .venv/bin/python benchmarks/eval_coverage.py --setting fraud --setting t3 --positives 25 --draws 4000

A *setting* is a population of scored decisions (:mod:`loopwatch.simulate.scores`,
whose binned metrics are exact) and a number of expected positives per window.
One draw is one window of one cohort: ``round(positives / prevalence)`` decisions
(so the positives are binomial, as in production), every outcome labelled, its
score in the profile's 1,000 uniform bins, the action positive at the setting's
threshold (the bin edge where the population flags about 1.5 times its base
rate), each positive worth Gamma(2, scale 60) dollars (the value model below
reads no negative's value). Every metric is computed from the binned arrays alone and its
95% interval checked against the population value of the binned estimand:

* ROC AUC, precision, recall, false-positive rate, decision rate, Brier score and
  log loss: exact from the population's bin probabilities;
* calibration intercept and slope: the fit on the population's expected counts
  (the best-fitting values where the score's miscalibration is not logistic);
* value: ``decisions · E[contribution]`` under the value model below.

A window whose metric is ``not_enough_data`` (the ROC AUC and calibration below
``MIN_CLASS_ROWS`` positives or negatives) or undefined (e.g. nothing flagged)
is left out of that metric's coverage and counted. Two groups of populations:
``choosing`` (those the AUC interval and its floor were chosen on) and
``held-out`` (never used to choose anything). Each coverage figure is reported
with its binomial standard error ``√(c(1 - c)/k)`` over the ``k`` windows with an
interval; the target is 93.5-96.5%.

``--probe-floor K`` computes the floored intervals from ``K`` positives up, in
the worker processes only, and records coverage per count of positives
(``by_rows``); the per-setting tables still count an interval as reported only
from the library's floor up, and the table ``floor`` shows coverage by count of
positives across the floor, which is how the floor is chosen.
"""

from __future__ import annotations

import argparse
import functools
import math
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from _records import append, latest_runs, load, new_run
from scipy import special, stats

from loopwatch.core.spec import ValueModel
from loopwatch.evaluation import calibration as calibration_module
from loopwatch.evaluation import metrics as metrics_module
from loopwatch.evaluation import value as value_module
from loopwatch.evaluation.calibration import calibration_intercept, calibration_slope
from loopwatch.evaluation.metrics import (
    MIN_CLASS_ROWS,
    Metric,
    brier_score,
    decision_rate,
    false_positive_rate,
    log_loss,
    precision,
    recall,
    roc_auc,
)
from loopwatch.evaluation.value import business_value
from loopwatch.simulate.scores import (
    ScorePopulation,
    ScoreWindow,
    beta_scores,
    binormal,
    latent_link,
    mixture,
)

BENCH = "eval_coverage"
POSITIVES = (9, 15, 25, 50, 100, 200)
METRICS = ("roc_auc", "calibration_intercept", "calibration_slope", "precision", "recall",
           "false_positive_rate", "decision_rate", "brier_score", "log_loss", "value")
VALUE_MODEL = ValueModel(true_positive=0.0, true_positive_value_share=1.0, false_positive=15.0,
                         false_negative=25.0, false_negative_value_share=1.0)
VALUE_SHAPE, VALUE_SCALE = 2.0, (40.0, 60.0)  # negatives', positives' scale
LOW, HIGH = 0.935, 0.965
#: the intervals that rest on the positives and are ``not_enough_data`` below the floor
FLOORED = ("roc_auc", "calibration_intercept", "calibration_slope", "brier_score", "log_loss", "value")
#: bands of the smaller class's count for the table of coverage near the floor
BANDS = ((15, 20), (20, 25), (25, 30), (30, 35), (35, 45), (45, 70), (70, 10**9))


def _logistic(slope: float, shift: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda z: np.asarray(special.expit(slope * (z - shift)), dtype=np.float64)


def _cloglog(shift: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda z: 1 - np.exp(-np.exp(np.asarray(z, dtype=np.float64) - shift))


#: name -> (group, builder); builders are module-level so worker processes can rebuild them.
SETTINGS: dict[str, tuple[str, Callable[[], ScorePopulation]]] = {
    "binormal AUC 0.90, 2%": ("choosing", lambda: binormal(separation=1.8, prevalence=0.02)),
    "binormal AUC 0.96, 1%": ("choosing", lambda: binormal(separation=2.5, prevalence=0.01)),
    "Beta scores AUC 0.94, 3%": (
        "choosing", lambda: beta_scores(negatives=(1, 8), positives=(2.5, 3), prevalence=0.03)),
    "cloglog truth, logistic score, 0.5%": (
        "choosing", lambda: latent_link(latent=stats.norm(0, 1.3), label=_cloglog(6.0),
                                        score=_logistic(1.0, 5.3), name="cloglog")),
    "binormal tied on 0.05, 2%": (
        "choosing", lambda: binormal(separation=2.0, prevalence=0.02).tied(0.05)),
    "fraud-like mixture, 1%": (
        "held-out", lambda: mixture(negatives=[(1.0, stats.norm(0, 1))],
                                    positives=[(0.7, stats.norm(4, 1)), (0.3, stats.norm(0.5, 1))],
                                    score=_logistic(1.5, 3.0), prevalence=0.01, name="fraud")),
    "heavy tails (t3 latents), 2%": (
        "held-out", lambda: mixture(negatives=[(1.0, stats.t(3, 0, 1))],
                                    positives=[(1.0, stats.t(3, 2.2, 1))], score=_logistic(1.2, 3.5),
                                    prevalence=0.02, name="t3")),
    "Beta scores on 11 values, 1.5%": (
        "held-out", lambda: beta_scores(negatives=(1.2, 6), positives=(3, 2), prevalence=0.015).tied(0.1)),
    "binormal AUC 0.99, 0.5%": ("held-out", lambda: binormal(separation=3.3, prevalence=0.005)),
    "binormal AUC 0.70, 3%, overconfident": (
        "held-out", lambda: binormal(separation=0.74, prevalence=0.03, slope=2.0, intercept=-4.0)),
}


@functools.cache
def population(name: str) -> ScorePopulation:
    return SETTINGS[name][1]()


def threshold(pop: ScorePopulation) -> float:
    """The bin edge where the population flags about 1.5 times its base rate (at least one bin)."""
    q0, q1 = pop.joint()
    above = np.cumsum((q0 + q1)[::-1])[::-1]  # share flagged when the first flagged bin is i
    first = int(np.clip(np.searchsorted(-above, -1.5 * pop.prevalence), 1, len(above) - 1))
    return float(pop.bins.lower[first])


def truth(pop: ScorePopulation, cut: float) -> dict[str, float]:
    """Each metric's population value; ``value`` per decision."""
    q0, q1 = pop.joint()
    expected = np.stack([q0, q1]) * 1e7
    flagged = pop.bins.flagged(cut)
    tpr, fpr, pi = pop.recall(cut), pop.false_positive_rate(cut), pop.prevalence
    mean_value = VALUE_SHAPE * VALUE_SCALE[1]
    vm = VALUE_MODEL
    s = np.clip(pop.bins.scores, 1e-15, 1 - 1e-15)
    return {
        "roc_auc": pop.roc_auc(),
        "calibration_intercept": calibration_intercept(expected, bins=pop.bins).value,
        "calibration_slope": calibration_slope(expected, bins=pop.bins).value,
        "precision": pop.precision(cut), "recall": tpr, "false_positive_rate": fpr,
        "decision_rate": float((q0 + q1)[flagged].sum()),
        "brier_score": pop.brier_score(),
        "log_loss": float(-(q1 @ np.log(s)) - q0 @ np.log1p(-s)),
        "value": (pi * tpr * (vm.true_positive + vm.true_positive_value_share * mean_value)
                  - (1 - pi) * fpr * vm.false_positive
                  - pi * (1 - tpr) * (vm.false_negative + vm.false_negative_value_share * mean_value)),
    }


def window(pop: ScorePopulation, rng: np.random.Generator, *, decisions: int, cut: float) -> ScoreWindow:
    """One fully labelled window: counts per class and bin, action rows (below, at or above ``cut``,
    other), and the positives' dollar values (the negatives' are drawn by nobody: no metric reads them)."""
    counts = pop.by_label(rng, decisions=decisions)
    n_bins = counts.shape[1]
    flagged = pop.bins.flagged(cut)
    by_label = np.vstack([counts, np.zeros((1, n_bins), np.int64)])
    total = counts.sum(axis=0)
    by_action = np.stack([np.where(flagged, 0, total), np.where(flagged, total, 0),
                          np.zeros(n_bins, np.int64)])
    bins_of_positives = np.repeat(np.arange(n_bins), counts[1])
    value = rng.gamma(VALUE_SHAPE, VALUE_SCALE[1], bins_of_positives.size)
    value_sum, value_sq = np.zeros((3, n_bins)), np.zeros((3, n_bins))
    value_sum[1] = np.bincount(bins_of_positives, weights=value, minlength=n_bins)
    value_sq[1] = np.bincount(bins_of_positives, weights=value * value, minlength=n_bins)
    return ScoreWindow(by_label=by_label, by_action=by_action, value_sum=value_sum, value_sq=value_sq)


def metrics(pop: ScorePopulation, rng: np.random.Generator, decisions: int,
            cut: float) -> tuple[dict[str, Metric], int]:
    """Every metric of one window, and the window's smaller class count (positives, here)."""
    w = window(pop, rng, decisions=decisions, cut=cut)
    by_label, sb = w.by_label, pop.bins
    fewer = int(min(by_label[0].sum(), by_label[1].sum()))
    return {
        "roc_auc": roc_auc(by_label),
        "calibration_intercept": calibration_intercept(by_label, bins=sb),
        "calibration_slope": calibration_slope(by_label, bins=sb),
        "precision": precision(by_label, bins=sb, threshold=cut),
        "recall": recall(by_label, bins=sb, threshold=cut),
        "false_positive_rate": false_positive_rate(by_label, bins=sb, threshold=cut),
        "decision_rate": decision_rate(w.by_action, positive_rows=[1]),
        "brier_score": brier_score(by_label, bins=sb),
        "log_loss": log_loss(by_label, bins=sb),
        "value": business_value(by_label, bins=sb, threshold=cut, model=VALUE_MODEL, value_sum=w.value_sum,
                                value_sq=w.value_sq).net,
    }, fewer


def _probe_floor(rows: int) -> None:
    """Compute the floored intervals from ``rows`` of the smaller class in this process, so that
    coverage just below the library's floor can be measured; :func:`run` still counts an
    interval as reported only from :data:`MIN_CLASS_ROWS` up, as the library reports it."""
    for module in (metrics_module, calibration_module, value_module):
        module.MIN_CLASS_ROWS = rows  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Job:
    setting: str
    positives: int
    draws: int
    seed: int
    probe: int = MIN_CLASS_ROWS


def run(job: Job) -> list[dict[str, Any]]:
    """One setting's coverage counts per metric (a record each)."""
    pop = population(job.setting)
    cut = threshold(pop)
    true = truth(pop, cut)
    decisions = round(job.positives / pop.prevalence)
    rng = np.random.default_rng(job.seed)
    keys = ("covered", "above", "below", "not_enough_data", "undefined")
    counts = {name: dict.fromkeys(keys, 0) for name in METRICS}
    # per count of the smaller class: [covered, above, below], from the probe floor up
    by_rows: dict[str, dict[int, list[int]]] = {name: {} for name in METRICS}
    _probe_floor(job.probe)
    started = time.perf_counter()
    for _ in range(job.draws):
        found, fewer = metrics(pop, rng, decisions, cut)
        for name, m in found.items():
            target = true[name] * decisions if name == "value" else true[name]
            c = counts[name]
            if m.status == "not_enough_data":
                c["not_enough_data"] += 1
                continue
            if m.status == "undefined" or math.isnan(m.low):
                c["undefined"] += 1
                continue
            side = 1 if m.low > target else 2 if m.high < target else 0  # above / below the truth
            by_rows[name].setdefault(fewer, [0, 0, 0])[side] += 1
            if name in FLOORED and fewer < MIN_CLASS_ROWS:
                c["not_enough_data"] += 1  # measured below the floor, not reported
            else:
                c[("covered", "above", "below")[side]] += 1
    seconds = time.perf_counter() - started
    return [{"setting": job.setting, "group": SETTINGS[job.setting][0], "positives": job.positives,
             "decisions": decisions, "prevalence": pop.prevalence, "threshold": cut, "population_auc":
             true["roc_auc"], "metric": name, "truth": true[name], "draws": job.draws, "seed": job.seed,
             "seconds": seconds, "floor": MIN_CLASS_ROWS, "probe": job.probe,
             "by_rows": {str(k): v for k, v in sorted(by_rows[name].items())},
             **counts[name]} for name in METRICS]


def at_floor(r: dict[str, Any]) -> dict[str, Any]:
    """A record as the library reports it today: a floored interval counts only from
    :data:`MIN_CLASS_ROWS` positives up (recounted from ``by_rows``, the raw counts per number
    of positives, when the record has them; the interval itself does not depend on the floor)."""
    if "by_rows" not in r or r["metric"] not in FLOORED:
        return r
    kept = [v for k, v in r["by_rows"].items() if int(k) >= MIN_CLASS_ROWS]
    covered, above, below = (sum(v[i] for v in kept) for i in range(3))
    windows = r["covered"] + r["above"] + r["below"] + r["not_enough_data"]
    return {**r, "covered": covered, "above": above, "below": below,
            "not_enough_data": windows - covered - above - below, "floor": MIN_CLASS_ROWS}


def rate(r: dict[str, Any]) -> tuple[float, float, int]:
    """Coverage, its binomial standard error and the windows with an interval."""
    k = r["covered"] + r["above"] + r["below"]
    if not k:
        return math.nan, math.nan, 0
    c = r["covered"] / k
    return c, math.sqrt(c * (1 - c) / k), k


def _cell(r: dict[str, Any]) -> str:
    c, se, k = rate(r)
    if not k:
        return "n.e.d." if r["not_enough_data"] else "—"
    flag = "" if LOW <= c <= HIGH else "**"
    return f"{flag}{100 * c:.1f} ±{100 * se:.1f}{flag}"


def _latest(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = latest_runs(records)
    return [at_floor(r) for r in found] if found else []


def table_coverage(records: list[dict[str, Any]]) -> str:
    """Coverage (%) ± its standard error per setting and interval; bold outside 93.5-96.5%."""
    rows = _latest(records)
    if not rows:
        return "(no records: run benchmarks/eval_coverage.py)\n"
    run_info = rows[0]["run"]
    by = {(r["setting"], r["positives"], r["metric"]): r for r in rows}
    cases = list(dict.fromkeys((r["group"], r["setting"], r["positives"]) for r in rows))
    short = {"roc_auc": "AUC", "calibration_intercept": "cal. int.", "calibration_slope": "cal. slope",
             "precision": "precision", "recall": "recall", "false_positive_rate": "FPR",
             "decision_rate": "decision rate", "brier_score": "Brier", "log_loss": "log loss",
             "value": "value"}
    out = [f"Run {run_info['id']} ({run_info['date']}, `{run_info['command']}`, git {run_info['git']}), "
           f"{rows[0]['draws']} windows per setting. n.e.d.: every window `not_enough_data`.", "",
           "| group | population | positives | " + " | ".join(short[m] for m in METRICS) + " |",
           "|---|---|---:|" + "---:|" * len(METRICS)]
    for group, setting, positives in cases:
        cells = [_cell(by[(setting, positives, m)]) for m in METRICS]
        out.append(f"| {group} | {setting} | {positives} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def table_summary(records: list[dict[str, Any]]) -> str:
    """Per interval: coverage pooled over the settings with an interval, its range, misses by side, and
    the settings outside 93.5-96.5% (beyond 2 standard errors in bold)."""
    rows = _latest(records)
    if not rows:
        return "(no records: run benchmarks/eval_coverage.py)\n"
    out = ["| interval | settings with an interval | pooled coverage ± se | lowest–highest | interval above "
           "the truth (pooled) | below | settings outside 93.5–96.5% (coverage ± se) |",
           "|---|---:|---:|---|---:|---:|---|"]
    for name in METRICS:
        mine = [r for r in rows if r["metric"] == name and rate(r)[2] > 0]
        if not mine:
            continue
        k = sum(rate(r)[2] for r in mine)
        pooled = sum(r["covered"] for r in mine) / k
        rates = [rate(r)[0] for r in mine]
        above = sum(r["above"] for r in mine) / k
        below = sum(r["below"] for r in mine) / k

        def outside(r: dict[str, Any]) -> str:
            c, se, _ = rate(r)
            far = c < LOW - 2 * se or c > HIGH + 2 * se
            text = f"{r['setting']}, {r['positives']}: {100 * c:.1f} ±{100 * se:.1f}"
            return f"**{text}**" if far else text

        shown = [outside(r) for r in mine if not LOW <= rate(r)[0] <= HIGH]
        se = math.sqrt(pooled * (1 - pooled) / k)
        out.append(f"| {name} | {len(mine)} | {100 * pooled:.1f} ±{100 * se:.1f} | "
                   f"{100 * min(rates):.1f}–{100 * max(rates):.1f}% | {100 * above:.1f}% | "
                   f"{100 * below:.1f}% | {'; '.join(shown) or 'none'} |")
    return "\n".join(out) + "\n"


def table_floor(records: list[dict[str, Any]]) -> str:
    """ROC AUC, Brier score, log loss, calibration and value: coverage by the window's count of
    positives, from below the floor up (the run's probe), per population (bands pooled over the
    run's cohort sizes); bold outside 93.5-96.5% by more than 2 standard errors."""
    rows = [r for r in _latest(records) if "by_rows" in r]
    if not rows:
        return "(no records with counts by positives: run benchmarks/eval_coverage.py --probe-floor 15)\n"
    first = rows[0]
    bands = [(lo, hi) for lo, hi in BANDS if hi > first["probe"]]
    label = [f"{max(lo, first['probe'])}–{hi - 1}" if hi < 10**9 else f"{lo}+" for lo, hi in bands]
    out = [f"Run {first['run']['id']} (git {first['run']['git']}): the floor is {first['floor']} positives; "
           f"intervals computed from {first['probe']} to measure below it.", "",
           "| interval | population | " + " | ".join(label) + " |", "|---|---|" + "---:|" * len(bands)]
    for name in FLOORED:
        for setting in dict.fromkeys(r["setting"] for r in rows):
            tally = [[0, 0, 0] for _ in bands]
            for r in rows:
                if r["setting"] != setting or r["metric"] != name:
                    continue
                for k, counts in r["by_rows"].items():
                    for i, (lo, hi) in enumerate(bands):
                        if lo <= int(k) < hi:
                            tally[i] = [a + b for a, b in zip(tally[i], counts, strict=True)]
            cells = []
            for covered, above, below in tally:
                k = covered + above + below
                if k < 50:
                    cells.append("—" if not k else f"({covered}/{k})")
                    continue
                c = covered / k
                se = math.sqrt(c * (1 - c) / k)
                far = c < LOW - 2 * se or c > HIGH + 2 * se
                text = f"{100 * c:.1f} ±{100 * se:.1f} ({k})"
                cells.append(f"**{text}**" if far else text)
            out.append(f"| {name} | {setting} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


TABLES = {"coverage": table_coverage, "summary": table_summary, "floor": table_floor}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--draws", type=int, default=2000, help="windows per setting")
    parser.add_argument("--positives", default=",".join(map(str, POSITIVES)),
                        help="expected positives per window, comma-separated")
    parser.add_argument("--only", choices=("choosing", "held-out"), help="one group of populations")
    parser.add_argument("--setting", action="append", default=[], metavar="TEXT",
                        help="only the populations whose name contains TEXT (case-insensitive; repeatable)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--seed", type=int, default=20261205)
    parser.add_argument("--probe-floor", type=int, default=MIN_CLASS_ROWS,
                        help="compute intervals from this many positives to measure coverage below the "
                             "floor (the tables still count as reported only those at the floor or above)")
    parser.add_argument("--no-record", action="store_true", help="print only; write no records")
    args = parser.parse_args()
    if not 1 <= args.probe_floor <= MIN_CLASS_ROWS:
        parser.error(f"--probe-floor must be between 1 and the floor, {MIN_CLASS_ROWS}; "
                     f"got {args.probe_floor}")
    positives = [int(x) for x in args.positives.split(",")]
    names = [n for n, (group, _) in SETTINGS.items() if args.only in (None, group)
             and (not args.setting or any(t.lower() in n.lower() for t in args.setting))]
    if not names:
        parser.error(f"no population matches --only {args.only} --setting {args.setting}; "
                     f"the populations: {', '.join(SETTINGS)}")
    jobs = [Job(n, k, args.draws, args.seed + 1000 * list(SETTINGS).index(n) + k, args.probe_floor)
            for n in names for k in positives]
    meta = new_run(BENCH)
    began = time.perf_counter()
    measured: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for records in pool.map(run, jobs):
            measured += [{"run": meta, **r} for r in records]
            r0 = records[0]
            print(f"{r0['setting']}, {r0['positives']} positives ({r0['decisions']} decisions, "
                  f"{r0['seconds']:.0f} s): " + ", ".join(f"{r['metric']} {_cell(r)}" for r in records),
                  flush=True)
            if not args.no_record:
                for r in records:
                    append(BENCH, meta, r)
    print(f"total {time.perf_counter() - began:.0f} s")
    print(table_summary(load(BENCH) if not args.no_record else measured))
    print(table_floor(measured))


if __name__ == "__main__":
    main()
