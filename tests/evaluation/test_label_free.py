"""Label-free estimates: calibrated where the reference's calibration holds, moving with shifted scores.

The simulations are :mod:`loopwatch.simulate.calibrated`'s (``benchmarks/label_free.py`` runs 300 draws).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import special

from loopwatch.core.spec import ValueModel
from loopwatch.evaluation import label_free
from loopwatch.evaluation.bins import ScoreBins
from loopwatch.evaluation.label_free import estimate_metrics, fit_calibration
from loopwatch.evaluation.value import business_value
from loopwatch.simulate.calibrated import BINS, drift_days, healthy_days, shifted_window, synthetic


def test_the_fitted_calibration_is_monotone_and_close_to_the_true_posterior() -> None:
    rng = np.random.default_rng(3)
    reference = shifted_window(rng, 200_000, 0.0)
    calibration = fit_calibration(reference, draws=20)
    assert np.all(np.diff(calibration.probability) >= 0)
    # the population's score is its own posterior: weight the bins by their decisions
    weights = reference.sum(axis=0)
    error = np.abs(calibration.probability - BINS.scores) @ weights / weights.sum()
    assert error < 0.01


def test_estimates_cover_the_realized_values_most_of_the_time_where_calibration_holds() -> None:
    result = synthetic(60, seed=4)
    for name in ("roc_auc", "precision", "recall", "base_rate"):
        assert result["coverage"][name] >= 0.85, (name, result["coverage"][name])


def test_with_riskier_traffic_the_estimates_move_the_way_the_realized_values_do() -> None:
    result = synthetic(30, seed=5, shift=0.5)
    estimated, realized = result["estimate_change"], result["realized_change"]
    for name in ("recall", "base_rate"):
        assert estimated[name] > 0 and realized[name] > 0
        assert estimated[name] == pytest.approx(realized[name], rel=0.3)
    assert estimated["roc_auc"] < 0 and realized["roc_auc"] < 0


def test_the_value_estimate_matches_the_realized_value_when_labels_follow_the_calibration() -> None:
    # two bins: a known P(positive) per bin, and positives worth 100 each
    bins = ScoreBins.from_edges((0.5,), lowest=0.0)
    reference = np.array([[9_000, 400], [1_000, 600]])
    calibration = fit_calibration(reference, value_sum=[[0, 0], [1e5, 6e4]], draws=50)
    model = ValueModel(false_positive=10.0, false_negative=0.0)
    estimate = estimate_metrics(reference.sum(axis=0), calibration, bins=bins, threshold=0.5,
                                value_model=model)["value_per_decision"]
    net = business_value(reference, bins=bins, threshold=0.5, model=model,
                         value_sum=[[0, 0], [1e5, 6e4]], value_sq=[[0, 0], [1e7, 6e6]]).net
    assert estimate.value == pytest.approx(net.value / net.n)
    assert estimate.low < estimate.value < estimate.high


def test_an_empty_window_gives_undefined_estimates_and_bad_input_is_refused() -> None:
    bins = ScoreBins.from_edges((0.5,), lowest=0.0)
    calibration = fit_calibration([[90, 10], [10, 90]], draws=20)
    empty = estimate_metrics([0, 0], calibration, bins=bins, threshold=0.5)
    assert math.isnan(empty["roc_auc"].value) and empty["roc_auc"].n == 0
    with pytest.raises(ValueError, match="one count per score bin"):
        estimate_metrics([1, 2, 3], calibration, bins=bins, threshold=0.5)
    with pytest.raises(ValueError, match="needs labelled positives and negatives"):
        fit_calibration([[90, 10], [0, 0]])
    with pytest.raises(ValueError, match="draws must be an integer >= 20"):
        fit_calibration([[90, 10], [10, 90]], draws=5)


def test_the_same_seed_gives_the_same_intervals() -> None:
    rng = np.random.default_rng(0)
    score = special.expit(rng.normal(-2, 1.5, 5000))
    y = rng.random(5000) < score
    b = (score >= 0.5).astype(np.int64)
    counts = np.bincount(y * 2 + b, minlength=4).reshape(2, 2)
    bins = ScoreBins.from_edges((0.5,), lowest=0.0)
    first, second = (estimate_metrics(counts.sum(axis=0), fit_calibration(counts, seed=9), bins=bins,
                                      threshold=0.5, seed=1) for _ in range(2))
    assert first == second


# --------------------------------------------------------------------------- on the fraud simulator


@pytest.mark.slow
def test_on_healthy_simulated_days_the_estimates_track_the_realized_auc_and_precision() -> None:
    result = healthy_days(last_day=50)
    # daily windows of about 10,000 decisions and 100 positives (benchmarks/RESULTS.md)
    assert result["roc_auc"]["mae"] < 0.03
    assert result["precision"]["mae"] < 0.07
    for name in ("roc_auc", "precision"):
        assert result[name]["coverage"] >= 0.8


@pytest.mark.slow
def test_the_estimated_false_positive_rate_rises_the_day_after_a_gradual_drift_begins() -> None:
    days = {row["day"]: row for row in drift_days()}   # onset: day 62, a 21-day ramp
    before, after = [days[d] for d in range(55, 62)], [days[d] for d in range(63, 68)]

    def values(rows: list[dict[str, Any]], key: str) -> list[float]:
        return [row[key].value for row in rows]

    ceiling = max(values(before, "false_positive_rate_estimate"))
    # the day after the onset the estimate is above every day of the week before, and it stays
    # above on average (it tracks about half of the realized rise: benchmarks/RESULTS.md)
    assert days[63]["false_positive_rate_estimate"].value > ceiling
    assert np.mean(values(after, "false_positive_rate_estimate")) > ceiling
    assert np.mean(values(after, "false_positive_rate_realized")) > max(
        values(before, "false_positive_rate_realized"))
    # precision falls, and the estimate follows it down, if only a little
    assert np.mean(values(after, "precision_estimate")) < np.mean(values(before, "precision_estimate"))
    assert np.mean(values(after, "precision_realized")) < np.mean(values(before, "precision_realized"))


def _scikit_learn_isotonic(rates: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The fit as scikit-learn's estimator makes it: the reference of ``label_free._isotonic``."""
    from sklearn.isotonic import IsotonicRegression

    x = np.arange(rates.size, dtype=np.float64)
    used = weights > 0
    fit = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
    fit.fit(x[used], rates[used], sample_weight=weights[used])
    return np.asarray(fit.predict(x), dtype=np.float64)


