"""Metrics of one window from its binned score histograms, each with n and a confidence interval.

Every function reads ``by_label``: counts of shape ``(2 or 3, bins)``, rows
negative, positive (and unlabelled, ignored except by :func:`label_coverage`),
columns score bins, as in :attr:`loopwatch.core.profile.ScoreStats.by_label`.
A metric is in one of three states (:attr:`Metric.status`): ``ok``, a value
with its interval; ``not_enough_data``, a value but too few rows for an honest
interval (the ROC AUC, Brier score and log loss below :data:`MIN_CLASS_ROWS`
positives or negatives):
the interval is NaN and the metric is never tested or paged on; ``undefined``,
no value at all (an empty window, no positives...). Nothing here raises on an
empty window. :class:`Metric` itself is in :mod:`~loopwatch.evaluation.metric_value`
(and still importable from here).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import stats

from loopwatch.core.intervals import wilson
from loopwatch.evaluation.auc_interval import auc_credible_interval
from loopwatch.evaluation.bins import ScoreBins
from loopwatch.evaluation.class_mixture import ClassMoments, mixture_mean_interval
from loopwatch.evaluation.metric_value import Metric, MetricStatus

__all__ = [
    "AUC_PRIOR",
    "MIN_CLASS_ROWS",
    "Metric",
    "MetricStatus",
    "base_rate",
    "brier_score",
    "decision_rate",
    "delong",
    "false_positive_rate",
    "label_coverage",
    "label_rows",
    "log_loss",
    "precision",
    "recall",
    "roc_auc",
    "small_sample_quantile",
]

Floats = npt.NDArray[np.float64]

#: The ROC AUC and the calibration intercept and slope get an interval from this many positives and
#: negatives in the window; below, they are ``not_enough_data``. Chosen by simulation
#: (``benchmarks/eval_coverage.py``, docs/DESIGN-NOTES.md).
MIN_CLASS_ROWS = 25
#: Concentration of the Dirichlet-process prior of each class's score distribution (one pseudo-decision
#: per class, scoring like the other class): see :mod:`~loopwatch.evaluation.auc_interval`.
AUC_PRIOR = 1.0


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    return float(stats.norm.ppf(0.5 + confidence / 2))


def small_sample_quantile(confidence: float, fewer: float) -> float:
    """Student's t quantile of a two-sided ``confidence`` interval with ``fewer - 1`` degrees of freedom.

    ``fewer`` is the smaller class's count. The intervals of a quantity that rests on the
    share of positives (Brier score, log loss, calibration intercept) use it in place of the
    normal quantile: a window is reported from :data:`MIN_CLASS_ROWS` positives up, so near the
    floor the windows reported are those that drew more positives than expected, and the
    normal quantile's intervals then lay above the truth in 5-6% of them and below it in
    almost none (docs/DESIGN-NOTES.md). With 25 positives the quantile is 2.06, with 100 1.98.

    Examples
    --------
    >>> round(small_sample_quantile(0.95, 25), 3), round(small_sample_quantile(0.95, 1e6), 3)
    (2.064, 1.96)
    """
    _z(confidence)
    return float(stats.t.ppf(0.5 + confidence / 2, max(fewer - 1, 1)))


def label_rows(by_label: npt.ArrayLike) -> tuple[Floats, Floats]:
    """The negative and positive rows of ``by_label`` as floats, after checking its shape and counts.

    Examples
    --------
    >>> [row.tolist() for row in label_rows([[3, 1], [0, 2], [4, 4]])]
    [[3.0, 1.0], [0.0, 2.0]]
    """
    counts = np.asarray(by_label, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] not in (2, 3):
        raise ValueError(
            f"by_label must have shape (2 or 3, bins): rows negative, positive[, unlabelled]; "
            f"got shape {counts.shape}"
        )
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError("by_label must hold non-negative counts; got a negative or non-finite entry")
    return counts[0], counts[1]


def _matching(counts: Floats, bins: ScoreBins) -> None:
    if counts.size != len(bins):
        raise ValueError(f"by_label has {counts.size} score bins but bins has {len(bins)}; "
                         "use the ScoreBins of the profile's binning")


def _proportion(name: str, successes: float, trials: float, confidence: float) -> Metric:
    _z(confidence)
    if trials <= 0:
        return Metric.undefined(name, n=0)
    low, high = wilson(successes, trials, confidence=confidence)
    value = successes / trials
    # wilson(n, n) can end a rounding error below 1: keep the estimate inside its interval
    return Metric(name, value, min(low, value), max(high, value), round(trials))


def _components(by_label: npt.ArrayLike) -> tuple[float, float, float, float, float]:
    """AUC, the positives' and the negatives' parts of its DeLong variance, n_pos and n_neg."""
    neg, pos = label_rows(by_label)
    m, n = float(pos.sum()), float(neg.sum())
    if m == 0 or n == 0:
        return math.nan, math.nan, math.nan, m, n
    v10 = (np.cumsum(neg) - neg + 0.5 * neg) / n
    v01 = (m - np.cumsum(pos) + 0.5 * pos) / m
    auc = float(pos @ v10) / m
    if m < 2 or n < 2:
        return auc, math.nan, math.nan, m, n
    s10 = float(pos @ (v10 - auc) ** 2) / (m - 1)
    s01 = float(neg @ (v01 - auc) ** 2) / (n - 1)
    return auc, s10 / m, s01 / n, m, n


def delong(by_label: npt.ArrayLike) -> tuple[float, float]:
    """ROC AUC and its DeLong variance from binned scores (ties within a bin count 1/2).

    The structural components of DeLong, DeLong & Clarke-Pearson (1988),
    "Comparing the areas under two or more correlated receiver operating
    characteristic curves: a nonparametric approach", *Biometrics* 44(3):837-845:
    each positive's placement ``V10`` is the share of negatives it outranks
    (ties 1/2), each negative's ``V01`` the share of positives that outrank it;
    ``AUC`` is the mean ``V10`` and ``Var = S10/n_pos + S01/n_neg`` with ``S10``,
    ``S01`` the sample variances of the placements. All rows of one bin share one
    placement, so the cost is linear in the number of bins. NaN where a class is
    empty; the variance is NaN when a class has one row.

    Examples
    --------
    >>> auc, variance = delong([[3, 1, 0], [0, 1, 3]])
    >>> round(auc, 4), round(variance, 5)
    (0.9688, 0.00195)
    """
    auc, positives, negatives, _, _ = _components(by_label)
    return auc, positives + negatives


def roc_auc(by_label: npt.ArrayLike, *, confidence: float = 0.95) -> Metric:
    """ROC AUC with a Bayesian interval that holds with few positives; ``n`` counts both classes.

    The value is the Mann-Whitney AUC of the binned scores (ties within a bin
    count ½), scikit-learn's ``roc_auc_score`` on the same bins. The interval
    is the equal-tailed 95% credible interval of the AUC when each class's score
    distribution has a Dirichlet-process prior of concentration
    :data:`AUC_PRIOR` whose base measure is the other class's observed
    distribution (:mod:`~loopwatch.evaluation.auc_interval`). With fewer than
    :data:`MIN_CLASS_ROWS` positives or negatives the metric is
    ``not_enough_data``: its value, no interval.

    Why not DeLong's interval: with few positives the AUC's sampling
    distribution is skewed and a sample that lacks the few badly ranked
    positives gets both a high AUC and a small DeLong standard error; the logit
    DeLong interval with a Student t covered 84-92% at 95% with 9-100 positives
    and an AUC of 0.96, where this one covers 94-97% from 25 positives up on
    every generator tried (``benchmarks/eval_coverage.py``, docs/DESIGN-NOTES.md).

    Examples
    --------
    >>> m = roc_auc([[40, 30, 20, 10], [10, 20, 30, 40]])
    >>> round(m.value, 3), round(m.low, 3), round(m.high, 3), m.n, m.status
    (0.75, 0.679, 0.809, 200, 'ok')
    >>> roc_auc([[900, 80, 20], [3, 5, 10]]).status
    'not_enough_data'
    >>> roc_auc([[5, 5], [0, 0]]).status
    'undefined'
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    neg, pos = label_rows(by_label)
    m, n = float(pos.sum()), float(neg.sum())
    total = round(m + n)
    if m == 0 or n == 0:
        return Metric.undefined("roc_auc", n=total)
    auc = float(pos @ ((np.cumsum(neg) - neg / 2) / n)) / m
    if min(m, n) < MIN_CLASS_ROWS:
        fewer = "positives" if m <= n else "negatives"
        return Metric.not_enough_data(
            "roc_auc", auc, n=total,
            reason=f"{round(min(m, n))} labelled {fewer}; an interval needs {MIN_CLASS_ROWS}")
    low, high = auc_credible_interval(neg, pos, prior=AUC_PRIOR, confidence=confidence)
    return Metric("roc_auc", auc, min(low, auc), max(high, auc), total)


