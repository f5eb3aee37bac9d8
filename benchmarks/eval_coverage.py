"""Coverage of the evaluation metrics' 95% intervals, by simulation against known population values.

    .venv/bin/python benchmarks/eval_coverage.py                 # 2,000 draws per cohort size
    .venv/bin/python benchmarks/eval_coverage.py --draws 300     # quicker

The data-generating process (one draw = one window of one cohort):

* label ``y ~ Bernoulli(0.1)``; a latent ``z ~ N(1.8·y, 1)``; the model's score
  ``s = expit(1.5·z - 2.25)`` (miscalibrated on purpose, so the calibration
  error is not 0), binned into the 1,000 uniform score bins of a profile;
* each outcome is known (labelled) with probability 0.9;
* the action is ``block`` for ``s >= 0.9``, ``review`` for ``s >= 0.5``, else
  ``approve``; block and review are the positive actions;
* the outcome's value (dollars) is Gamma(2, scale 60) for a positive and
  Gamma(2, scale 40) for a negative; the value model gains the full value of a
  caught positive, costs 15 per false positive, and loses 25 plus the full value
  per missed positive.

The expected calibration error is also measured for a calibrated score (its
population ECE is 0, the hard case for an interval) and one 0.3 log-odds too high,
and the AUC for a model that separates the classes better (AUC 0.98).

The population value of every metric is computed exactly for the binned
estimand (the bin probabilities are normal probabilities of the latent z), once
per scenario; the value's estimand is ``n_labelled · E[contribution]``. A draw
whose metric is undefined (e.g. no flagged rows) is left out of that metric's
coverage and counted.
"""

from __future__ import annotations

import argparse
import functools
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special, stats

from loopwatch.core.profile import score_bin, score_edges
from loopwatch.core.spec import ValueModel
from loopwatch.evaluation.bins import ScoreBins
from loopwatch.evaluation.calibration import expected_calibration_error
from loopwatch.evaluation.metrics import (
    Metric,
    base_rate,
    brier_score,
    decision_rate,
    false_positive_rate,
    label_coverage,
    log_loss,
    precision,
    recall,
    roc_auc,
)
from loopwatch.evaluation.value import business_value

Floats = npt.NDArray[np.float64]

THRESHOLD = 0.5
BLOCK = 0.9
ACTIONS = ("approve", "review", "block")
POSITIVE_ROWS = (1, 2)
VALUE_MODEL = ValueModel(true_positive=0.0, true_positive_value_share=1.0, false_positive=15.0,
                         false_negative=25.0, false_negative_value_share=1.0)
METRICS = ("roc_auc", "precision", "recall", "false_positive_rate", "decision_rate", "base_rate",
           "label_coverage", "brier_score", "log_loss", "expected_calibration_error", "value")


@dataclass(frozen=True)
class Scenario:
    """One simulated cohort: its size and the data-generating process (see the module docstring).

    The true log-odds of a positive given ``z`` are ``separation·z - separation²/2
    + logit(prevalence)``; a score with that slope and intercept is calibrated.
    """

    n: int
    prevalence: float = 0.1
    separation: float = 1.8
    slope: float = 1.5
    intercept: float = -2.25
    labelled: float = 0.9
    value_shape: float = 2.0
    value_scale: tuple[float, float] = (40.0, 60.0)  # negatives, positives


def calibrated(n: int, *, shift: float = 0.0) -> Scenario:
    """The scenario whose score is calibrated (``shift`` = 0) or off by ``shift`` in log-odds."""
    base = Scenario(n=n)
    intercept = math.log(base.prevalence / (1 - base.prevalence)) - base.separation**2 / 2 + shift
    return Scenario(n=n, slope=base.separation, intercept=intercept)


@dataclass(frozen=True)
class Draw:
    by_label: Floats
    by_action: Floats
    value_sum: Floats
    value_sq: Floats


@functools.cache
def bins() -> ScoreBins:
    return ScoreBins.from_edges(score_edges(None, 0.0, 1.0))


