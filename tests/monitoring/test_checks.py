"""Building blocks of the built-in checks, against direct computations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from loopwatch.core.profile import latency_edges
from loopwatch.core.window import Window
from loopwatch.monitoring.significance import two_means, two_proportions
from loopwatch.monitoring.system import latency_quantile
from loopwatch.monitoring.volume import VolumeCheck, expected_count
from loopwatch.plugins import Registry

DAY = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday


def test_latency_quantile_bounds_the_raw_percentile_from_above_within_one_bin() -> None:
    rng = np.random.default_rng(1)
    latency = rng.lognormal(3, 1, 50_000)
    edges = latency_edges()
    counts = np.bincount(np.searchsorted(edges, latency, side="right"), minlength=len(edges) + 1)
    for q in (0.5, 0.95, 0.99):
        raw = float(np.percentile(latency, 100 * q))
        bound = latency_quantile(counts, edges, q)
        assert raw <= bound <= raw * 10 ** (1 / 8) * 1.0001  # 8 bins a decade


def test_expected_count_uses_the_same_weekday_when_the_baseline_allows() -> None:
    # weekdays 100 decisions, weekends 40: a Monday is expected at 100, not at the weekly mean
    counts = {DAY - timedelta(days=k): (40 if (DAY - timedelta(days=k)).weekday() >= 5 else 100)
              for k in range(1, 29)}
    expected, spread, samples = expected_count(counts, Window(DAY, DAY + timedelta(days=1)),
                                               Window(DAY - timedelta(days=28), DAY))
    assert (expected, spread, samples) == (100.0, 0.0, 4)


def test_expected_count_falls_back_to_previous_days_on_a_short_baseline() -> None:
    counts = {DAY - timedelta(days=k): 50 + k for k in range(1, 8)}
    expected, _, samples = expected_count(counts, Window(DAY, DAY + timedelta(days=1)),
                                          Window(DAY - timedelta(days=7), DAY))
    assert samples == 7 and expected == pytest.approx(np.mean([50 + k for k in range(1, 8)]))


def test_two_proportions_matches_the_pooled_z_test() -> None:
    from scipy import stats

    x1, n1, x2, n2 = 30, 400, 18, 380
    p = (x1 + x2) / (n1 + n2)
    z = (x1 / n1 - x2 / n2) / np.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    assert two_proportions(x1, n1, x2, n2) == pytest.approx(2 * stats.norm.sf(abs(z)))


def test_two_means_agrees_with_welch_on_large_samples() -> None:
    from scipy import stats

    rng = np.random.default_rng(2)
    a, b = rng.normal(0.0, 1, 5000), rng.normal(0.05, 2, 4000)
    p, _ = two_means(a.mean(), a.var(ddof=1), a.size, b.mean(), b.var(ddof=1), b.size)
    assert p == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue, rel=0.01)


def test_check_parameters_are_validated_with_the_value_received() -> None:
    with pytest.raises(ValueError, match=r"spike_ratio must be > 1; got 0\.5"):
        VolumeCheck(spike_ratio=0.5)


def test_a_registry_refuses_two_items_under_one_name() -> None:
    registry: Registry[type] = Registry("check", group="loopwatch.test-none")
    registry.register("a")(int)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("a")(float)
