"""evaluate_profile: every metric of one profile, read from its score histograms and the spec."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import precision_score, roc_auc_score

from loopwatch.core.profile import Binning, Profile, ScoreStats, score_bin, score_edges
from loopwatch.core.spec import Spec, spec_from_mapping
from loopwatch.evaluation.bins import ScoreBins
from loopwatch.evaluation.metrics import precision
from loopwatch.evaluation.profile_metrics import evaluate_profile
from loopwatch.evaluation.value import business_value

START, END = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)
ACTIONS = ("approve", "review", "block")
BINNING = Binning(numeric={}, categorical={}, score=score_edges(None, 0.0, 1.0), actions=ACTIONS)
METRICS = {"roc_auc", "precision", "recall", "false_positive_rate", "decision_rate", "base_rate",
           "label_coverage", "brier_score", "log_loss", "expected_calibration_error",
           "calibration_intercept", "calibration_slope"}
VALUE = {"value", "value_prevented", "value_false_positive_cost", "value_lost"}


def make_spec(**extra: Any) -> Spec:
    return spec_from_mapping({"model": "fraud", "features": [{"name": "amount", "dtype": "numeric"}],
                              **extra})


def simulated(n: int = 8000, seed: int = 0) -> tuple[Profile, dict[str, Any]]:
    """A profile of simulated decisions, with the raw rows it summarises."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(np.int64)
    scores = np.clip(rng.normal(0.25 + 0.4 * y, 0.15), 0, 1)
    labelled = rng.random(n) < 0.8
    action = np.where(scores >= 0.8, 2, np.where(scores >= 0.5, 1, 0))
    value = np.where(labelled, rng.gamma(2.0, 50.0, n), 0.0)
    b = score_bin(scores, BINNING.score)
    cell = np.where(labelled, y, 2) * 1000 + b
    stats = ScoreStats(
        by_label=np.bincount(cell, minlength=3000).reshape(3, 1000),
        by_action=np.bincount(action * 1000 + b, minlength=4000).reshape(4, 1000),
        value_sum=np.bincount(cell, weights=value, minlength=3000).reshape(3, 1000).astype(np.float64),
        value_sq=np.bincount(cell, weights=value**2, minlength=3000).reshape(3, 1000).astype(np.float64),
    )
    profile = replace(BINNING.empty(START, END), n=n, score=stats)
    return profile, {"y": y, "score": scores, "labelled": labelled, "action": action}


def test_every_metric_is_computed_from_the_profile_and_agrees_with_the_raw_rows() -> None:
    profile, rows = simulated()
    spec = make_spec(threshold=0.5, value={"false_positive": 10.0, "false_negative": 20.0})
    metrics = evaluate_profile(profile, BINNING, spec)
    assert set(metrics) == METRICS | VALUE
    keep = rows["labelled"]
    y, scores = rows["y"][keep], rows["score"][keep]
    assert metrics["roc_auc"].value == pytest.approx(roc_auc_score(y, scores), abs=1e-3)
    assert metrics["precision"].value == pytest.approx(precision_score(y, scores >= 0.5), abs=1e-3)
    assert metrics["decision_rate"].value == pytest.approx(np.isin(rows["action"], [1, 2]).mean())
    assert metrics["label_coverage"].value == pytest.approx(keep.mean())
    assert metrics["base_rate"].n == keep.sum()
    # every metric but the ECE (descriptive, no interval) has its estimate inside its interval
    assert all(m.low <= m.value <= m.high for m in metrics.values() if m.name != "expected_calibration_error")
    assert math.isnan(metrics["expected_calibration_error"].low)
    assert spec.value is not None
    expected = business_value(profile.score.by_label, bins=ScoreBins.from_edges(BINNING.score),
                              threshold=0.5, model=spec.value, value_sum=profile.score.value_sum,
                              value_sq=profile.score.value_sq)
    assert metrics["value"] == expected.net


@pytest.mark.parametrize(("argument", "in_spec", "used"),
                         [(0.7, 0.4, 0.7), (None, 0.4, 0.4), (None, None, 0.5)])
def test_the_threshold_is_the_argument_else_the_spec_else_one_half(
        argument: float | None, in_spec: float | None, used: float) -> None:
    profile, _ = simulated()
    metrics = evaluate_profile(profile, BINNING, make_spec(threshold=in_spec), threshold=argument)
    expected = precision(profile.score.by_label, bins=ScoreBins.from_edges(BINNING.score), threshold=used)
    assert metrics["precision"] == expected
    assert not VALUE & set(metrics)


def test_only_positive_actions_known_to_the_reference_count_as_decisions() -> None:
    profile, rows = simulated()
    only_block = evaluate_profile(profile, BINNING, make_spec(positive_actions=["block", "escalate"]))
    assert only_block["decision_rate"].value == pytest.approx(np.mean(rows["action"] == 2))


def test_an_empty_window_gives_nan_metrics_without_raising() -> None:
    metrics = evaluate_profile(BINNING.empty(START, END), BINNING, make_spec(value={"false_positive": 5}))
    assert set(metrics) == METRICS | VALUE
    assert all(math.isnan(m.value) and m.status == "undefined" for m in metrics.values())


def test_a_profile_of_another_binning_is_refused() -> None:
    other = Binning(numeric={}, categorical={}, score=(0.5,), actions=ACTIONS)
    with pytest.raises(ValueError, match=f"computed with binning {BINNING.fingerprint}, not with the given "
                                         f"binning {other.fingerprint}"):
        evaluate_profile(BINNING.empty(START, END), other, make_spec())