def _confusion(by_label: npt.ArrayLike, bins: ScoreBins, threshold: float) -> tuple[float, ...]:
    neg, pos = label_rows(by_label)
    _matching(neg, bins)
    first = bins.first_flagged(threshold)
    tp, fp = float(pos[first:].sum()), float(neg[first:].sum())
    return tp, fp, float(pos.sum()) - tp, float(neg.sum()) - fp


def precision(by_label: npt.ArrayLike, *, bins: ScoreBins, threshold: float,
              confidence: float = 0.95) -> Metric:
    """Share of flagged labelled rows (``score >= threshold``) that are positive, with a Wilson interval.

    The threshold snaps up to a bin edge (see :class:`~loopwatch.evaluation.bins.ScoreBins`).

    Examples
    --------
    >>> bins = ScoreBins.from_edges((0.5,), lowest=0.1)
    >>> m = precision([[90, 10], [5, 20]], bins=bins, threshold=0.5)
    >>> round(m.value, 3), m.n
    (0.667, 30)
    """
    tp, fp, _, _ = _confusion(by_label, bins, threshold)
    return _proportion("precision", tp, tp + fp, confidence)


def recall(by_label: npt.ArrayLike, *, bins: ScoreBins, threshold: float,
           confidence: float = 0.95) -> Metric:
    """Share of positives flagged (``score >= threshold``), with a Wilson interval.

    Examples
    --------
    >>> bins = ScoreBins.from_edges((0.5,), lowest=0.1)
    >>> m = recall([[90, 10], [5, 20]], bins=bins, threshold=0.5)
    >>> round(m.value, 3), m.n
    (0.8, 25)
    """
    tp, _, fn, _ = _confusion(by_label, bins, threshold)
    return _proportion("recall", tp, tp + fn, confidence)


