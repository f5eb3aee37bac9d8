"""Multiple-testing control: Benjamini–Hochberg by scipy, checked against the step-up rule itself; Cohen's
kappa's interval against the delta method and by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from loopwatch.core.intervals import adjusted_p_values, benjamini_hochberg, kappa_interval


def step_up(p_values: list[float], fdr: float) -> list[bool]:
    """Benjamini & Hochberg (1995): reject the k smallest, k the largest with p_(k) <= k fdr / m."""
    tested = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    m = len(tested)
    k = max((rank for rank, (p, _) in enumerate(tested, start=1) if p <= rank * fdr / m), default=0)
    rejected = {i for _, i in tested[:k]}
    return [i in rejected for i in range(len(p_values))]


p_value = st.one_of(st.floats(min_value=0.0, max_value=1.0), st.just(math.nan))


@given(st.lists(p_value, max_size=60), st.sampled_from([0.01, 0.05, 0.1, 0.2]))
def test_rejections_are_those_of_the_step_up_rule(p_values: list[float], fdr: float) -> None:
    assert benjamini_hochberg(p_values, fdr=fdr) == step_up(p_values, fdr)


@given(st.lists(p_value, min_size=1, max_size=60))
def test_q_values_are_scipys_with_nan_left_out_and_never_below_the_p_value(p_values: list[float]) -> None:
    q = np.array(adjusted_p_values(p_values))
    p = np.array(p_values)
    valid = ~np.isnan(p)
    assert np.array_equal(np.isnan(q), ~valid)
    if valid.any():
        np.testing.assert_allclose(q[valid], stats.false_discovery_control(p[valid]), rtol=1e-12)
        assert np.all(q[valid] >= p[valid] - 1e-15) and np.all(q[valid] <= 1.0)


def test_fdr_is_controlled_by_simulation() -> None:
    """900 true nulls and 100 real effects, 400 times: the share of false rejections averages
    at most the FDR (its expectation is fdr * m0 / m = 4.5%)."""
    rng = np.random.default_rng(7)
    shares = []
    for _ in range(400):
        null = rng.uniform(size=900)
        effect = stats.norm.sf(rng.normal(3.0, 1.0, size=100))
        rejected = np.array(benjamini_hochberg([*null, *effect], fdr=0.05))
        found = rejected.sum()
        shares.append(rejected[:900].sum() / found if found else 0.0)
    mean = float(np.mean(shares))
    assert mean <= 0.05 + 3 * float(np.std(shares)) / math.sqrt(len(shares))
    assert mean > 0.02  # and it does reject: the procedure is not trivially conservative


def test_fdr_outside_zero_one_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"fdr must be in \(0, 1\); got 1.5"):
        benjamini_hochberg([0.01], fdr=1.5)


def _kappa_of(p: np.ndarray) -> float:
    rows, cols = p.sum(axis=1), p.sum(axis=0)
    chance = float(rows @ cols)
    return (float(np.trace(p)) - chance) / (1 - chance)


def test_kappa_standard_error_is_the_multinomial_delta_method_and_matches_scikit_learn() -> None:
    from sklearn.metrics import cohen_kappa_score

    for table in ([[40, 10], [5, 45]], [[8, 3], [12, 377]], [[20, 5, 2], [3, 30, 4], [1, 6, 29]]):
        counts = np.asarray(table, dtype=float)
        n, k = counts.sum(), counts.shape[0]
        kappa, low, high = kappa_interval(table)
        rater_a, rater_b = np.divmod(np.arange(k * k), k)
        assert kappa == pytest.approx(cohen_kappa_score(rater_a, rater_b, sample_weight=counts.ravel()))
        # reference: the delta method on the multinomial cell shares, with a numerical gradient
        p = counts.ravel() / n
        gradient = np.zeros(k * k)
        for i in range(k * k):
            step = np.zeros(k * k)
            step[i] = 1e-6
            gradient[i] = (_kappa_of((p + step).reshape(k, k)) - _kappa_of((p - step).reshape(k, k))) / 2e-6
        se = math.sqrt(gradient @ (np.diag(p) - np.outer(p, p)) @ gradient / n)
        assert (high - low) / 2 == pytest.approx(stats.norm.ppf(0.975) * se, rel=1e-5)


def test_kappa_interval_covers_the_population_kappa_by_simulation() -> None:
    cells = np.array([0.06, 0.02, 0.04, 0.88])  # review × truth: a rare positive class, kappa 0.69
    truth = _kappa_of(cells.reshape(2, 2))
    rng = np.random.default_rng(4)
    runs, covered = 600, 0
    for _ in range(runs):
        _, low, high = kappa_interval(rng.multinomial(600, cells).reshape(2, 2))
        covered += low <= truth <= high
    assert 0.93 <= covered / runs <= 0.97


def test_kappa_interval_edge_cases() -> None:
    assert kappa_interval([[30, 0], [0, 20]]) == (1.0, 1.0, 1.0)  # perfect agreement: no spread
    assert all(math.isnan(v) for v in kappa_interval([[0, 0], [0, 50]]))  # one class on both sides
    assert all(math.isnan(v) for v in kappa_interval([[0, 0], [0, 0]]))
    with pytest.raises(ValueError, match="square"):
        kappa_interval([[1, 2, 3]])
