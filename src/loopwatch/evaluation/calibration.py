"""Calibration: the reliability curve and the expected calibration error, from binned scores.

Score bins are grouped into ``groups`` equal-width groups of [0, 1] by their
representative score: ``[0, 0.1], (0.1, 0.2], ... (0.9, 1]`` for 10 groups, the
rule of scikit-learn's ``calibration_curve`` with ``strategy="uniform"``; a
group's predicted value is the mean score of its rows, its observed value the
share of positives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from loopwatch.core.intervals import wilson
from loopwatch.evaluation.bins import ScoreBins
from loopwatch.evaluation.metrics import Metric, label_rows

__all__ = ["ReliabilityPoint", "expected_calibration_error", "reliability_curve"]

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ReliabilityPoint:
    """One group of the reliability curve: mean predicted score, observed positive rate
    with its Wilson interval ``[low, high]``, and the labelled rows ``n``."""

    predicted: float
    observed: float
    low: float
    high: float
    n: int


def _check(groups: int, confidence: float) -> None:
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"groups must be an integer >= 1; got {groups!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")


def _group_of_bins(bins: ScoreBins, groups: int) -> npt.NDArray[np.int64]:
    cuts = np.linspace(0.0, 1.0, groups + 1)[1:-1]
    return np.searchsorted(cuts, bins.scores, side="left").astype(np.int64)


def _rows(by_label: npt.ArrayLike, bins: ScoreBins) -> tuple[Floats, Floats]:
    neg, pos = label_rows(by_label)
    if neg.size != len(bins):
        raise ValueError(f"by_label has {neg.size} score bins but bins has {len(bins)}; "
                         "use the ScoreBins of the profile's binning")
    return neg, pos


def reliability_curve(by_label: npt.ArrayLike, *, bins: ScoreBins, groups: int = 10,
                      confidence: float = 0.95) -> tuple[ReliabilityPoint, ...]:
    """Mean predicted score against observed positive rate per group of score bins (empty groups left out).

    Bins whose representative score is unknown (bin 0 of exact bins without
    ``lowest``) are left out of the curve.

    Examples
    --------
    >>> bins = ScoreBins.from_edges((0.6,), lowest=0.2)
    >>> curve = reliability_curve([[90, 10], [5, 20]], bins=bins, groups=2)
    >>> [(round(p.predicted, 3), round(p.observed, 3), p.n) for p in curve]
    [(0.2, 0.053, 95), (0.6, 0.667, 30)]
    """
    _check(groups, confidence)
    neg, pos = _rows(by_label, bins)
    known = ~np.isnan(bins.scores)
    group = _group_of_bins(bins, groups)[known]
    n = np.bincount(group, weights=(neg + pos)[known], minlength=groups)
    positives = np.bincount(group, weights=pos[known], minlength=groups)
    score_sum = np.bincount(group, weights=((neg + pos) * np.where(known, bins.scores, 0.0))[known],
                            minlength=groups)
    out = []
    for g in np.flatnonzero(n > 0):
        observed = float(positives[g] / n[g])
        low, high = wilson(float(positives[g]), float(n[g]), confidence=confidence)
        out.append(ReliabilityPoint(float(score_sum[g] / n[g]), observed, min(low, observed),
                                    max(high, observed), round(float(n[g]))))
    return tuple(out)


def expected_calibration_error(by_label: npt.ArrayLike, *, bins: ScoreBins, groups: int = 10,
                               confidence: float = 0.95) -> Metric:
    """Expected calibration error ``Σ_g (n_g/n)·|observed_g - predicted_g|`` with an analytic interval.

    The ECE of Naeini, Cooper & Hauskrecht (2015), "Obtaining well calibrated
    probabilities using Bayesian binning", AAAI: the value is the plug-in
    estimate. It is biased upwards (the absolute value of noise), most where a
    group is small or close to calibrated, so the interval is asymmetric:

    * upper bound: ``ECE + z·sd``, with ``sd² = (mean((y - s)²) - ECE²) / n``,
      the delta-method variance of ``Σ_g (n_g/n)·sign_g·gap_g`` over rows with
      each group's sign held fixed (the absolute value only shrinks it);
    * lower bound: ``max(0, ECE - bias - z·sd)``, where ``bias`` is the sum over
      groups of ``(n_g/n)·(E|N(δ, σ²)| - δ)``, the bias of the folded normal
      (Leone, Nelson & Nottingham 1961, *Technometrics* 3(4):543-550) at the
      group's gap ``δ = √max(0, gap² - σ²)`` (the gap with its noise removed from
      the square), ``σ² = õ(1-õ)/n_g`` and ``õ = (positives + 1/2)/(n_g + 1)``.

    In simulation (``benchmarks/eval_coverage.py``) this covers the population
    ECE in 93–98% of windows at 95%, from calibrated models (population ECE 0,
    where a plain ``ECE ± z·sd`` covers 30–40% and a basic bootstrap 55–65%)
    to miscalibrated ones, for 200 and 5,000 rows.

    Examples
    --------
    >>> bins = ScoreBins.from_edges((0.6,), lowest=0.2)
    >>> m = expected_calibration_error([[90, 10], [5, 20]], bins=bins, groups=2)
    >>> round(m.value, 4), m.n, m.low <= m.value <= m.high
    (0.128, 125, True)
    """
    _check(groups, confidence)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    neg, pos = _rows(by_label, bins)
    total = float(neg.sum() + pos.sum())
    if total == 0:
        return Metric.undefined("expected_calibration_error", n=0)
    rows = neg + pos
    if np.any(np.isnan(bins.scores[rows > 0])):
        return Metric.undefined("expected_calibration_error", n=round(total))
    scores = np.where(rows > 0, bins.scores, 0.0)
    group = _group_of_bins(bins, groups)
    n = np.bincount(group, weights=rows, minlength=groups)
    positives = np.bincount(group, weights=pos, minlength=groups)
    predicted = np.bincount(group, weights=rows * scores, minlength=groups)
    seen = n > 0
    n, positives, predicted = n[seen], positives[seen], predicted[seen]
    gap = (positives - predicted) / n
    weight = n / total
    ece = float(weight @ np.abs(gap))
    second = float(neg @ scores**2 + pos @ (1 - scores) ** 2) / total
    sd = math.sqrt(max(0.0, second - ece * ece) / total)
    smoothed = (positives + 0.5) / (n + 1)
    sigma = np.sqrt(smoothed * (1 - smoothed) / n)
    delta = np.sqrt(np.maximum(0.0, gap**2 - sigma**2))
    folded = (sigma * math.sqrt(2 / math.pi) * np.exp(-(delta**2) / (2 * sigma**2))
              + delta * (1 - 2 * stats.norm.cdf(-delta / sigma)))
    bias = float(weight @ (folded - delta))
    return Metric("expected_calibration_error", ece, max(0.0, ece - bias - z * sd), ece + z * sd,
                  round(total))
