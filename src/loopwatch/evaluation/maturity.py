"""Label maturity: whether a window's outcomes have arrived far enough to compare it with the reference.

Labels arrive late, and the early ones are a biased subset: in a fraud system
legitimate transactions are confirmed within days while chargebacks take weeks.
A window's overall label coverage (labelled / decisions) is dominated by the
many negatives, so it reaches 90% of the reference's while half of the
positives are still missing, and precision and the base rate read low.

So coverage is compared stratum by stratum: the decisions below the threshold
and those at or above it (where positives concentrate). A window is *mature*
when, in every stratum, its coverage reaches ``maturity`` × the reference's
coverage of that stratum.

A cohort of a mature window is judged differently, since labels arrive at one
pace for every cohort and a small cohort's strata hold a few decisions: it is
*short of labels* only when, in some stratum, the upper Wilson bound of its
coverage is below the target, so noise in a handful of flagged decisions does
not hide a cohort from comparison.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from loopwatch.core.intervals import wilson
from loopwatch.evaluation.bins import ScoreBins

__all__ = ["DEFAULT_MATURITY", "LabelMaturity", "label_maturity"]

#: A window is mature when each stratum's label coverage reaches this share of the reference's.
DEFAULT_MATURITY = 0.9

_STRATA = ("below_threshold", "at_or_above_threshold")


@dataclass(frozen=True)
class LabelMaturity:
    """How far a window's labels have arrived, compared with the reference.

    ``coverage`` and ``reference_coverage`` are overall shares of decisions
    labelled; ``ratios`` holds, per stratum (``below_threshold``,
    ``at_or_above_threshold``), the window's coverage over the reference's (NaN
    where a stratum is empty in either); ``ratio`` is the smallest of them.
    ``mature``: every stratum's coverage reaches ``maturity`` × the reference's;
    ``short``: some stratum's coverage is significantly below that (its upper
    Wilson bound is), the test applied to a cohort of a mature window.
    """

    coverage: float
    reference_coverage: float
    ratio: float
    ratios: dict[str, float]
    maturity: float
    mature: bool
    short: bool
    decisions: int

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON keys; non-finite numbers as null."""
        return {"coverage": _number(self.coverage), "reference_coverage": _number(self.reference_coverage),
                "ratio": _number(self.ratio), "ratios": {k: _number(v) for k, v in self.ratios.items()},
                "maturity": self.maturity, "mature": self.mature, "short": self.short,
                "decisions": self.decisions}


def _number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _strata(by_label: npt.ArrayLike, flagged: npt.NDArray[np.bool_]) -> tuple[np.ndarray, np.ndarray]:
    counts = np.asarray(by_label, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] != 3:
        raise ValueError(f"by_label must have shape (3, bins): negative, positive, unlabelled; "
                         f"got shape {counts.shape}")
    if counts.shape[1] != flagged.size:
        raise ValueError(f"by_label has {counts.shape[1]} score bins but bins has {flagged.size}; "
                         "use the ScoreBins of the profile's binning")
    labelled = counts[:2].sum(axis=0)
    total = counts.sum(axis=0)
    masks = (~flagged, flagged)
    return (np.array([labelled[m].sum() for m in masks]), np.array([total[m].sum() for m in masks]))


def label_maturity(by_label: npt.ArrayLike, reference: npt.ArrayLike, *, bins: ScoreBins, threshold: float,
                   maturity: float = DEFAULT_MATURITY, confidence: float = 0.95) -> LabelMaturity:
    """Compare a window's label coverage with the reference's, per decision stratum.

    Parameters
    ----------
    by_label
        The window's :attr:`~loopwatch.core.profile.ScoreStats.by_label`
        (rows negative, positive, unlabelled; columns score bins).
    reference
        The reference's ``by_label``, same binning.
    bins
        The score bins of the binning.
    threshold
        Decisions are ``score >= threshold``; it splits the two strata.
    maturity
        Share of the reference's coverage each stratum must reach, in (0, 1].
    confidence
        Level of the Wilson bound that decides whether a stratum is short of labels.

    Returns
    -------
    LabelMaturity
        Not mature (and short of labels) when either window has no decisions.

    Examples
    --------
    >>> bins = ScoreBins.from_edges((0.5,), lowest=0.1)
    >>> reference = [[900, 20], [10, 60], [50, 10]]
    >>> early = [[850, 10], [2, 8], [100, 70]]   # negatives confirmed, chargebacks pending
    >>> m = label_maturity(early, reference, bins=bins, threshold=0.5)
    >>> round(m.coverage, 3), round(m.ratios["at_or_above_threshold"], 2), m.mature, m.short
    (0.837, 0.23, False, True)
    >>> label_maturity(reference, reference, bins=bins, threshold=0.5).mature
    True
    >>> few = [[90, 2], [1, 3], [5, 2]]   # 5 of 7 flagged labelled: below target, but not significantly
    >>> m = label_maturity(few, reference, bins=bins, threshold=0.5)
    >>> m.mature, m.short
    (False, False)
    """
    if not 0 < maturity <= 1:
        raise ValueError(f"maturity must be in (0, 1]; got {maturity}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    flagged = bins.flagged(threshold)
    labelled, total = _strata(by_label, flagged)
    ref_labelled, ref_total = _strata(reference, flagged)
    coverage = float(labelled.sum() / total.sum()) if total.sum() else math.nan
    ref_coverage = float(ref_labelled.sum() / ref_total.sum()) if ref_total.sum() else math.nan
    ratios: dict[str, float] = {}
    mature = bool(total.sum() > 0 and ref_total.sum() > 0)
    short = not mature
    for name, got, n, ref_got, ref_n in zip(_STRATA, labelled, total, ref_labelled, ref_total, strict=True):
        if n == 0 or ref_n == 0 or ref_got == 0:
            ratios[name] = math.nan
            continue
        target = ref_got / ref_n
        ratios[name] = float(got / n / target)
        if ratios[name] < maturity:
            mature = False
        _, high = wilson(float(got), float(n), confidence=confidence)
        if high < maturity * target:
            short = True
    finite = [r for r in ratios.values() if math.isfinite(r)]
    return LabelMaturity(coverage=coverage, reference_coverage=ref_coverage,
                         ratio=min(finite) if finite else math.nan, ratios=ratios, maturity=maturity,
                         mature=mature, short=short, decisions=round(float(total.sum())))
