"""Metrics from binned histograms agree with scikit-learn on the raw rows; DeLong with its definition."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
from scipy import stats
from sklearn import metrics as skm

from loopwatch.core.intervals import wilson
from loopwatch.core.profile import score_bin, score_edges
from loopwatch.core.spec import ValueModel
from loopwatch.evaluation.bins import ScoreBins
from loopwatch.evaluation.calibration import expected_calibration_error, reliability_curve
from loopwatch.evaluation.metrics import (
    AUC_PRIOR,
    MIN_CLASS_ROWS,
    Metric,
    base_rate,
    brier_score,
    decision_rate,
    delong,
    false_positive_rate,
    label_coverage,
    log_loss,
    precision,
    recall,
    roc_auc,
)
from loopwatch.evaluation.value import business_value

Rows = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]


def raw_rows(n: int, seed: int, *, decimals: int | None = None) -> Rows:
    """Labels and scores of a fraud-like model: 8% positives, overlapping score distributions."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.08).astype(np.int64)
    scores = np.where(y == 1, rng.beta(4, 2, n), rng.beta(1.5, 5, n))
    if decimals is not None:
        scores = np.clip(np.round(scores, decimals), 10.0**-decimals, 1 - 10.0**-decimals)
    return y, scores


def histogram(y: npt.NDArray[np.int64], bin_of_row: npt.NDArray[np.int64], n_bins: int,
              unlabelled: npt.NDArray[np.int64] | None = None) -> npt.NDArray[np.int64]:
    rows = y.copy() if unlabelled is None else np.where(unlabelled == 1, 2, y)
    return np.bincount(rows * n_bins + bin_of_row, minlength=3 * n_bins).reshape(3, n_bins)


def uniform(y: npt.NDArray[np.int64], scores: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.int64],
                                                                                ScoreBins]:
    edges = score_edges(None, 0.0, 1.0)
    return histogram(y, score_bin(scores, edges), len(edges) + 1), ScoreBins.from_edges(edges)


def exact(y: npt.NDArray[np.int64], scores: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.int64],
                                                                              ScoreBins]:
    distinct = sorted(set(scores.tolist()))
    assert len(distinct) <= 1000
    edges = score_edges(distinct, min(distinct), max(distinct))
    return (histogram(y, score_bin(scores, edges), len(edges) + 1),
            ScoreBins.from_edges(edges, lowest=distinct[0]))


@pytest.mark.parametrize(("make_bins", "decimals", "tolerance"),
                         [(uniform, None, 1e-3), (exact, 2, 1e-9), (exact, 3, 1e-9)])
@pytest.mark.parametrize("threshold", [0.3, 0.5])
def test_point_estimates_equal_scikit_learn_on_the_raw_rows(
        make_bins: Callable[..., tuple[npt.NDArray[np.int64], ScoreBins]], decimals: int | None,
        tolerance: float, threshold: float) -> None:
    y, scores = raw_rows(20_000, seed=3, decimals=decimals)
    by_label, bins = make_bins(y, scores)
    decided = (scores >= threshold).astype(np.int64)
    tn, fp, _, _ = skm.confusion_matrix(y, decided).ravel()
    assert roc_auc(by_label).value == pytest.approx(skm.roc_auc_score(y, scores), abs=tolerance)
    assert precision(by_label, bins=bins, threshold=threshold).value == pytest.approx(
        skm.precision_score(y, decided), abs=tolerance)
    assert recall(by_label, bins=bins, threshold=threshold).value == pytest.approx(
        skm.recall_score(y, decided), abs=tolerance)
    assert false_positive_rate(by_label, bins=bins, threshold=threshold).value == pytest.approx(
        fp / (fp + tn), abs=tolerance)
    assert brier_score(by_label, bins=bins).value == pytest.approx(
        skm.brier_score_loss(y, scores), abs=tolerance)
    assert log_loss(by_label, bins=bins).value == pytest.approx(skm.log_loss(y, scores), abs=tolerance)


