"""Reliability curve and expected calibration error from bins agree with the raw rows and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from scipy import optimize, special, stats
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression

from loopwatch.core.profile import score_bin, score_edges
from loopwatch.evaluation.bins import ScoreBins
from loopwatch.evaluation.calibration import (
    calibration_intercept,
    calibration_slope,
    expected_calibration_error,
    reliability_curve,
)
from loopwatch.evaluation.metrics import brier_score, log_loss


def rows(n: int, seed: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """A miscalibrated model: the true rate is the score squared."""
    rng = np.random.default_rng(seed)
    scores = rng.beta(2, 3, n)
    return (rng.random(n) < scores**2).astype(np.int64), scores


def binned(y: npt.NDArray[np.int64], scores: npt.NDArray[np.float64],
           edges: tuple[float, ...]) -> npt.NDArray[np.int64]:
    n_bins = len(edges) + 1
    return np.bincount(y * n_bins + score_bin(scores, edges), minlength=2 * n_bins).reshape(2, n_bins)


def direct_ece(y: npt.NDArray[np.int64], scores: npt.NDArray[np.float64], groups: int) -> float:
    group = np.searchsorted(np.linspace(0, 1, groups + 1)[1:-1], scores, side="left")
    return float(sum(abs(np.sum(y[group == g]) - np.sum(scores[group == g]))
                     for g in range(groups)) / y.size)


@pytest.mark.parametrize("groups", [5, 10])
def test_reliability_curve_equals_scikit_learn_with_uniform_bins(groups: int) -> None:
    y, scores = rows(30_000, seed=1)
    edges = score_edges(None, 0.0, 1.0)
    curve = reliability_curve(binned(y, scores, edges), bins=ScoreBins.from_edges(edges), groups=groups)
    observed, predicted = calibration_curve(y, scores, n_bins=groups, strategy="uniform")
    assert [p.observed for p in curve] == pytest.approx(observed, abs=1e-12)
    assert [p.predicted for p in curve] == pytest.approx(predicted, abs=5e-4)
    assert sum(p.n for p in curve) == y.size
    assert all(p.low <= p.observed <= p.high for p in curve)


def test_reliability_curve_equals_scikit_learn_with_exact_bins() -> None:
    y, scores = rows(30_000, seed=2)
    scores = np.round(scores, 3)
    distinct = sorted(set(scores.tolist()))
    edges = score_edges(distinct, distinct[0], distinct[-1])
    bins = ScoreBins.from_edges(edges, lowest=distinct[0])
    curve = reliability_curve(binned(y, scores, edges), bins=bins)
    observed, predicted = calibration_curve(y, scores, n_bins=10, strategy="uniform")
    assert [p.observed for p in curve] == pytest.approx(observed, abs=1e-12)
    assert [p.predicted for p in curve] == pytest.approx(predicted, abs=1e-12)


def test_ece_equals_the_definition_on_the_raw_rows() -> None:
    y, scores = rows(30_000, seed=3)
    edges = score_edges(None, 0.0, 1.0)
    m = expected_calibration_error(binned(y, scores, edges), bins=ScoreBins.from_edges(edges))
    assert m.value == pytest.approx(direct_ece(y, scores, 10), abs=1e-3)
    assert m.n == y.size and math.isnan(m.low) and math.isnan(m.high)  # descriptive: no interval


def recalibration_rows(n: int, seed: int, slope: float, intercept: float) -> tuple[
        npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Scores at 1,000-bin midpoints whose true log-odds are ``intercept + slope·logit(score)``."""
    rng = np.random.default_rng(seed)
    scores = (np.floor(rng.beta(1, 6, n) * 1000) + 0.5) / 1000
    truth = special.expit(intercept + slope * special.logit(scores))
    return (rng.random(n) < truth).astype(np.int64), scores


def test_calibration_slope_and_intercept_equal_the_logistic_fits_on_the_raw_rows() -> None:
    y, scores = recalibration_rows(20_000, seed=5, slope=0.7, intercept=0.3)
    edges = score_edges(None, 0.0, 1.0)
    bins = ScoreBins.from_edges(edges)
    counts = binned(y, scores, edges)
    x = special.logit(scores)
    fitted = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(x[:, None], y)
    slope = calibration_slope(counts, bins=bins)
    assert slope.value == pytest.approx(fitted.coef_[0][0], abs=1e-6)

    def deviance(a: float) -> float:
        return float(np.sum(np.logaddexp(0, -(a + x)) * y + np.logaddexp(0, a + x) * (1 - y)))

    intercept = calibration_intercept(counts, bins=bins)
    assert intercept.value == pytest.approx(optimize.minimize_scalar(deviance).x, abs=1e-6)
    assert slope.low < 0.7 < slope.high and slope.status == "ok"