def false_positive_rate(by_label: npt.ArrayLike, *, bins: ScoreBins, threshold: float,
                        confidence: float = 0.95) -> Metric:
    """Share of negatives flagged (``score >= threshold``), with a Wilson interval.

    Examples
    --------
    >>> bins = ScoreBins.from_edges((0.5,), lowest=0.1)
    >>> m = false_positive_rate([[90, 10], [5, 20]], bins=bins, threshold=0.5)
    >>> m.value, m.n
    (0.1, 100)
    """
    _, fp, _, tn = _confusion(by_label, bins, threshold)
    return _proportion("false_positive_rate", fp, fp + tn, confidence)


def base_rate(by_label: npt.ArrayLike, *, confidence: float = 0.95) -> Metric:
    """Share of labelled rows that are positive, with a Wilson interval.

    Examples
    --------
    >>> base_rate([[90, 10], [5, 20]]).value
    0.2
    """
    neg, pos = label_rows(by_label)
    return _proportion("base_rate", float(pos.sum()), float(pos.sum() + neg.sum()), confidence)


def label_coverage(by_label: npt.ArrayLike, *, confidence: float = 0.95) -> Metric:
    """Share of rows whose outcome is known: labelled / (labelled + unlabelled), with a Wilson interval.

    Examples
    --------
    >>> label_coverage([[60, 20], [5, 15], [15, 10]]).value
    0.8
    """
    neg, pos = label_rows(by_label)
    counts = np.asarray(by_label, dtype=np.float64)
    unlabelled = float(counts[2].sum()) if counts.shape[0] == 3 else 0.0
    labelled = float(neg.sum() + pos.sum())
    return _proportion("label_coverage", labelled, labelled + unlabelled, confidence)


def decision_rate(by_action: npt.ArrayLike, *, positive_rows: Sequence[int],
                  confidence: float = 0.95) -> Metric:
    """Share of decisions whose action is positive (e.g. block or review), with a Wilson interval.

    ``by_action`` is :attr:`~loopwatch.core.profile.ScoreStats.by_action` (one row
    per reference action, then ``other``); ``positive_rows`` are the rows of the
    positive actions. Every row counts, labelled or not.

    Examples
    --------
    >>> decision_rate([[70, 10], [0, 15], [5, 0]], positive_rows=[1]).value
    0.15
    """
    counts = np.asarray(by_action, dtype=np.float64)
    if counts.ndim != 2 or not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError(f"by_action must be a 2-D array of non-negative counts; got shape {counts.shape}")
    rows = sorted(set(positive_rows))
    if any(not 0 <= r < counts.shape[0] for r in rows):
        raise ValueError(f"positive_rows must index the {counts.shape[0]} rows of by_action; "
                         f"got {list(positive_rows)}")
    return _proportion("decision_rate", float(counts[rows].sum()), float(counts.sum()), confidence)


