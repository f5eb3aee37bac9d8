"""Paired differences between two models scored on the same decisions.

Two versions compared on the same traffic (shadow scores logged side by side,
or logged decisions replayed through both) make correlated errors, so the
difference of their metrics has a much narrower interval than two independent
intervals suggest. Each statistic here is the *challenger minus the champion*,
with an interval that accounts for the pairing:

* ROC AUC: the correlated-samples variance of DeLong, DeLong & Clarke-Pearson
  (1988), "Comparing the areas under two or more correlated receiver operating
  characteristic curves: a nonparametric approach", *Biometrics* 44:837-845,
  computed from midranks as in Sun & Xu (2014), "Fast implementation of DeLong's
  algorithm for comparing the areas under correlated receiver operating
  characteristic curves", *IEEE Signal Processing Letters* 21:1389-1393
  (O(n log n); a normal interval on the difference).
* Rates at the threshold (recall, false-positive rate, precision, decision
  rate): a paired bootstrap over decisions. Every labelled decision falls in one
  of eight cells (label × champion flags × challenger flags) and every rate is a
  function of the eight counts, so resampling decisions with replacement is a
  multinomial draw of the counts: exact, and independent of the window's size.
* Value per decision (the spec's value model): a paired bootstrap of the mean
  per-decision difference. Only decisions the two versions decide differently
  differ in value; a resample holds a binomial number of them, drawn from those,
  which is the same distribution as resampling every decision.

scikit-learn and scipy have no correlated DeLong test (scipy's bootstrap does
the pairing but resamples every row, seconds per cohort on a month of traffic),
which is why these are written here (docs/DESIGN-NOTES.md, "Champion and
challenger").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = ["PAIRED_RATES", "PairedDifference", "paired_auc", "paired_rates", "paired_value"]

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

#: The rates at the threshold that :func:`paired_rates` compares.
PAIRED_RATES = ("recall", "false_positive_rate", "precision", "decision_rate")


@dataclass(frozen=True)
class PairedDifference:
    """A metric of the champion and of the challenger on the same decisions, and their difference.

    ``difference`` is challenger minus champion with its interval ``[low, high]``
    at ``confidence``. ``se`` is the standard error of a normal interval (DeLong),
    NaN for a bootstrap one, whose sorted draws of the difference are kept for
    :meth:`p_at_most`.

    Examples
    --------
    >>> d = PairedDifference("roc_auc", 0.80, 0.83, 0.03, 0.01, 0.05, n=900, se=0.0102)
    >>> round(d.p_at_most(0.0), 4), round(d.p_at_most(-0.01), 5)
    (0.0016, 4e-05)
    """

    metric: str
    champion: float
    challenger: float
    difference: float
    low: float
    high: float
    n: int
    se: float = math.nan
    confidence: float = 0.95
    draws: Floats | None = field(default=None, repr=False, compare=False)

    def p_at_most(self, bound: float) -> float:
        """One-sided p-value of "the true difference is at most ``bound``" (small: it is above).

        ``p_at_most(-margin)`` tests non-inferiority with ``margin``; ``p_at_most(0)``
        superiority. From the normal approximation when ``se`` is known, else from
        the bootstrap draws (the share at or below ``bound``, plus one, over draws
        plus one). NaN when the difference has no interval.
        """
        if math.isfinite(self.se) and self.se > 0:
            return float(stats.norm.sf((self.difference - bound) / self.se))
        if math.isfinite(self.se):  # no spread at all: the difference is what it is
            return 0.0 if self.difference > bound else 1.0
        if self.draws is None or self.draws.size == 0:
            return math.nan
        at_most = int(np.searchsorted(self.draws, bound, side="right"))
        return (at_most + 1) / (self.draws.size + 1)

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON keys; non-finite numbers as null."""
        return {"metric": self.metric, "champion": _number(self.champion),
                "challenger": _number(self.challenger), "difference": _number(self.difference),
                "low": _number(self.low), "high": _number(self.high), "n": self.n,
                "se": _number(self.se), "confidence": self.confidence}


def _number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    return float(stats.norm.ppf(0.5 + confidence / 2))


