"""Paired differences: DeLong's correlated AUC variance and the paired bootstraps, against references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from loopwatch.evaluation.paired import paired_auc, paired_rates, paired_value


def _psi(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x > y) + 0.5 * (x == y)


def _delong_by_definition(labels: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """DeLong et al. (1988), eq. for V10/V01 written out pairwise (O(m·n)), to check the midrank form."""
    comps = []
    for s in (a, b):
        pos, neg = s[labels], s[~labels]
        comps.append((_psi(pos[:, None], neg[None, :]).mean(axis=1),
                      _psi(pos[:, None], neg[None, :]).mean(axis=0)))
    s10 = np.cov(np.vstack([comps[0][0], comps[1][0]]))
    s01 = np.cov(np.vstack([comps[0][1], comps[1][1]]))
    contrast = np.array([-1.0, 1.0])
    variance = contrast @ s10 @ contrast / labels.sum() + contrast @ s01 @ contrast / (~labels).sum()
    return float(np.sqrt(variance))


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mann-Whitney's AUC (what roc_auc_score computes, without its per-call overhead)."""
    m, n = labels.sum(), (~labels).sum()
    return float((stats.rankdata(scores)[labels].sum() - m * (m + 1) / 2) / (m * n))


def _correlated(rng: np.random.Generator, n: int, rate: float, shift_a: float, shift_b: float,
                rho: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    labels = rng.random(n) < rate
    noise = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=n)
    return labels, shift_a * labels + noise[:, 0], shift_b * labels + noise[:, 1]


def test_paired_auc_matches_the_pairwise_definition_with_ties() -> None:
    rng = np.random.default_rng(5)
    labels, a, b = _correlated(rng, 600, 0.2, 1.0, 1.3, 0.6)
    a, b = np.round(a, 1), np.round(b, 1)  # many ties
    got = paired_auc(labels, a, b)
    assert got.champion == pytest.approx(roc_auc_score(labels, a), abs=1e-12)
    assert got.challenger == pytest.approx(roc_auc_score(labels, b), abs=1e-12)
    assert got.se == pytest.approx(_delong_by_definition(labels, a, b), rel=1e-9)


def test_paired_auc_standard_error_agrees_with_a_paired_bootstrap() -> None:
    rng = np.random.default_rng(11)
    labels, a, b = _correlated(rng, 3000, 0.1, 1.0, 1.2, 0.7)
    got = paired_auc(labels, a, b)
    draws = []
    for _ in range(300):
        i = rng.integers(0, labels.size, labels.size)
        draws.append(_auc(labels[i], b[i]) - _auc(labels[i], a[i]))
    assert got.se == pytest.approx(float(np.std(draws, ddof=1)), rel=0.15)


def test_paired_auc_interval_covers_the_true_difference_at_its_level() -> None:
    # binormal scores with unit variances: AUC = Phi(shift / sqrt(2)), so the true difference is known
    rng = np.random.default_rng(2026)
    truth = stats.norm.cdf(1.3 / np.sqrt(2)) - stats.norm.cdf(1.0 / np.sqrt(2))
    covered = 0
    runs = 400
    for _ in range(runs):
        labels, a, b = _correlated(rng, 800, 0.15, 1.0, 1.3, 0.5)
        got = paired_auc(labels, a, b, confidence=0.95)
        covered += got.low <= truth <= got.high
    # 95% +- 3 standard errors of a 400-run proportion
    assert 0.917 <= covered / runs <= 0.983


def test_paired_rates_agree_with_scipys_paired_bootstrap() -> None:
    rng = np.random.default_rng(8)
    labels, a, b = _correlated(rng, 1500, 0.15, 1.5, 1.8, 0.6)
    flags_a, flags_b = a >= 1.0, b >= 1.0
    got = paired_rates(labels, flags_a, flags_b, resamples=4000, seed=1)["recall"]

    def recall_difference(y: np.ndarray, fa: np.ndarray, fb: np.ndarray, axis: int = -1) -> np.ndarray:
        pos = y.sum(axis=axis)
        return ((fb & y).sum(axis=axis) - (fa & y).sum(axis=axis)) / pos

    reference = stats.bootstrap((labels, flags_a, flags_b), recall_difference, paired=True,
                                method="percentile", n_resamples=4000, rng=np.random.default_rng(2))
    assert got.difference == pytest.approx(recall_difference(labels, flags_a, flags_b), abs=1e-12)
    assert got.low == pytest.approx(reference.confidence_interval.low, abs=0.012)
    assert got.high == pytest.approx(reference.confidence_interval.high, abs=0.012)


def test_paired_value_agrees_with_scipys_bootstrap_of_the_mean_difference() -> None:
    rng = np.random.default_rng(9)
    n = 2000
    a = np.where(rng.random(n) < 0.05, -rng.lognormal(4, 1, n), 0.0)
    b = np.where(rng.random(n) < 0.3, a, np.where(rng.random(n) < 0.04, -rng.lognormal(4, 1, n), 0.0))
    got = paired_value(a, b, resamples=4000, seed=3)
    reference = stats.bootstrap((b - a,), np.mean, method="percentile", n_resamples=4000,
                                rng=np.random.default_rng(4))
    spread = reference.standard_error
    assert got.difference == pytest.approx(float(np.mean(b - a)), rel=1e-12)
    assert got.low == pytest.approx(reference.confidence_interval.low, abs=0.15 * spread)
    assert got.high == pytest.approx(reference.confidence_interval.high, abs=0.15 * spread)


def test_non_inferiority_p_value_falls_as_the_margin_widens() -> None:
    rng = np.random.default_rng(1)
    labels, a, b = _correlated(rng, 2000, 0.1, 1.2, 1.15, 0.8)
    got = paired_auc(labels, a, b)
    assert got.p_at_most(-0.05) < got.p_at_most(-0.01) < got.p_at_most(0.0)


def test_paired_auc_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="needs both classes; got 0 positives"):
        paired_auc([False, False], [0.1, 0.2], [0.3, 0.4])