def _mean_loss(name: str, neg: Floats, pos: Floats, neg_loss: Floats, pos_loss: Floats,
               confidence: float) -> Metric:
    """Mean of a per-row loss from counts per bin and class, with the two-class interval of
    :mod:`~loopwatch.evaluation.class_mixture` at Student's t quantile with ``min(positives, negatives) - 1``
    degrees of freedom; ``not_enough_data`` below :data:`MIN_CLASS_ROWS` per class."""
    _z(confidence)
    counts, losses = np.concatenate((neg, pos)), np.concatenate((neg_loss, pos_loss))
    used = counts > 0
    total = float(counts.sum())
    if total == 0 or np.any(np.isnan(losses[used])):
        return Metric.undefined(name, n=round(total))
    mean = float(counts[used] @ losses[used]) / total
    m, n = float(pos.sum()), float(neg.sum())
    if min(m, n) < MIN_CLASS_ROWS:
        fewer = "positives" if m <= n else "negatives"
        return Metric.not_enough_data(
            name, mean, n=round(total),
            reason=f"{round(min(m, n))} labelled {fewer}; an interval needs {MIN_CLASS_ROWS}")

    def moments(c: Floats, loss: Floats) -> ClassMoments:
        kept = c > 0
        c, loss = c[kept], loss[kept]
        return ClassMoments(rows=float(c.sum()), total=float(c @ loss), squares=float(c @ loss**2))

    low, high = mixture_mean_interval(moments(neg, neg_loss), moments(pos, pos_loss),
                                      z=small_sample_quantile(confidence, min(m, n)))
    return Metric(name, mean, max(0.0, min(low, mean)), max(high, mean), round(total))


def brier_score(by_label: npt.ArrayLike, *, bins: ScoreBins, confidence: float = 0.95) -> Metric:
    """Mean squared difference of the bin's representative score and the label, with an interval.

    The interval is the two-class interval of
    :func:`~loopwatch.evaluation.class_mixture.mixture_mean_interval` from each
    class's exact sums of the per-row loss and its square, at the quantile of
    :func:`small_sample_quantile`: the normal interval ``mean ± z·sd/√n`` covered
    89-93% with 9-25 positives at base rates of 1-2%, because the number of
    positives drawn is most of the uncertainty, and the two-class interval at the
    normal quantile 93.7-94.4% at the floor (``benchmarks/eval_coverage.py``,
    docs/DESIGN-NOTES.md). ``not_enough_data`` below :data:`MIN_CLASS_ROWS`
    positives or negatives.

    Examples
    --------
    >>> bins = ScoreBins.from_edges((0.5,), lowest=0.1)
    >>> m = brier_score([[90, 10], [5, 20]], bins=bins)
    >>> round(m.value, 4), round(m.low, 4), round(m.high, 4)
    (0.0996, 0.0723, 0.1381)
    >>> brier_score([[90, 10], [5, 2]], bins=bins).status
    'not_enough_data'
    """
    neg, pos = label_rows(by_label)
    _matching(neg, bins)
    s = bins.scores
    return _mean_loss("brier_score", neg, pos, s**2, (1 - s) ** 2, confidence)


def log_loss(by_label: npt.ArrayLike, *, bins: ScoreBins, confidence: float = 0.95,
             eps: float = 1e-15) -> Metric:
    """Mean negative log-likelihood of the labels under the bins' representative scores, with an interval.

    Scores are clipped to ``[eps, 1 - eps]``; the interval is as for :func:`brier_score`.

    Examples
    --------
    >>> bins = ScoreBins.from_edges((0.5,), lowest=0.1)
    >>> round(log_loss([[90, 10], [5, 20]], bins=bins).value, 4)
    0.3343
    """
    if not 0 < eps < 0.5:
        raise ValueError(f"eps must be in (0, 0.5); got {eps}")
    neg, pos = label_rows(by_label)
    _matching(neg, bins)
    s = np.clip(bins.scores, eps, 1 - eps)
    return _mean_loss("log_loss", neg, pos, -np.log1p(-s), -np.log(s), confidence)