def _placements(positives: Floats, negatives: Floats) -> tuple[Floats, Floats]:
    """DeLong's structural components of one score: ``V10`` per positive, ``V01`` per negative."""
    m, n = positives.size, negatives.size
    combined = stats.rankdata(np.concatenate([positives, negatives]))
    within_pos = stats.rankdata(positives)
    within_neg = stats.rankdata(negatives)
    v10 = (combined[:m] - within_pos) / n  # share of negatives below each positive (ties ½)
    v01 = 1.0 - (combined[m:] - within_neg) / m  # share of positives above each negative
    return v10, v01


def paired_auc(labels: npt.ArrayLike, champion: npt.ArrayLike, challenger: npt.ArrayLike, *,
               confidence: float = 0.95) -> PairedDifference:
    """Difference of the two versions' ROC AUC on the same decisions, with DeLong's paired interval.

    Parameters
    ----------
    labels
        True for a positive outcome, one per decision (labelled decisions only).
    champion, challenger
        Each version's score of the same decisions, in the same order.
    confidence
        Level of the interval.

    Raises
    ------
    ValueError
        Lengths differ, a score is not finite, or a class is empty.

    Examples
    --------
    >>> labels = [True, True, True, False, False, False, False]
    >>> d = paired_auc(labels, [.9, .4, .7, .5, .2, .3, .1], [.9, .8, .7, .5, .2, .3, .1])
    >>> round(d.champion, 4), round(d.challenger, 4), round(d.difference, 4), round(d.se, 4)
    (0.9167, 1.0, 0.0833, 0.1179)
    """
    y = np.asarray(labels, dtype=np.bool_)
    a = np.asarray(champion, dtype=np.float64)
    b = np.asarray(challenger, dtype=np.float64)
    if not y.shape == a.shape == b.shape or y.ndim != 1:
        raise ValueError(f"labels and both scores must be 1-d of one length; got shapes "
                         f"{y.shape}, {a.shape} and {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("scores must be finite; got a NaN or infinite score")
    m, n = int(y.sum()), int((~y).sum())
    if m == 0 or n == 0:
        raise ValueError(f"the AUC needs both classes; got {m} positives and {n} negatives")
    z = _z(confidence)
    v10a, v01a = _placements(a[y], a[~y])
    v10b, v01b = _placements(b[y], b[~y])
    auc_a, auc_b = float(v10a.mean()), float(v10b.mean())
    # Var(AUC_b - AUC_a) = (S10_aa + S10_bb - 2 S10_ab)/m + (same for S01)/n; a single
    # row per class has no sample covariance, so it counts as no spread of its own
    s10 = np.cov(np.vstack([v10a, v10b]), ddof=1) if m > 1 else np.zeros((2, 2))
    s01 = np.cov(np.vstack([v01a, v01b]), ddof=1) if n > 1 else np.zeros((2, 2))
    variance = ((s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m
                + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / n)
    se = math.sqrt(max(float(variance), 0.0))
    diff = auc_b - auc_a
    return PairedDifference("roc_auc", auc_a, auc_b, diff, diff - z * se, diff + z * se,
                            n=m + n, se=se, confidence=confidence)


def _rates(cells: npt.NDArray[np.float64]) -> dict[str, tuple[Floats, Floats]]:
    """Each rate of the champion and the challenger from cell counts ``[..., label, a, b]``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        pos = cells[..., 1, :, :].sum(axis=(-1, -2))
        neg = cells[..., 0, :, :].sum(axis=(-1, -2))
        total = pos + neg
        flagged_a = cells[..., :, 1, :].sum(axis=(-1, -2))
        flagged_b = cells[..., :, :, 1].sum(axis=(-1, -2))
        tp_a = cells[..., 1, 1, :].sum(axis=-1)
        tp_b = cells[..., 1, :, 1].sum(axis=-1)
        fp_a = cells[..., 0, 1, :].sum(axis=-1)
        fp_b = cells[..., 0, :, 1].sum(axis=-1)
        return {"recall": (tp_a / pos, tp_b / pos),
                "false_positive_rate": (fp_a / neg, fp_b / neg),
                "precision": (tp_a / flagged_a, tp_b / flagged_b),
                "decision_rate": (flagged_a / total, flagged_b / total)}


def _percentile(metric: str, champion: float, challenger: float, draws: Floats, n: int,
                confidence: float) -> PairedDifference:
    draws = np.sort(draws[np.isfinite(draws)])
    diff = challenger - champion
    if draws.size == 0 or not math.isfinite(diff):
        return PairedDifference(metric, champion, challenger, diff, math.nan, math.nan, n=n,
                                confidence=confidence, draws=draws)
    tail = (1 - confidence) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    return PairedDifference(metric, champion, challenger, diff, float(low), float(high), n=n,
                            confidence=confidence, draws=draws)


def paired_rates(labels: npt.ArrayLike, champion_flags: npt.ArrayLike, challenger_flags: npt.ArrayLike,
                 *, confidence: float = 0.95, resamples: int = 2000,
                 seed: int = 0) -> dict[str, PairedDifference]:
    """Differences of recall, false-positive rate, precision and decision rate, by paired bootstrap.

    ``champion_flags`` and ``challenger_flags`` say whether each version flags each
    (labelled) decision (score at or above the threshold). A rate undefined in the
    window (no positives for recall) is NaN with no interval.

    Examples
    --------
    >>> y = [True] * 40 + [False] * 160
    >>> a = [True] * 20 + [False] * 20 + [True] * 10 + [False] * 150
    >>> b = [True] * 30 + [False] * 10 + [True] * 10 + [False] * 150
    >>> r = paired_rates(y, a, b, seed=1)["recall"]
    >>> r.champion, r.challenger, r.difference, 0.1 < r.low < r.high < 0.4
    (0.5, 0.75, 0.25, True)
    """
    y = np.asarray(labels, dtype=np.bool_)
    a = np.asarray(champion_flags, dtype=np.bool_)
    b = np.asarray(challenger_flags, dtype=np.bool_)
    if not y.shape == a.shape == b.shape or y.ndim != 1:
        raise ValueError(f"labels and both flags must be 1-d of one length; got shapes "
                         f"{y.shape}, {a.shape} and {b.shape}")
    if resamples < 100:
        raise ValueError(f"resamples must be >= 100; got {resamples}")
    _z(confidence)
    cells = np.zeros((2, 2, 2))
    np.add.at(cells, (y.astype(np.int64), a.astype(np.int64), b.astype(np.int64)), 1.0)
    rng = np.random.default_rng(seed)
    drawn = rng.multinomial(y.size, cells.ravel() / max(y.size, 1), size=resamples).reshape(-1, 2, 2, 2)
    observed = _rates(cells)
    resampled = _rates(drawn.astype(np.float64))
    out: dict[str, PairedDifference] = {}
    for name in PAIRED_RATES:
        (champ, chall), (draw_a, draw_b) = observed[name], resampled[name]
        out[name] = _percentile(name, float(champ), float(chall), draw_b - draw_a, y.size, confidence)
    return out


def paired_value(champion_values: npt.ArrayLike, challenger_values: npt.ArrayLike, *,
                 confidence: float = 0.95, resamples: int = 2000, seed: int = 0) -> PairedDifference:
    """Difference of the mean value per decision, by paired bootstrap over decisions.

    ``champion_values`` and ``challenger_values`` are each decision's value under
    each version's decision (the spec's value model applied to its outcome).

    Examples
    --------
    >>> a = [0.0] * 90 + [-15.0] * 10
    >>> b = [0.0] * 95 + [-15.0] * 5
    >>> d = paired_value(a, b, seed=1)
    >>> d.champion, d.challenger, d.difference, d.low > 0
    (-1.5, -0.75, 0.75, True)
    """
    va = np.asarray(champion_values, dtype=np.float64)
    vb = np.asarray(challenger_values, dtype=np.float64)
    if va.shape != vb.shape or va.ndim != 1:
        raise ValueError(f"both values must be 1-d of one length; got shapes {va.shape} and {vb.shape}")
    if not (np.isfinite(va).all() and np.isfinite(vb).all()):
        raise ValueError("values must be finite; got a NaN or infinite value")
    if resamples < 100:
        raise ValueError(f"resamples must be >= 100; got {resamples}")
    _z(confidence)
    n = va.size
    if n == 0:
        return PairedDifference("value_per_decision", math.nan, math.nan, math.nan, math.nan,
                                math.nan, n=0, confidence=confidence)
    delta = vb - va
    differing = delta[delta != 0]
    rng = np.random.default_rng(seed)
    counts = rng.binomial(n, differing.size / n, size=resamples)
    draws = np.array([differing[rng.integers(0, differing.size, size=k)].sum() if k else 0.0
                      for k in counts]) / n
    return _percentile("value_per_decision", float(va.mean()), float(vb.mean()), draws, n, confidence)
