"""Every evaluation metric of one profile (one window × cohort), by name."""

from __future__ import annotations

import math

from loopwatch.core.profile import Binning, Profile
from loopwatch.core.spec import Spec
from loopwatch.evaluation.bins import ScoreBins
from loopwatch.evaluation.calibration import (
    calibration_intercept,
    calibration_slope,
    expected_calibration_error,
)
from loopwatch.evaluation.metrics import (
    Metric,
    base_rate,
    brier_score,
    decision_rate,
    false_positive_rate,
    label_coverage,
    log_loss,
    precision,
    recall,
    roc_auc,
)
from loopwatch.evaluation.value import business_value

__all__ = ["DEFAULT_THRESHOLD", "evaluate_profile"]

#: The threshold used when neither the caller nor the spec gives one.
DEFAULT_THRESHOLD = 0.5


def evaluate_profile(profile: Profile, binning: Binning, spec: Spec, *, threshold: float | None = None,
                     lowest_score: float | None = None, confidence: float = 0.95) -> dict[str, Metric]:
    """The evaluation metrics of one profile, each with its interval and n.

    Keys: ``roc_auc``, ``precision``, ``recall``, ``false_positive_rate``,
    ``decision_rate``, ``base_rate``, ``label_coverage``, ``brier_score``,
    ``log_loss``, ``expected_calibration_error`` (no interval), ``calibration_intercept``,
    ``calibration_slope`` and, when the spec has a
    ``value`` block, ``value``, ``value_prevented``, ``value_false_positive_cost``
    and ``value_lost``. The threshold is ``threshold``, else ``spec.threshold``,
    else :data:`DEFAULT_THRESHOLD`. The decision rate counts the actions listed
    in ``spec.positive_actions`` that are among the reference actions
    (``binning.actions``); others fall in the ``other`` row and are not counted.
    ``lowest_score`` is the lowest reference score, which exact score bins do
    not record (see :class:`~loopwatch.evaluation.bins.ScoreBins`). An empty
    window gives NaN metrics, never an error.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> from loopwatch.core.spec import Spec
    >>> spec = Spec.model_validate({"model": "m", "features": [{"name": "x", "dtype": "numeric"}]})
    >>> binning = Binning(numeric={"x": (0.0,)}, categorical={}, score=(0.5,), actions=("block",))
    >>> empty = binning.empty(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))
    >>> metrics = evaluate_profile(empty, binning, spec)
    >>> metrics["roc_auc"].value, metrics["precision"].n
    (nan, 0)
    """
    if profile.binning != binning.fingerprint:
        raise ValueError(f"the profile was computed with binning {profile.binning}, not with the given "
                         f"binning {binning.fingerprint}; pass the binning of the profile's reference")
    chosen = threshold if threshold is not None else spec.threshold
    chosen = DEFAULT_THRESHOLD if chosen is None else float(chosen)
    if not math.isfinite(chosen):
        raise ValueError(f"threshold must be a finite number; got {chosen}")
    bins = ScoreBins.from_edges(binning.score, lowest=lowest_score)
    score = profile.score
    by_label = score.by_label
    positive_rows = [i for i, action in enumerate(binning.actions) if action in spec.positive_actions]
    metrics = [
        roc_auc(by_label, confidence=confidence),
        precision(by_label, bins=bins, threshold=chosen, confidence=confidence),
        recall(by_label, bins=bins, threshold=chosen, confidence=confidence),
        false_positive_rate(by_label, bins=bins, threshold=chosen, confidence=confidence),
        decision_rate(score.by_action, positive_rows=positive_rows, confidence=confidence),
        base_rate(by_label, confidence=confidence),
        label_coverage(by_label, confidence=confidence),
        brier_score(by_label, bins=bins, confidence=confidence),
        log_loss(by_label, bins=bins, confidence=confidence),
        expected_calibration_error(by_label, bins=bins, confidence=confidence),
        calibration_intercept(by_label, bins=bins, confidence=confidence),
        calibration_slope(by_label, bins=bins, confidence=confidence),
    ]
    out = {m.name: m for m in metrics}
    if spec.value is not None:
        value = business_value(by_label, bins=bins, threshold=chosen, model=spec.value,
                               value_sum=score.value_sum, value_sq=score.value_sq, confidence=confidence)
        out.update(value.metrics())
    return out
