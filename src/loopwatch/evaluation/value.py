"""Business value of a window's decisions: loss prevented against false-positive costs and losses missed.

At a threshold every labelled decision falls in one cell: a true positive
gains ``a + α·value``, a false positive costs ``c``, a false negative loses
``d + β·value``, a true negative is worth 0 (``a, α, c, d, β`` from
:class:`~loopwatch.core.spec.ValueModel`). The window's value is the sum over
its labelled decisions; unlabelled decisions are left out (their outcome is not
known yet; see the label coverage).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from loopwatch.core.intervals import wilson
from loopwatch.core.profile import Profile
from loopwatch.core.spec import Spec, ValueModel
from loopwatch.evaluation.bins import ScoreBins
from loopwatch.evaluation.class_mixture import ClassMoments, mixture_mean_interval
from loopwatch.evaluation.metrics import MIN_CLASS_ROWS, Metric, label_rows, small_sample_quantile

__all__ = ["BusinessValue", "business_value", "value_per_decision"]

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class BusinessValue:
    """A window's net value and its parts, each a :class:`~loopwatch.evaluation.metrics.Metric` in
    the outcome's currency: ``net = prevented - false_positive_cost - lost``."""

    net: Metric
    prevented: Metric
    false_positive_cost: Metric
    lost: Metric
    true_positives: int
    false_positives: int
    false_negatives: int

    def metrics(self) -> dict[str, Metric]:
        """The four metrics by name (``value``, ``value_prevented``, ...)."""
        return {m.name: m for m in (self.net, self.prevented, self.false_positive_cost, self.lost)}


def _value_rows(name: str, array: npt.ArrayLike | None, shape: tuple[int, int]) -> tuple[Floats, Floats]:
    if array is None:
        return np.zeros(shape[1]), np.zeros(shape[1])
    values = np.asarray(array, dtype=np.float64)
    if values.shape[0] not in (2, 3) or values.shape[1:] != (shape[1],):
        raise ValueError(f"{name} must have the shape of by_label, (2 or 3, {shape[1]}); "
                         f"got shape {values.shape}")
    if not np.all(np.isfinite(values[:2])):
        raise ValueError(f"{name} must be finite; got a NaN or infinite entry")
    return values[0], values[1]


def _sum(name: str, negatives: ClassMoments, positives: ClassMoments, z: float | None,
         reason: str) -> Metric:
    """The window's total of a per-row contribution, with the two-class interval of its mean times the
    rows (``z`` the quantile), or ``not_enough_data`` with ``reason`` when ``z`` is None."""
    n = negatives.rows + positives.rows
    total = negatives.total + positives.total
    if z is None:
        return Metric.not_enough_data(name, total, n=round(n), reason=reason)
    low, high = mixture_mean_interval(negatives, positives, z=z, within="drawn")
    return Metric(name, total, min(total, n * low), max(total, n * high), round(n))


