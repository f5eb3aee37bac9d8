"""Cheap-model routing: the band chosen, the report's AUCs against scikit-learn, the paired interval."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from loopwatch.prediction.cascade import Cascade, calibrate_cascade
from loopwatch.prediction.cascade_report import evaluate_cascade, paired_auc_difference
from loopwatch.prediction.models import Model


def scores(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.05
    signal = y * 1.8 + rng.normal(0, 1, n)
    full = 1 / (1 + np.exp(-(signal - 3)))
    cheap = 1 / (1 + np.exp(-(0.7 * signal + rng.normal(0, 0.6, n) - 3)))
    return cheap, full, y


def test_calibrated_band_keeps_the_cheap_decisions_in_agreement_with_the_full_model() -> None:
    cheap, full, _ = scores(50_000, 3)
    low, high = calibrate_cascade(cheap, full, threshold=0.5, agreement=0.995)
    below = cheap < low
    assert below.mean() > 0.5  # most traffic is confidently negative
    assert np.mean(full[below] < 0.5) >= 0.995
    if np.isfinite(high):
        assert np.mean(full[cheap >= high] >= 0.5) >= 0.995
    stricter, _ = calibrate_cascade(cheap, full, threshold=0.5, agreement=0.9999)
    assert stricter <= low


def test_report_aucs_match_scikit_learn_and_the_costs_add_up() -> None:
    cheap, full, y = scores(20_000, 5)
    cascade = Cascade(cheap=Model(predictor=lambda x: x, version="c", features=["x"]), low=0.02)
    report = evaluate_cascade(cascade, cheap=cheap, full=full, labels=y, cost_cheap=1.0, cost_full=10.0,
                              threshold=0.5)
    mixed = np.where(cheap < 0.02, cheap, full)
    expected = [roc_auc_score(y, s) for s in (cheap, full, mixed)]
    assert [p.auc.value for p in report.policies] == pytest.approx(expected, abs=1e-12)
    assert report.routed_share == pytest.approx(np.mean(cheap < 0.02))
    assert report.policies[2].cost_per_decision == pytest.approx(1.0 + 10.0 * (1 - report.routed_share))
    assert report.cost_change == pytest.approx(report.policies[2].cost_per_decision - 10.0)
    diff, low, high = report.auc_change
    assert diff == pytest.approx(expected[2] - expected[1]) and low < diff < high


def test_paired_interval_matches_a_paired_bootstrap_and_covers_in_simulation() -> None:
    cheap, full, y = scores(8_000, 11)
    _, low, high = paired_auc_difference(cheap, full, y)
    rng = np.random.default_rng(0)
    boot = []
    for _ in range(300):
        i = rng.integers(0, y.size, y.size)
        boot.append(roc_auc_score(y[i], cheap[i]) - roc_auc_score(y[i], full[i]))
    assert (high - low) / 2 / 1.96 == pytest.approx(np.std(boot), rel=0.2)
    # coverage of the true difference over fresh samples of one population
    big_c, big_f, big_y = scores(400_000, 99)
    truth = roc_auc_score(big_y, big_c) - roc_auc_score(big_y, big_f)
    hits = 0
    for seed in range(200):
        i = np.random.default_rng(seed).integers(0, big_y.size, 3_000)
        _, lo, hi = paired_auc_difference(big_c[i], big_f[i], big_y[i])
        hits += lo <= truth <= hi
    assert 180 <= hits <= 198  # 95% nominal; 200 draws: about ±3 standard errors
