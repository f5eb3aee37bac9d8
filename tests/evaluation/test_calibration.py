"""Reliability curve and expected calibration error from bins agree with the raw rows and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from sklearn.calibration import calibration_curve

from loopwatch.core.profile import score_bin, score_edges
from loopwatch.evaluation.bins import ScoreBins
from loopwatch.evaluation.calibration import expected_calibration_error, reliability_curve
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
    assert m.n == y.size and m.low <= m.value <= m.high


def test_ece_interval_reaches_zero_for_a_calibrated_model_and_excludes_it_for_a_miscalibrated_one() -> None:
    rng = np.random.default_rng(4)
    scores = rng.random(5000)
    edges = score_edges(None, 0.0, 1.0)
    bins = ScoreBins.from_edges(edges)
    calibrated = expected_calibration_error(binned((rng.random(5000) < scores).astype(np.int64), scores,
                                                   edges), bins=bins)
    skewed = expected_calibration_error(binned((rng.random(5000) < scores**2).astype(np.int64), scores,
                                               edges), bins=bins)
    assert calibrated.low == 0.0 < calibrated.value
    assert skewed.low > 0.1  # the population ECE of s against s² on uniform scores is 1/6


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