def business_value(by_label: npt.ArrayLike, *, bins: ScoreBins, threshold: float, model: ValueModel,
                   value_sum: npt.ArrayLike | None = None, value_sq: npt.ArrayLike | None = None,
                   confidence: float = 0.95) -> BusinessValue:
    """Net value of the labelled decisions at ``threshold`` and its parts, each with an interval.

    ``value_sum`` and ``value_sq`` are the sums of the outcome's value and of
    its square per (label, score bin) cell, the shape of ``by_label``
    (:attr:`~loopwatch.core.profile.ScoreStats.value_sum`); without them the
    value shares add nothing. A decision is ``score >= threshold``, with the
    threshold snapped to a bin edge (:class:`~loopwatch.evaluation.bins.ScoreBins`).

    With fewer than :data:`~loopwatch.evaluation.metrics.MIN_CLASS_ROWS` labelled
    positives or negatives, the net value, the value prevented and the value
    lost are ``not_enough_data`` (a value, no interval). Otherwise the intervals
    treat the window's ``n`` labelled decisions as i.i.d. draws of a per-decision
    contribution ``X`` (0 for true negatives) and cover the expected total
    ``n·E[X]``: ``n`` times the two-class interval of the mean
    (:func:`~loopwatch.evaluation.class_mixture.mixture_mean_interval`, the
    within-class spread as drawn) from each class's count, sum and sum of squares
    of ``X`` (a true positive contributes ``(a + α·v)²``, expanded as
    ``a² + 2aα·v + α²·v²``), at Student's t quantile with
    ``min(positives, negatives) - 1`` degrees of freedom
    (:func:`~loopwatch.evaluation.metrics.small_sample_quantile`). The normal
    interval ``Σ X ± z·√(n·s²)`` covered 97-98% near the floor where a positive
    costs on average more than it brings (docs/DESIGN-NOTES.md). The
    false-positive cost is ``c`` times a count, so its interval is ``c·n`` times
    the Wilson interval of the false-positive share.

    Examples
    --------
    >>> bins = ScoreBins.from_edges((0.5,), lowest=0.1)
    >>> model = ValueModel(false_positive=10.0, false_negative=5.0)
    >>> v = business_value([[90, 10], [5, 20]], bins=bins, threshold=0.5, model=model,
    ...                    value_sum=[[0, 0], [500, 4000]], value_sq=[[0, 0], [6e4, 1e6]])
    >>> v.prevented.value, v.false_positive_cost.value, v.lost.value, v.net.value
    (4000.0, 100.0, 525.0, 3375.0)
    >>> v.net.low < v.net.value < v.net.high, v.net.n
    (True, 125)
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    neg, pos = label_rows(by_label)
    if neg.size != len(bins):
        raise ValueError(f"by_label has {neg.size} score bins but bins has {len(bins)}; "
                         "use the ScoreBins of the profile's binning")
    shape = (2, neg.size)
    _, pos_sum = _value_rows("value_sum", value_sum, shape)
    _, pos_sq = _value_rows("value_sq", value_sq, shape)
    flagged = bins.flagged(threshold)
    n = float(neg.sum() + pos.sum())

    a, alpha = model.true_positive, model.true_positive_value_share
    c = model.false_positive
    d, beta = model.false_negative, model.false_negative_value_share
    tp, fp, fn = float(pos[flagged].sum()), float(neg[flagged].sum()), float(pos[~flagged].sum())
    tp_v, tp_v2 = float(pos_sum[flagged].sum()), float(pos_sq[flagged].sum())
    fn_v, fn_v2 = float(pos_sum[~flagged].sum()), float(pos_sq[~flagged].sum())

    # per-row contributions: sums and sums of squares over each cell's rows
    gain, gain_sq = a * tp + alpha * tp_v, a * a * tp + 2 * a * alpha * tp_v + alpha * alpha * tp_v2
    loss, loss_sq = d * fn + beta * fn_v, d * d * fn + 2 * d * beta * fn_v + beta * beta * fn_v2
    cost, cost_sq = c * fp, c * c * fp

    if n == 0:
        return BusinessValue(
            net=Metric.undefined("value", n=0), prevented=Metric.undefined("value_prevented", n=0),
            false_positive_cost=Metric.undefined("value_false_positive_cost", n=0),
            lost=Metric.undefined("value_lost", n=0), true_positives=0, false_positives=0,
            false_negatives=0,
        )
    fp_low, fp_high = wilson(fp, n, confidence=confidence)
    m, negatives = float(pos.sum()), float(neg.sum())
    fewer = min(m, negatives)
    # the sums rest on the few positives drawn: the normal interval covered 88-92% with 9-15 of them
    q = small_sample_quantile(confidence, fewer) if fewer >= MIN_CLASS_ROWS else None
    which = "positives" if m <= negatives else "negatives"
    reason = f"{round(fewer)} labelled {which}; an interval needs {MIN_CLASS_ROWS}"
    no_value = ClassMoments(rows=negatives, total=0.0, squares=0.0)
    net = _sum("value", ClassMoments(rows=negatives, total=-cost, squares=cost_sq),
               ClassMoments(rows=m, total=gain - loss, squares=gain_sq + loss_sq), q, reason)
    prevented = _sum("value_prevented", no_value, ClassMoments(rows=m, total=gain, squares=gain_sq), q,
                     reason)
    lost = _sum("value_lost", no_value, ClassMoments(rows=m, total=loss, squares=loss_sq), q, reason)
    return BusinessValue(
        net=net, prevented=prevented,
        false_positive_cost=Metric("value_false_positive_cost", cost, min(cost, c * n * fp_low),
                                   max(cost, c * n * fp_high), round(n)),
        lost=lost,
        true_positives=round(tp), false_positives=round(fp), false_negatives=round(fn),
    )


def value_per_decision(profile: Profile, bins: ScoreBins, spec: Spec, *, threshold: float,
                       confidence: float = 0.95) -> tuple[Metric, float]:
    """Net value per labelled decision with its interval, and the variance of that mean.

    The net value's interval from :func:`~loopwatch.evaluation.value.business_value`
    divided by ``n`` is the mean's; the mean's variance is taken as that of a normal
    interval as wide, at the same quantile. NaN without a value model or labelled
    decisions.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> from loopwatch.core.spec import spec_from_mapping
    >>> spec = spec_from_mapping({"model": "m", "features": [{"name": "x", "dtype": "numeric"}],
    ...                           "value": {"false_positive": 10.0, "false_negative": 5.0}})
    >>> from loopwatch.core.profile import Binning
    >>> binning = Binning(numeric={}, categorical={}, score=(0.5,))
    >>> empty = binning.empty(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))
    >>> value_per_decision(empty, ScoreBins.from_edges((0.5,)), spec, threshold=0.5)[0].value
    nan
    """
    if spec.value is None:
        return Metric.undefined("value_per_decision", n=0), math.nan
    score = profile.score
    net = business_value(score.by_label, bins=bins, threshold=threshold, model=spec.value,
                         value_sum=score.value_sum, value_sq=score.value_sq, confidence=confidence).net
    n = net.n
    if n == 0:
        return Metric.undefined("value_per_decision", n=0), math.nan
    mean = net.value / n
    if net.status == "not_enough_data":  # too few positives for the value's interval: never tested
        return Metric.not_enough_data("value_per_decision", mean, n=n, reason=net.reason), math.nan
    if not math.isfinite(net.low):
        return Metric("value_per_decision", mean, math.nan, math.nan, n), math.nan
    neg, pos = label_rows(score.by_label)
    se = (net.high - net.low) / (2 * small_sample_quantile(confidence, float(min(neg.sum(), pos.sum())))) / n
    return Metric("value_per_decision", mean, net.low / n, net.high / n, n), se * se