def direct_delong(positives: npt.NDArray[np.float64],
                  negatives: npt.NDArray[np.float64]) -> tuple[float, float]:
    """DeLong et al. (1988) as written: the placement of every pair, O(n_pos · n_neg)."""
    psi = (positives[:, None] > negatives[None, :]) + 0.5 * (positives[:, None] == negatives[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return float(psi.mean()), float(v10.var(ddof=1) / positives.size + v01.var(ddof=1) / negatives.size)


@pytest.mark.parametrize("decimals", [None, 1])
def test_delong_variance_from_bins_equals_the_pairwise_definition(decimals: int | None) -> None:
    rng = np.random.default_rng(4)
    positives, negatives = rng.normal(1.0, 1.0, 37), rng.normal(0.0, 1.0, 61)
    if decimals is not None:  # many ties: the binned placements must count them 1/2 as well
        positives, negatives = np.round(positives, decimals), np.round(negatives, decimals)
    y = np.r_[np.ones(positives.size, np.int64), np.zeros(negatives.size, np.int64)]
    by_label, _ = exact(y, np.r_[positives, negatives])
    auc, variance = delong(by_label)
    expected_auc, expected_variance = direct_delong(positives, negatives)
    assert auc == pytest.approx(expected_auc, rel=1e-12)
    assert variance == pytest.approx(expected_variance, rel=1e-10)


def test_proportions_carry_the_wilson_interval_of_their_counts() -> None:
    y, scores = raw_rows(3000, seed=5)
    by_label, bins = uniform(y, scores)
    flagged = scores >= 0.5
    tp, fp = int(np.sum(flagged & (y == 1))), int(np.sum(flagged & (y == 0)))
    m = precision(by_label, bins=bins, threshold=0.5, confidence=0.9)
    assert (m.low, m.high) == pytest.approx(wilson(tp, tp + fp, confidence=0.9))
    assert m.n == tp + fp
    r = recall(by_label, bins=bins, threshold=0.5)
    assert (r.low, r.high) == pytest.approx(wilson(tp, int(y.sum())))
    b = base_rate(by_label)
    assert b.value == pytest.approx(y.mean()) and b.n == y.size


def test_decision_rate_and_label_coverage_count_every_decision() -> None:
    rng = np.random.default_rng(6)
    y, scores = raw_rows(4000, seed=6)
    edges = score_edges(None, 0.0, 1.0)
    actions = np.where(scores >= 0.8, 2, np.where(scores >= 0.5, 1, 0))
    actions[rng.random(y.size) < 0.05] = 3  # an action the reference did not know: "other"
    by_action = np.bincount(actions * 1000 + score_bin(scores, edges), minlength=4000).reshape(4, 1000)
    rate = decision_rate(by_action, positive_rows=[1, 2])
    assert rate.value == pytest.approx(np.isin(actions, [1, 2]).mean())
    unlabelled = (rng.random(y.size) < 0.3).astype(np.int64)
    by_label = histogram(y, score_bin(scores, edges), 1000, unlabelled)
    coverage = label_coverage(by_label)
    assert coverage.value == pytest.approx(1 - unlabelled.mean()) and coverage.n == y.size
    assert roc_auc(by_label).n == y.size - unlabelled.sum()


def test_loss_interval_inverts_the_two_class_test_at_both_ends() -> None:
    y, scores = raw_rows(2000, seed=7, decimals=2)
    by_label, bins = exact(y, scores)
    losses = (scores - y) ** 2
    m = brier_score(by_label, bins=bins)
    assert m.value == pytest.approx(losses.mean())
    n, p = y.size, y.mean()
    # Student's t with min(positives, negatives) - 1 degrees of freedom
    z = stats.t.ppf(0.975, min(y.sum(), n - y.sum()) - 1)
    m0, m1 = losses[y == 0].mean(), losses[y == 1].mean()
    v0, v1 = losses[y == 0].var(ddof=1), losses[y == 1].var(ddof=1)
    for end in (m.low, m.high):
        q = (end - m0) / (m1 - m0)  # the class share that end stands for
        assert (p - q) ** 2 * (m1 - m0) ** 2 == pytest.approx(
            z * z / n * (q * (1 - q) * (m1 - m0) ** 2 + q * v1 + (1 - q) * v0), rel=1e-6)
    # wider below than above where positives are rare and costly: the share of positives is the doubt
    assert m.value - m.low < m.high - m.value


def test_losses_below_the_floor_of_either_class_are_not_enough_data() -> None:
    bins = ScoreBins.from_edges((0.5,), lowest=0.1)
    thin = log_loss([[900, 100], [10, MIN_CLASS_ROWS - 11]], bins=bins)
    assert thin.status == "not_enough_data" and math.isnan(thin.low) and math.isfinite(thin.value)
    assert thin.reason == f"{MIN_CLASS_ROWS - 1} labelled positives; an interval needs {MIN_CLASS_ROWS}"
    assert log_loss([[900, 100], [10, MIN_CLASS_ROWS - 10]], bins=bins).status == "ok"


def test_auc_interval_stays_inside_zero_one_and_is_not_degenerate_under_complete_separation() -> None:
    perfect = roc_auc([[300, 0], [0, 30]])
    assert perfect.value == 1.0 and 0.8 < perfect.low < 1.0 and perfect.high == 1.0
    near = roc_auc([[500, 10, 0], [0, 1, 30]])
    assert 0 < near.low < near.value <= near.high <= 1


def test_auc_below_the_floor_of_either_class_is_not_enough_data_with_its_value() -> None:
    few_positives = roc_auc([[400, 80, 20], [2, 8, MIN_CLASS_ROWS - 11]])
    assert few_positives.status == "not_enough_data" and math.isnan(few_positives.low)
    assert few_positives.value == pytest.approx((2 * 200 + 8 * 440 + 14 * 490) / (24 * 500))
    assert few_positives.reason == "24 labelled positives; an interval needs 25"
    few_negatives = roc_auc([[5, 5, 5], [100, 200, 300]])
    assert few_negatives.status == "not_enough_data" and "negatives" in few_negatives.reason
    enough = roc_auc([[400, 80, 20], [2, 8, MIN_CLASS_ROWS - 10]])
    assert enough.status == "ok" and enough.low < enough.value < enough.high


def test_auc_interval_is_the_credible_interval_of_the_posterior_by_simulation() -> None:
    # the saddlepoint interval against 40,000 draws of the Dirichlet posterior it approximates
    rng = np.random.default_rng(8)
    neg = rng.multinomial(3000, np.full(20, 1 / 20)).astype(np.float64)
    rising = np.linspace(0.01, 0.09, 20)
    pos = rng.multinomial(40, rising / rising.sum()).astype(np.float64)
    m = roc_auc([neg, pos])
    a, b = pos + AUC_PRIOR * neg / neg.sum(), neg + AUC_PRIOR * pos / pos.sum()
    p, q = rng.dirichlet(a, size=40_000), rng.dirichlet(b, size=40_000)
    draws = (p * (np.cumsum(q, axis=1) - q / 2)).sum(axis=1)
    low, high = np.quantile(draws, [0.025, 0.975])
    assert m.low == pytest.approx(low, abs=2e-3) and m.high == pytest.approx(high, abs=2e-3)


EMPTY_CASES = {
    "empty window": np.zeros((3, 1000), np.int64),
    "no positives": np.vstack([np.full(1000, 3), np.zeros(1000), np.full(1000, 1)]).astype(np.int64),
    "no negatives": np.vstack([np.zeros(1000), np.full(1000, 2), np.zeros(1000)]).astype(np.int64),
    "unlabelled only": np.vstack([np.zeros(1000), np.zeros(1000), np.full(1000, 5)]).astype(np.int64),
}


@pytest.mark.parametrize("case", list(EMPTY_CASES))
def test_undefined_metrics_are_nan_and_never_raise(case: str) -> None:
    by_label = EMPTY_CASES[case]
    bins = ScoreBins.from_edges(score_edges(None, 0.0, 1.0))
    results = [roc_auc(by_label), recall(by_label, bins=bins, threshold=0.5),
               false_positive_rate(by_label, bins=bins, threshold=0.5)]
    assert any(math.isnan(m.value) and math.isnan(m.low) and math.isnan(m.high) for m in results)
    for m in [*results, precision(by_label, bins=bins, threshold=2.0), base_rate(by_label),
              brier_score(by_label, bins=bins), log_loss(by_label, bins=bins), label_coverage(by_label),
              decision_rate(np.zeros((2, 1000)), positive_rows=[0])]:
        assert isinstance(m, Metric)
        assert math.isnan(m.value) or m.status == "not_enough_data" or m.low <= m.value <= m.high


def test_metric_serialises_nan_as_null() -> None:
    assert Metric.undefined("roc_auc", n=0).to_dict() == {
        "name": "roc_auc", "value": None, "low": None, "high": None, "n": 0, "status": "undefined",
        "reason": None}
    with pytest.raises(ValueError, match="status must be one of ok, not_enough_data, undefined; got 'thin'"):
        Metric("roc_auc", 0.9, 0.8, 0.95, 100, "thin")  # type: ignore[arg-type]


def test_invalid_inputs_say_what_was_received_and_what_was_expected() -> None:
    bins = ScoreBins.from_edges((0.5,), lowest=0.1)
    with pytest.raises(ValueError, match=r"by_label must have shape \(2 or 3, bins\).*got shape \(4,\)"):
        roc_auc([1, 2, 3, 4])
    with pytest.raises(ValueError, match="non-negative counts"):
        roc_auc([[1, -1], [0, 2]])
    with pytest.raises(ValueError, match="by_label has 3 score bins but bins has 2"):
        precision([[1, 1, 1], [1, 1, 1]], bins=bins, threshold=0.5)
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\); got 95"):
        roc_auc([[1, 1], [1, 1]], confidence=95)
    with pytest.raises(ValueError, match=r"positive_rows must index the 2 rows of by_action; got \[2\]"):
        decision_rate([[1, 1], [1, 1]], positive_rows=[2])
    with pytest.raises(ValueError, match=r"eps must be in \(0, 0.5\); got 0.5"):
        log_loss([[1, 1], [1, 1]], bins=bins, eps=0.5)


def test_every_metric_refuses_a_confidence_outside_zero_one() -> None:
    bins = ScoreBins.from_edges((0.5,), lowest=0.1)
    counts = [[4, 1], [1, 4]]
    calls: list[Callable[[float], object]] = [
        lambda c: roc_auc(counts, confidence=c),
        lambda c: precision(counts, bins=bins, threshold=0.5, confidence=c),
        lambda c: recall(counts, bins=bins, threshold=0.5, confidence=c),
        lambda c: false_positive_rate(counts, bins=bins, threshold=0.5, confidence=c),
        lambda c: base_rate(counts, confidence=c),
        lambda c: label_coverage(counts, confidence=c),
        lambda c: decision_rate(counts, positive_rows=[1], confidence=c),
        lambda c: brier_score(counts, bins=bins, confidence=c),
        lambda c: log_loss(counts, bins=bins, confidence=c),
        lambda c: expected_calibration_error(counts, bins=bins, confidence=c),
        lambda c: reliability_curve(counts, bins=bins, confidence=c),
        lambda c: business_value(counts, bins=bins, threshold=0.5, model=ValueModel(false_positive=1),
                                 confidence=c),
    ]
    for call in calls:
        assert call(0.9) is not None
        for bad in (0.0, 1.0, 95.0):
            with pytest.raises(ValueError, match=rf"confidence must be in \(0, 1\); got {bad}"):
                call(bad)