def test_the_intervals_are_the_robust_ones_computed_on_the_raw_rows() -> None:
    # HC3 on the raw rows (leverage per row) equals the binned computation, rows of a bin sharing it
    y, scores = recalibration_rows(3_000, seed=6, slope=1.3, intercept=-0.2)
    edges = score_edges(None, 0.0, 1.0)
    slope = calibration_slope(binned(y, scores, edges), bins=ScoreBins.from_edges(edges))
    x = np.column_stack([np.ones(y.size), special.logit(scores)])
    fitted = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(x[:, 1:], y)
    beta = np.array([fitted.intercept_[0], fitted.coef_[0][0]])
    p = special.expit(x @ beta)
    bread = np.linalg.inv(x.T @ (x * (p * (1 - p))[:, None]))
    leverage = p * (1 - p) * np.einsum("ij,jk,ik->i", x, bread, x)
    meat = x.T @ (x * ((y - p) ** 2 / (1 - leverage) ** 2)[:, None])
    se = math.sqrt((bread @ meat @ bread)[1, 1])
    assert (slope.high - slope.low) / (2 * 1.959964) == pytest.approx(se, rel=1e-5)
    # the intercept (slope held at 1): HC3 on the raw rows, at Student's t with min(class) - 1 df
    intercept = calibration_intercept(binned(y, scores, edges), bins=ScoreBins.from_edges(edges))
    offset = special.logit(scores)
    p = special.expit(intercept.value + offset)
    information = float(np.sum(p * (1 - p)))
    leverage = p * (1 - p) / information
    se = math.sqrt(float(np.sum((y - p) ** 2 / (1 - leverage) ** 2)) / information**2)
    t = stats.t.ppf(0.975, min(y.sum(), y.size - y.sum()) - 1)
    assert (intercept.high - intercept.low) / (2 * t) == pytest.approx(se, rel=1e-5)


def test_calibration_below_the_floor_or_with_separated_labels_has_no_interval() -> None:
    bins = ScoreBins.from_edges((0.25, 0.5, 0.75), lowest=0.125)
    thin = calibration_slope([[700, 300, 100, 30], [2, 3, 4, 5]], bins=bins)
    assert thin.status == "not_enough_data" and math.isnan(thin.low) and math.isfinite(thin.value)
    separated = calibration_slope([[700, 300, 0, 0], [0, 0, 100, 170]], bins=bins)
    assert separated.status == "not_enough_data" and "separate" in separated.reason
    assert calibration_intercept([[0, 0, 0, 0], [1, 2, 3, 4]], bins=bins).status == "undefined"


def test_a_bin_without_a_known_score_makes_score_metrics_nan_and_leaves_the_curve() -> None:
    bins = ScoreBins.from_edges((0.5, 0.9))  # exact bins; the lowest reference score is unknown
    with_bin_zero = np.array([[10, 5, 1], [1, 5, 8]])
    for metric in (expected_calibration_error(with_bin_zero, bins=bins),
                   brier_score(with_bin_zero, bins=bins), log_loss(with_bin_zero, bins=bins)):
        assert math.isnan(metric.value) and metric.n == 30
    assert [p.n for p in reliability_curve(with_bin_zero, bins=bins)] == [10, 9]
    without = np.array([[0, 5, 1], [0, 5, 8]])
    assert not math.isnan(expected_calibration_error(without, bins=bins).value)


def test_empty_window_gives_nan_ece_and_an_empty_curve() -> None:
    bins = ScoreBins.from_edges(score_edges(None, 0.0, 1.0))
    empty = np.zeros((3, 1000), np.int64)
    assert math.isnan(expected_calibration_error(empty, bins=bins).value)
    assert reliability_curve(empty, bins=bins) == ()


def test_invalid_groups_name_the_value() -> None:
    bins = ScoreBins.from_edges((0.5,), lowest=0.1)
    with pytest.raises(ValueError, match=r"groups must be an integer >= 1; got 0"):
        reliability_curve([[1, 1], [1, 1]], bins=bins, groups=0)
    with pytest.raises(ValueError, match=r"groups must be an integer >= 1; got 2\.5"):
        expected_calibration_error([[1, 1], [1, 1]], bins=bins, groups=2.5)  # type: ignore[arg-type]
