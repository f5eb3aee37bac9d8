"""Importance and impact measured from profiles agree with direct computations on raw decisions."""

from __future__ import annotations

import numpy as np
import pytest

from loopwatch.core.findings import Severity
from loopwatch.core.profile import BinScores, NumericStats
from loopwatch.core.spec import Monitoring, spec_from_mapping
from loopwatch.monitoring.impact import decision_shift, eta_squared, grade, importance_shares, slot_shares


def _bin_scores(slot: np.ndarray, positive: np.ndarray, size: int) -> BinScores:
    return BinScores(np.bincount(slot, minlength=size), np.zeros(size),
                     np.bincount(slot, weights=positive, minlength=size).astype(np.int64))


def test_eta_squared_equals_the_correlation_ratio_on_raw_decisions() -> None:
    rng = np.random.default_rng(1)
    slot = rng.integers(0, 8, 20_000)
    positive = (rng.random(20_000) < 0.02 + 0.03 * slot).astype(float)
    # correlation ratio: between-group variance over total variance of the 0/1 decision
    means = np.array([positive[slot == k].mean() for k in range(8)])
    between = np.sum(np.bincount(slot) * (means - positive.mean()) ** 2) / positive.size
    assert eta_squared(_bin_scores(slot, positive, 8)) == pytest.approx(between / positive.var(),
                                                                          rel=1e-9)


def test_a_feature_the_decisions_ignore_has_no_importance() -> None:
    rng = np.random.default_rng(2)
    slot = rng.integers(0, 10, 50_000)
    positive = (rng.random(50_000) < 0.05).astype(float)
    assert eta_squared(_bin_scores(slot, positive, 10)) < 1e-3


def test_decision_shift_predicts_the_change_in_decision_rate_of_a_pure_mix_shift() -> None:
    # decisions depend on the bin only; the current window moves mass between bins
    rate = np.array([0.0, 0.01, 0.05, 0.2])
    rng = np.random.default_rng(3)
    before = rng.choice(4, 200_000, p=[0.1, 0.5, 0.3, 0.1])
    after = rng.choice(4, 200_000, p=[0.1, 0.2, 0.3, 0.4])
    pos_before = rng.random(before.size) < rate[before]
    pos_after = rng.random(after.size) < rate[after]
    shares = [np.bincount(x, minlength=4) / x.size for x in (before, after)]
    shift = decision_shift(shares[0], shares[1],
                           rates_now=_bin_scores(after, pos_after.astype(float), 4),
                           rates_then=_bin_scores(before, pos_before.astype(float), 4),
                           n_reference=before.size, n_current=after.size)
    assert shift.value == pytest.approx(pos_after.mean() - pos_before.mean(), abs=0.003)


def test_the_shift_standard_error_matches_its_spread_over_resamples() -> None:
    rate = np.array([0.0, 0.01, 0.05, 0.2])
    rates = BinScores(np.full(4, 10_000), np.zeros(4), (rate * 10_000).astype(np.int64))
    p = np.array([0.1, 0.5, 0.3, 0.1])
    rng = np.random.default_rng(4)
    values, errors = [], []
    for _ in range(400):
        a = rng.multinomial(2000, p) / 2000
        b = rng.multinomial(500, p) / 500
        shift = decision_shift(a, b, rates_now=rates, rates_then=rates, n_reference=2000,
                               n_current=500)
        values.append(shift.value)
        errors.append(shift.se)
    assert np.std(values) == pytest.approx(np.mean(errors), rel=0.1)
    # with no real change, the assured part is zero in about 95% of resamples
    assured = [decision_shift(rng.multinomial(2000, p) / 2000, rng.multinomial(500, p) / 500,
                              rates_now=rates, rates_then=rates, n_reference=2000,
                              n_current=500).assured() for _ in range(400)]
    assert 0.9 <= np.mean(np.array(assured) == 0) <= 0.99


def test_slot_shares_put_missing_values_first() -> None:
    stats = NumericStats(count=6, nulls=2, total=0.0, total_sq=0.0, minimum=0.0, maximum=1.0,
                         bins=np.array([1, 2, 3]))
    assert slot_shares(stats).tolist() == [0.25, 0.125, 0.25, 0.375]


def test_spec_importances_take_precedence_and_are_shares() -> None:
    spec = spec_from_mapping({"model": "m", "features": [
        {"name": "a", "dtype": "numeric", "importance": 3.0},
        {"name": "b", "dtype": "numeric", "importance": 1.0}]})
    assert importance_shares(spec, {}) == {"a": 0.75, "b": 0.25}


def test_severity_follows_impact_not_significance() -> None:
    m = Monitoring()
    assert grade(relative_shift=0.0, monitoring=m) == Severity.INFO
    assert grade(relative_shift=-m.page_impact, monitoring=m) == Severity.PAGE
    assert grade(relative_shift=m.warning_impact, monitoring=m) == Severity.WARNING
    assert grade(input_loss=m.page_input_loss, monitoring=m) == Severity.PAGE
    assert grade(relative_shift=float("nan"), monitoring=m) == Severity.INFO