def draw(scenario: Scenario, rng: np.random.Generator) -> Draw:
    """One window: the profile arrays of ``scenario.n`` simulated decisions."""
    n = scenario.n
    y = rng.random(n) < scenario.prevalence
    z = rng.standard_normal(n) + scenario.separation * y
    s = special.expit(scenario.slope * z + scenario.intercept)
    edges = score_edges(None, 0.0, 1.0)
    b = score_bin(s, edges)
    n_bins = len(edges) + 1
    labelled = rng.random(n) < scenario.labelled
    row = np.where(labelled, y.astype(np.int64), 2)
    value = rng.gamma(scenario.value_shape, np.where(y, scenario.value_scale[1], scenario.value_scale[0]))
    value = np.where(labelled, value, 0.0)
    cell = row * n_bins + b
    action = np.where(s >= BLOCK, 2, np.where(s >= THRESHOLD, 1, 0))
    shape = (3, n_bins)
    return Draw(
        by_label=np.bincount(cell, minlength=3 * n_bins).reshape(shape).astype(np.float64),
        by_action=np.bincount(action * n_bins + b, minlength=4 * n_bins).reshape(4, n_bins)
        .astype(np.float64),
        value_sum=np.bincount(cell, weights=value, minlength=3 * n_bins).reshape(shape).astype(np.float64),
        value_sq=np.bincount(cell, weights=value * value, minlength=3 * n_bins).reshape(shape)
        .astype(np.float64),
    )


def population(scenario: Scenario) -> dict[str, float]:
    """Each metric's population value for the binned estimand; ``value`` is per labelled decision."""
    sb = bins()
    upper = np.append(sb.lower[1:], math.inf)
    lower = np.where(np.arange(len(sb)) == 0, -math.inf, sb.lower)

    def z_of(score: Floats) -> Floats:
        with np.errstate(divide="ignore"):
            logit = np.asarray(special.logit(np.clip(score, 0.0, 1.0)), dtype=np.float64)
            return (logit - scenario.intercept) / scenario.slope

    def mass(mean: float) -> Floats:
        cdf = stats.norm.cdf
        return np.asarray(cdf(z_of(upper), loc=mean) - cdf(z_of(lower), loc=mean), dtype=np.float64)

    p0, p1 = mass(0.0), mass(scenario.separation)
    pi = scenario.prevalence
    m = sb.scores
    flagged = sb.flagged(THRESHOLD)
    tpr, fpr = float(p1[flagged].sum()), float(p0[flagged].sum())
    mixture = pi * p1 + (1 - pi) * p0
    group = np.searchsorted(np.linspace(0, 1, 11)[1:-1], m, side="left")
    gap = np.bincount(group, weights=pi * p1 - mixture * m, minlength=10)
    mean_value = scenario.value_shape * scenario.value_scale[1]
    vm = VALUE_MODEL
    per_decision = (pi * tpr * (vm.true_positive + vm.true_positive_value_share * mean_value)
                    - (1 - pi) * fpr * vm.false_positive
                    - pi * (1 - tpr) * (vm.false_negative + vm.false_negative_value_share * mean_value))
    return {
        "roc_auc": float(p1 @ (np.cumsum(p0) - p0 / 2)),
        "precision": pi * tpr / (pi * tpr + (1 - pi) * fpr),
        "recall": tpr,
        "false_positive_rate": fpr,
        "decision_rate": float(mixture[flagged].sum()),
        "base_rate": pi,
        "label_coverage": scenario.labelled,
        "brier_score": float(pi * p1 @ (1 - m) ** 2 + (1 - pi) * p0 @ m**2),
        "log_loss": float(-pi * p1 @ np.log(m) - (1 - pi) * p0 @ np.log1p(-m)),
        "expected_calibration_error": float(np.abs(gap).sum()),
        "value": per_decision,
    }


