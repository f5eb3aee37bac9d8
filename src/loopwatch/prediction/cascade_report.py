"""What a cascade buys: the share routed to the cheap model, the quality change, the cost change.

Scored on the same labelled rows by both models, the three policies (cheap model
only, full model only, the cascade) each get a ROC AUC with its interval
(:func:`loopwatch.evaluation.metrics.roc_auc`, exact bins of the distinct scores) and
a cost per decision; the cascade's change against the full model is a paired
difference, whose interval comes from DeLong's covariance of the two AUCs on the
same rows (DeLong, DeLong & Clarke-Pearson 1988; computed with midranks as in Sun &
Xu 2014, "Fast implementation of DeLong's algorithm", *IEEE Signal Processing
Letters* 21(11)), so it is much narrower than two separate intervals would suggest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from loopwatch.evaluation.metrics import Metric, roc_auc
from loopwatch.prediction.cascade import Cascade

__all__ = ["CascadeReport", "PolicyReport", "evaluate_cascade", "paired_auc_difference"]

Floats = npt.NDArray[np.float64]


def _by_label(scores: Floats, labels: npt.NDArray[np.bool_]) -> Floats:
    values, codes = np.unique(scores, return_inverse=True)
    out = np.zeros((2, values.size))
    np.add.at(out, (labels.astype(np.int64), codes), 1.0)
    return out


def paired_auc_difference(a: Floats, b: Floats, labels: npt.ArrayLike, *,
                          confidence: float = 0.95) -> tuple[float, float, float]:
    """``AUC(a) - AUC(b)`` on the same rows and its DeLong interval (normal, paired).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> y = rng.random(4000) < 0.2
    >>> a = y + rng.normal(0, 1.0, y.size)
    >>> diff, low, high = paired_auc_difference(a, a, y)
    >>> (diff, low, high)
    (0.0, 0.0, 0.0)
    """
    y = np.asarray(labels, dtype=bool)
    scores = np.vstack([np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)])
    m, n = int(y.sum()), int((~y).sum())
    if m < 2 or n < 2:
        return math.nan, math.nan, math.nan
    v10 = np.empty((2, m))
    v01 = np.empty((2, n))
    for k in range(2):
        every = stats.rankdata(scores[k])
        pos = stats.rankdata(scores[k][y])
        neg = stats.rankdata(scores[k][~y])
        v10[k] = (every[y] - pos) / n
        v01[k] = 1.0 - (every[~y] - neg) / m
    auc = v10.mean(axis=1)
    covariance = np.cov(v10) / m + np.cov(v01) / n
    contrast = np.array([1.0, -1.0])
    variance = float(contrast @ covariance @ contrast)
    diff = float(auc[0] - auc[1])
    half = float(stats.norm.ppf(0.5 + confidence / 2)) * math.sqrt(max(variance, 0.0))
    return diff, diff - half, diff + half


@dataclass(frozen=True)
class PolicyReport:
    """One policy's quality and cost: AUC with interval, cost per decision, share the full model scored."""

    name: str
    auc: Metric
    cost_per_decision: float
    full_share: float

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "auc": self.auc.to_dict(), "cost_per_decision": self.cost_per_decision,
                "full_share": self.full_share}


@dataclass(frozen=True)
class CascadeReport:
    """Cheap-only, full-only and cascade side by side, and the cascade's changes against full-only."""

    low: float
    high: float
    routed_share: float
    policies: tuple[PolicyReport, PolicyReport, PolicyReport]
    auc_change: tuple[float, float, float]
    cost_change: float
    decisions_changed: float

    def to_dict(self) -> dict[str, Any]:
        return {"low": self.low, "high": None if math.isinf(self.high) else self.high,
                "routed_share": self.routed_share, "policies": [p.to_dict() for p in self.policies],
                "auc_change": dict(zip(("value", "low", "high"), self.auc_change, strict=True)),
                "cost_change": self.cost_change, "decisions_changed": self.decisions_changed}


def evaluate_cascade(cascade: Cascade, *, cheap: Floats, full: Floats, labels: npt.ArrayLike,
                     cost_cheap: float, cost_full: float, threshold: float,
                     confidence: float = 0.95) -> CascadeReport:
    """Compare cheap-only, full-only and ``cascade`` on rows scored by both models, with labels.

    ``cost_cheap`` and ``cost_full`` are the cost of scoring one decision with each
    model (the cascade scores every row with the cheap model, and the escalated
    rows with the full one too). ``decisions_changed`` is the share of rows whose
    decision at ``threshold`` differs from the full model's.
    """
    c = np.asarray(cheap, dtype=np.float64)
    f = np.asarray(full, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    if not c.shape == f.shape == y.shape or c.ndim != 1:
        raise ValueError(f"cheap, full and labels must describe the same rows; got shapes "
                         f"{c.shape}, {f.shape}, {y.shape}")
    routed = cascade.confident(c)
    mixed = np.where(routed, c, f)
    escalated = float(1.0 - routed.mean()) if c.size else math.nan
    policies = (
        PolicyReport("cheap only", roc_auc(_by_label(c, y), confidence=confidence), cost_cheap, 0.0),
        PolicyReport("full only", roc_auc(_by_label(f, y), confidence=confidence), cost_full, 1.0),
        PolicyReport("cascade", roc_auc(_by_label(mixed, y), confidence=confidence),
                     cost_cheap + escalated * cost_full, escalated),
    )
    changed = float(np.mean((mixed >= threshold) != (f >= threshold))) if c.size else math.nan
    return CascadeReport(
        low=cascade.low, high=cascade.high, routed_share=1.0 - escalated, policies=policies,
        auc_change=paired_auc_difference(mixed, f, y, confidence=confidence),
        cost_change=policies[2].cost_per_decision - cost_full, decisions_changed=changed)
