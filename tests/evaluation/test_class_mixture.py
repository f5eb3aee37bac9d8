"""The two-class interval of a per-row mean: Wilson's where classes are uniform, its level by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from loopwatch.core.intervals import wilson
from loopwatch.evaluation.class_mixture import ClassMoments, mixture_mean_interval

Z = 1.959963984540054


def test_without_spread_within_classes_it_is_the_wilson_interval_of_the_share_mapped_to_the_mean() -> None:
    # every negative costs 0.2, every positive 3.0: the mean is 0.2 + 2.8·share
    low, high = mixture_mean_interval(ClassMoments(rows=950, total=190.0, squares=38.0),
                                      ClassMoments(rows=50, total=150.0, squares=450.0), z=Z)
    w_low, w_high = wilson(50, 1000, confidence=0.95)
    assert (low, high) == pytest.approx((0.2 + 2.8 * w_low, 0.2 + 2.8 * w_high), rel=1e-9)


def test_equal_class_means_leave_the_normal_interval_of_the_spread() -> None:
    low, high = mixture_mean_interval(ClassMoments(rows=90, total=90.0, squares=180.0),
                                      ClassMoments(rows=10, total=10.0, squares=20.0), z=Z)
    half = Z * math.sqrt((0.1 * 10 / 9 + 0.9 * 90 / 89) / 100)
    assert (low, high) == pytest.approx((1 - half, 1 + half))


def moments(values: np.ndarray) -> ClassMoments:
    return ClassMoments(rows=float(values.size), total=float(values.sum()), squares=float(values @ values))


def test_covers_a_skewed_two_class_mean_about_95_percent_with_few_positives() -> None:
    # 1% positives whose loss is Gamma(2, 1.5) (mean 3), negatives' Gamma(1, 0.05) (mean 0.05);
    # windows of 2,500 decisions (about 25 positives); 1,000 windows, binomial sd 0.7 points
    rng = np.random.default_rng(11)
    truth = 0.01 * 3.0 + 0.99 * 0.05
    covered = normal_covered = 0
    for _ in range(1000):
        y = rng.random(2500) < 0.01
        loss = np.where(y, rng.gamma(2.0, 1.5, y.size), rng.gamma(1.0, 0.05, y.size))
        if y.sum() < 2:
            continue
        low, high = mixture_mean_interval(moments(loss[~y]), moments(loss[y]), z=Z)
        covered += low <= truth <= high
        half = Z * loss.std(ddof=1) / math.sqrt(loss.size)
        normal_covered += abs(loss.mean() - truth) <= half
    assert 0.935 <= covered / 1000 <= 0.965, covered
    assert normal_covered < covered  # the normal interval misses more (too low when positives are few)


def test_with_the_spread_as_drawn_covers_a_value_that_is_a_gain_or_a_loss_per_positive() -> None:
    # 1% positives worth +v when caught (30%) and -(25 + v) when missed, v ~ Gamma(2, 60);
    # negatives cost 15 when flagged (2%); windows of 2,500 decisions reported from 25 positives,
    # where the windows that draw more positives also lose more: the normal interval is too wide there
    rng = np.random.default_rng(5)
    mean_v = 120.0
    truth = 0.01 * (0.3 * mean_v - 0.7 * (25 + mean_v)) - 0.99 * 0.02 * 15
    tally = {"drawn": 0, "normal": 0, "windows": 0}
    for _ in range(3000):
        y = rng.random(2500) < 0.01
        if min(y.sum(), (~y).sum()) < 25:
            continue
        v = rng.gamma(2.0, 60.0, y.size)
        x = np.where(y, np.where(rng.random(y.size) < 0.3, v, -(25 + v)),
                     np.where(rng.random(y.size) < 0.02, -15.0, 0.0))
        z = float(stats.t.ppf(0.975, y.sum() - 1))
        low, high = mixture_mean_interval(moments(x[~y]), moments(x[y]), z=z, within="drawn")
        tally["drawn"] += low <= truth <= high
        tally["normal"] += abs(x.mean() - truth) <= Z * x.std(ddof=1) / math.sqrt(x.size)
        tally["windows"] += 1
    k = tally["windows"]
    assert k > 1200
    assert 0.935 <= tally["drawn"] / k <= 0.965, tally
    assert tally["normal"] / k > 0.965, tally  # the interval it replaces for the business value


def test_inputs_are_checked() -> None:
    with pytest.raises(ValueError, match="both classes need rows"):
        mixture_mean_interval(ClassMoments(rows=0, total=0, squares=0),
                              ClassMoments(rows=3, total=1, squares=1), z=Z)
    with pytest.raises(ValueError, match="rows must be >= 0"):
        ClassMoments(rows=-1, total=0.0, squares=0.0)
    with pytest.raises(ValueError, match="within must be 'share' or 'drawn'"):
        mixture_mean_interval(ClassMoments(rows=3, total=1, squares=1),
                              ClassMoments(rows=3, total=1, squares=1), z=Z, within="both")  # type: ignore[arg-type]
