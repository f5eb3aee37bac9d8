"""Business value from (label, score bin) sums equals the sum over decisions; the spec's value block."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from scipy import optimize

from loopwatch.core.profile import score_bin, score_edges
from loopwatch.core.spec import ValueModel, load_spec, spec_from_mapping
from loopwatch.errors import SpecError
from loopwatch.evaluation.bins import ScoreBins
from loopwatch.evaluation.metrics import MIN_CLASS_ROWS, small_sample_quantile
from loopwatch.evaluation.value import business_value

EXAMPLE = Path(__file__).parents[2] / "src" / "loopwatch" / "cli" / "example_spec.yaml"
MODEL = ValueModel(true_positive=2.0, true_positive_value_share=0.9, false_positive=12.0,
                   false_negative=25.0, false_negative_value_share=0.8)


def two_class_total(x: npt.NDArray[np.float64], positive: npt.NDArray[np.bool_],
                    z: float) -> tuple[float, float]:
    """The totals ``n·(m0 + q·D)`` at the shares ``q`` where
    ``(p - q)²D² = z²/n·[q(1-q)D² + p·s1² + (1-p)·s0²]``, found by root-finding on the decisions
    written out (the library solves the quadratic)."""
    n, p = x.size, positive.mean()
    m0, m1 = x[~positive].mean(), x[positive].mean()
    d = m1 - m0
    within = p * x[positive].var(ddof=1) + (1 - p) * x[~positive].var(ddof=1)

    def gap(q: float) -> float:
        return float((p - q) ** 2 * d * d - z * z / n * (q * (1 - q) * d * d + within))

    ends = [optimize.brentq(gap, p - 10, p, xtol=1e-14), optimize.brentq(gap, p, p + 10, xtol=1e-14)]
    totals = sorted(n * (m0 + q * d) for q in ends)
    return totals[0], totals[1]


def decisions(n: int, seed: int) -> dict[str, npt.NDArray[Any]]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(np.int64)
    scores = np.clip(rng.normal(0.3 + 0.35 * y, 0.2), 0, 1)
    labelled = rng.random(n) < 0.85
    return {"y": y, "score": scores, "labelled": labelled, "value": rng.lognormal(4, 1, n)}


def profile_arrays(rows: dict[str, npt.NDArray[Any]],
                   edges: tuple[float, ...]) -> tuple[npt.NDArray[Any], ...]:
    n_bins = len(edges) + 1
    label_row = np.where(rows["labelled"], rows["y"], 2)
    cell = label_row * n_bins + score_bin(rows["score"], edges)
    value = np.where(rows["labelled"], rows["value"], 0.0)

    def table(weights: npt.NDArray[np.float64] | None) -> npt.NDArray[Any]:
        return np.bincount(cell, weights=weights, minlength=3 * n_bins).reshape(3, n_bins)

    return table(None), table(value), table(value**2)


def contributions(rows: dict[str, npt.NDArray[Any]], threshold: float) -> dict[str, npt.NDArray[np.float64]]:
    """What each labelled decision is worth, written out per decision."""
    keep = rows["labelled"]
    y, flagged, v = rows["y"][keep], rows["score"][keep] >= threshold, rows["value"][keep]
    m = MODEL
    prevented = np.where((y == 1) & flagged, m.true_positive + m.true_positive_value_share * v, 0.0)
    cost = np.where((y == 0) & flagged, m.false_positive, 0.0)
    lost = np.where((y == 1) & ~flagged, m.false_negative + m.false_negative_value_share * v, 0.0)
    return {"value": prevented - cost - lost, "value_prevented": prevented,
            "value_false_positive_cost": cost, "value_lost": lost}


@pytest.mark.parametrize("threshold", [0.4, 0.6])
def test_value_and_its_parts_equal_the_sum_over_decisions_with_a_two_class_interval(threshold: float) -> None:
    rows = decisions(5000, seed=1)
    edges = score_edges(None, 0.0, 1.0)
    counts, value_sum, value_sq = profile_arrays(rows, edges)
    result = business_value(counts, bins=ScoreBins.from_edges(edges), threshold=threshold, model=MODEL,
                            value_sum=value_sum, value_sq=value_sq)
    expected = contributions(rows, threshold)
    metrics = result.metrics()
    for name, per_decision in expected.items():
        assert metrics[name].value == pytest.approx(per_decision.sum(), rel=1e-9)
        assert metrics[name].n == per_decision.size
    keep = rows["labelled"]
    positive = rows["y"][keep] == 1
    z = small_sample_quantile(0.95, float(min(positive.sum(), (~positive).sum())))
    for name in ("value", "value_prevented", "value_lost"):
        x = expected[name]
        assert (metrics[name].low, metrics[name].high) == pytest.approx(two_class_total(x, positive, z),
                                                                        rel=1e-6)
        # with about 400 positives it is close to the normal interval Σx ± z·√(n·s²)
        half = z * math.sqrt(x.size * x.var(ddof=1))
        assert metrics[name].high - metrics[name].low == pytest.approx(2 * half, rel=0.02)
    flagged = rows["score"][keep] >= threshold
    assert result.false_positives == np.sum(flagged & (rows["y"][keep] == 0))
    assert result.true_positives == np.sum(flagged & (rows["y"][keep] == 1))
    assert result.false_negatives == np.sum(~flagged & (rows["y"][keep] == 1))
    cost = metrics["value_false_positive_cost"]
    assert cost.low < cost.value < cost.high


def test_without_outcome_values_only_the_fixed_amounts_count() -> None:
    bins = ScoreBins.from_edges((0.5,), lowest=0.1)
    result = business_value([[90, 10], [5, 20]], bins=bins, threshold=0.5, model=MODEL)
    assert result.prevented.value == 2.0 * 20
    assert result.false_positive_cost.value == 12.0 * 10
    assert result.lost.value == 25.0 * 5
    assert result.net.value == 40 - 120 - 125


def test_an_empty_window_has_nan_value_and_no_exception() -> None:
    bins = ScoreBins.from_edges(score_edges(None, 0.0, 1.0))
    empty = np.zeros((3, 1000))
    result = business_value(empty, bins=bins, threshold=0.5, model=MODEL, value_sum=empty, value_sq=empty)
    assert all(math.isnan(m.value) and math.isnan(m.low) for m in result.metrics().values())
    assert result.true_positives == result.false_positives == result.false_negatives == 0


def test_value_sums_of_another_shape_are_refused_with_the_shape() -> None:
    bins = ScoreBins.from_edges((0.5,), lowest=0.1)
    with pytest.raises(ValueError, match=r"value_sum must have the shape of by_label, \(2 or 3, 2\); "
                                         r"got shape \(2, 3\)"):
        business_value([[1, 1], [1, 1]], bins=bins, threshold=0.5, model=MODEL, value_sum=np.zeros((2, 3)))


def minimal(**extra: Any) -> dict[str, Any]:
    return {"model": "m", "features": [{"name": "amount", "dtype": "numeric"}], **extra}


def test_the_value_block_is_optional_and_validated_with_key_paths() -> None:
    assert spec_from_mapping(minimal()).value is None
    spec = spec_from_mapping(minimal(value={"false_positive": 15}))
    assert spec.value == ValueModel(false_positive=15.0)
    with pytest.raises(SpecError, match=r"value\.false_positive: required key is missing"):
        spec_from_mapping(minimal(value={"true_positive": 1}))
    with pytest.raises(SpecError, match=r"value\.false_negative: .*greater than or equal to 0.*got -5"):
        spec_from_mapping(minimal(value={"false_positive": 1, "false_negative": -5}))
    with pytest.raises(SpecError,
                       match=r"value\.true_positive_value_share: .*less than or equal to 1.*got 1\.5"):
        spec_from_mapping(minimal(value={"false_positive": 1, "true_positive_value_share": 1.5}))
    with pytest.raises(SpecError, match=r"value\.false_postive: unknown key; did you mean 'false_positive'"):
        spec_from_mapping(minimal(value={"false_postive": 1}))


def test_example_spec_declares_a_card_fraud_value_model() -> None:
    value = load_spec(EXAMPLE).value
    assert value is not None and value.false_positive > 0
    assert 0 < value.true_positive_value_share <= 1


def test_value_resting_on_fewer_positives_than_the_floor_has_no_interval() -> None:
    bins = ScoreBins.from_edges((0.5,), lowest=0.1)
    thin = business_value([[900, 10], [5, MIN_CLASS_ROWS - 6]], bins=bins, threshold=0.5, model=MODEL)
    assert thin.net.status == "not_enough_data" and math.isnan(thin.net.low)
    assert thin.net.value == 2.0 * (MIN_CLASS_ROWS - 6) - 12.0 * 10 - 25.0 * 5
    assert thin.net.reason == f"{MIN_CLASS_ROWS - 1} labelled positives; an interval needs {MIN_CLASS_ROWS}"
    assert thin.lost.status == thin.prevented.status == "not_enough_data"
    cost = thin.false_positive_cost
    assert cost.status == "ok" and cost.low < 120 < cost.high
    enough = business_value([[900, 10], [5, MIN_CLASS_ROWS - 5]], bins=bins, threshold=0.5, model=MODEL)
    assert enough.net.status == "ok" and enough.net.low < enough.net.value < enough.net.high