def evaluate(d: Draw, names: Iterable[str]) -> dict[str, Metric]:
    """The named metrics of one draw."""
    sb = bins()
    compute: dict[str, Callable[[], Metric]] = {
        "roc_auc": lambda: roc_auc(d.by_label),
        "precision": lambda: precision(d.by_label, bins=sb, threshold=THRESHOLD),
        "recall": lambda: recall(d.by_label, bins=sb, threshold=THRESHOLD),
        "false_positive_rate": lambda: false_positive_rate(d.by_label, bins=sb, threshold=THRESHOLD),
        "decision_rate": lambda: decision_rate(d.by_action, positive_rows=POSITIVE_ROWS),
        "base_rate": lambda: base_rate(d.by_label),
        "label_coverage": lambda: label_coverage(d.by_label),
        "brier_score": lambda: brier_score(d.by_label, bins=sb),
        "log_loss": lambda: log_loss(d.by_label, bins=sb),
        "expected_calibration_error": lambda: expected_calibration_error(d.by_label, bins=sb),
        "value": lambda: business_value(d.by_label, bins=sb, threshold=THRESHOLD, model=VALUE_MODEL,
                                        value_sum=d.value_sum, value_sq=d.value_sq).net,
    }
    return {name: compute[name]() for name in names}


@dataclass(frozen=True)
class Coverage:
    covered: int
    defined: int
    draws: int

    @property
    def rate(self) -> float:
        return self.covered / self.defined if self.defined else math.nan


def coverage(scenario: Scenario, *, draws: int, seed: int = 0,
             names: Iterable[str] = METRICS) -> dict[str, Coverage]:
    """How often each metric's 95% interval covers its population value, over ``draws`` windows."""
    names = tuple(names)
    truth = population(scenario)
    rng = np.random.default_rng(seed)
    covered = dict.fromkeys(names, 0)
    defined = dict.fromkeys(names, 0)
    for _ in range(draws):
        d = draw(scenario, rng)
        n_labelled = float(d.by_label[:2].sum())
        for name, metric in evaluate(d, names).items():
            target = truth[name] * n_labelled if name == "value" else truth[name]
            if math.isnan(metric.low):
                continue
            defined[name] += 1
            covered[name] += metric.covers(target)
    return {name: Coverage(covered[name], defined[name], draws) for name in names}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--draws", type=int, default=2000, help="simulated windows per cohort size")
    parser.add_argument("--sizes", default="5000,200", help="cohort sizes (decisions per window)")
    parser.add_argument("--seed", type=int, default=20260101)
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    started = time.perf_counter()
    rows: list[tuple[str, list[Coverage]]] = []
    main_results = {n: coverage(Scenario(n=n), draws=args.draws, seed=args.seed + n) for n in sizes}
    rows += [(name, [main_results[n][name] for n in sizes]) for name in METRICS]
    ece = ("expected_calibration_error",)
    for label, shift in (("calibrated score", 0.0), ("score 0.3 log-odds too high", 0.3)):
        truth = population(calibrated(sizes[0], shift=shift))["expected_calibration_error"]
        results = [coverage(calibrated(n, shift=shift), draws=args.draws, seed=args.seed + n + 1,
                            names=ece)[ece[0]] for n in sizes]
        rows.append((f"expected_calibration_error, {label} (population {truth:.3f})", results))
    auc = ("roc_auc",)
    truth = population(Scenario(n=sizes[0], separation=3.0))["roc_auc"]
    results = [coverage(Scenario(n=n, separation=3.0), draws=args.draws, seed=args.seed + n + 2,
                        names=auc)[auc[0]] for n in sizes]
    rows.append((f"roc_auc, latent separation 3.0 (population AUC {truth:.3f})", results))
    sd = math.sqrt(0.95 * 0.05 / args.draws)
    print(f"95% intervals, {args.draws} draws per cohort size; binomial sd of a coverage "
          f"estimate at 95%: {100 * sd:.1f} points; {time.perf_counter() - started:.0f} s\n")
    print("| metric | " + " | ".join(f"n = {n:,}" for n in sizes) + " |")
    print("|---|" + "---:|" * len(sizes))
    for name, cells in rows:
        text = []
        for c in cells:
            undefined = c.draws - c.defined
            text.append(f"{100 * c.rate:.1f}%" + (f" ({undefined} undefined)" if undefined else ""))
        print(f"| {name} | " + " | ".join(text) + " |")


if __name__ == "__main__":
    main()
