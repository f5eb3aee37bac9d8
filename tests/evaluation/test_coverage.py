"""95% intervals cover the population value about 95% of the time, where positives are few.

The populations are :mod:`loopwatch.simulate.scores`' (their binned metrics are
exact); ``benchmarks/eval_coverage.py`` runs thousands of draws per setting.
With 300 draws the coverage estimate of a correct interval has a binomial
standard deviation of 1.26 points; the tolerance is 3.5 of them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from loopwatch.evaluation.calibration import calibration_intercept, calibration_slope
from loopwatch.evaluation.metrics import MIN_CLASS_ROWS, brier_score, log_loss, precision, recall, roc_auc
from loopwatch.simulate.scores import ScorePopulation, beta_scores, binormal

DRAWS = 300
TOLERANCE = 3.5 * math.sqrt(0.95 * 0.05 / DRAWS)


def test_the_populations_metrics_match_their_closed_forms() -> None:
    population = binormal(separation=1.8, prevalence=0.1)
    # binning moves the AUC by ties within a bin only
    assert population.roc_auc() == pytest.approx(stats.norm.cdf(1.8 / math.sqrt(2)), abs=1e-3)
    cut = (math.log(0.1 / 0.9) - 1.8**2 / 2) / -1.8  # the latent at score 0.5 (calibrated score)
    assert population.recall(0.5) == pytest.approx(stats.norm.sf(cut - 1.8), abs=1e-5)
    assert population.false_positive_rate(0.5) == pytest.approx(stats.norm.sf(cut), abs=1e-5)
    assert population.expected_calibration_error() < 1e-3


def coverage(population: ScorePopulation, positives: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    truth = {"roc_auc": population.roc_auc(), "recall": population.recall(0.5),
             "precision": population.precision(0.5)}
    covered = dict.fromkeys(truth, 0)
    negatives = round(positives * (1 - population.prevalence) / population.prevalence)
    for _ in range(DRAWS):
        counts = population.by_label(rng, positives=positives, negatives=negatives)
        found = {"roc_auc": roc_auc(counts),
                 "recall": recall(counts, bins=population.bins, threshold=0.5),
                 "precision": precision(counts, bins=population.bins, threshold=0.5)}
        for name, metric in found.items():
            covered[name] += metric.covers(truth[name])
    return {name: c / DRAWS for name, c in covered.items()}


@pytest.mark.parametrize("population", [binormal(separation=2.5, prevalence=0.01),
                                        beta_scores(negatives=(1, 8), positives=(2.5, 3), prevalence=0.03)],
                         ids=["binormal AUC 0.96", "Beta scores AUC 0.94"])
def test_auc_interval_covers_95_percent_at_the_floor_of_positives(population: ScorePopulation) -> None:
    # the DeLong logit interval covered 87-88% here
    result = coverage(population, MIN_CLASS_ROWS, seed=3)
    assert abs(result["roc_auc"] - 0.95) <= TOLERANCE, result


def test_calibration_intercept_and_slope_intervals_cover_their_best_fitting_values() -> None:
    # a 1% base rate, an overconfident score (slope 1.5 on the log-odds of the truth)
    population = binormal(separation=2.0, prevalence=0.01, slope=3.0,
                          intercept=math.log(0.01 / 0.99) * 1.5 - 3.0)
    q0, q1 = population.joint()
    big = 1e7  # the best-fitting intercept and slope: the fits on the population's expected counts
    a = calibration_intercept(np.stack([q0 * big, q1 * big]), bins=population.bins).value
    b = calibration_slope(np.stack([q0 * big, q1 * big]), bins=population.bins).value
    assert b < 0.9 and a > 0.5  # overconfident (2/3 before binning squeezes the extremes), too low
    rng = np.random.default_rng(4)
    covered = [0, 0]
    for _ in range(DRAWS):
        counts = population.by_label(rng, decisions=5_000)  # about 50 positives
        covered[0] += calibration_intercept(counts, bins=population.bins).covers(a)
        covered[1] += calibration_slope(counts, bins=population.bins).covers(b)
    assert all(abs(c / DRAWS - 0.95) <= TOLERANCE for c in covered), covered


def test_intervals_resting_on_the_share_of_positives_hold_at_the_floor() -> None:
    # windows of 2,500 decisions at 1% (about 25 positives), reported only from the floor up: those
    # that drew more positives than expected. The normal quantile's intervals of the Brier score,
    # the log loss and the calibration intercept then lay above the truth in 5-6% of them and below
    # in almost none; Student's t with min(class) - 1 degrees of freedom restores the level.
    population = binormal(separation=2.5, prevalence=0.01)
    q0, q1 = population.joint()
    s = np.clip(population.bins.scores, 1e-15, 1 - 1e-15)
    truth = {"brier_score": population.brier_score(),
             "log_loss": float(-(q1 @ np.log(s)) - q0 @ np.log1p(-s)),
             "calibration_intercept": calibration_intercept(np.stack([q0, q1]) * 1e7,
                                                            bins=population.bins).value}
    rng = np.random.default_rng(12)
    reported, covered, normal_covered = 0, dict.fromkeys(truth, 0), dict.fromkeys(truth, 0)
    z, bins = stats.norm.ppf(0.975), population.bins
    while reported < 1200:
        counts = population.by_label(rng, decisions=2_500)
        found = {"brier_score": brier_score(counts, bins=bins), "log_loss": log_loss(counts, bins=bins),
                 "calibration_intercept": calibration_intercept(counts, bins=bins)}
        if found["brier_score"].status != "ok":
            continue
        reported += 1
        t = stats.t.ppf(0.975, counts[1].sum() - 1)
        for name, m in found.items():
            covered[name] += m.covers(truth[name])
            if name == "calibration_intercept":  # the same estimate and se at the normal quantile
                half = (m.high - m.low) / 2 * z / t
                normal_covered[name] += abs(m.value - truth[name]) <= half
    tolerance = 3.5 * math.sqrt(0.95 * 0.05 / reported)
    assert all(abs(c / reported - 0.95) <= tolerance for c in covered.values()), covered
    assert normal_covered["calibration_intercept"] < covered["calibration_intercept"]