@pytest.mark.parametrize("seed", range(4))
def test_the_isotonic_fit_is_scikit_learns_to_the_last_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for case in range(150):
        bins = int(rng.integers(2, 400))
        # empty bins inside and at both ends (interpolated and clipped), fractional weights,
        # tied rates (rounded), violators everywhere (rates unrelated to the bin)
        rows = rng.integers(0, 6, bins) * rng.choice([1.0, 0.37, 1e3])
        rows[rng.random(bins) < 0.3] = 0.0
        if np.count_nonzero(rows) < 2:
            continue
        rising = np.linspace(0, 1, bins) if case % 2 else rng.random(bins)
        positives = np.minimum(rng.binomial(rows.astype(np.int64) + 1, rising), rows)
        rates = np.where(rows > 0, positives / np.where(rows > 0, rows, 1.0), 0.0)
        if case % 3 == 0:
            rates = np.round(rates, 1)
        mine, theirs = label_free._isotonic(rates, rows), _scikit_learn_isotonic(rates, rows)
        assert np.array_equal(mine, theirs), (seed, case, np.max(np.abs(mine - theirs)))


def test_the_calibration_and_its_draws_are_those_of_scikit_learns_estimator(
        monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(11)
    reference = shifted_window(rng, 30_000, 0.0)
    mine = fit_calibration(reference, draws=40, seed=2)
    monkeypatch.setattr(label_free, "_isotonic", _scikit_learn_isotonic)
    theirs = fit_calibration(reference, draws=40, seed=2)
    assert np.array_equal(mine.probability, theirs.probability)
    assert np.array_equal(mine.draws, theirs.draws)
