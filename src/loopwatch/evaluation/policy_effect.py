"""The effect of deciding by the model rather than by the holdout policy, from a randomized holdout.

The prediction loop sends a random share of decisions (``holdout_probability``,
logged with each) to a baseline policy instead of the model. Outcomes of the two
arms are then comparable, and their difference is what the model *causes*,
whatever the world did meanwhile. Each arm's mean outcome is estimated by
inverse-propensity weighting with the logged probabilities, normalized (the
Hájek estimator; Hájek 1971, comment in *Foundations of Statistical Inference*,
p. 236; see Imbens & Rubin 2015, *Causal Inference for Statistics, Social, and
Biomedical Sciences*, ch. 12)::

    mean_model   = Σ (1 − H_i) Y_i / (1 − p_i)  /  Σ (1 − H_i) / (1 − p_i)
    mean_holdout = Σ H_i Y_i / p_i              /  Σ H_i / p_i

so a probability that changed during the window (a holdout share raised from 1%
to 5%) weighs each decision by how likely its arm was. Normalizing makes the
estimate invariant to a constant factor in the weights and keeps it inside the
outcomes' range. Its variance is the linearization (delta method) of the ratio,
``Σ w_i² (Y_i − mean)² / (Σ w_i)²`` per arm; the arms are disjoint, so the
variance of the difference is the sum of every decision's term ``a_i``.

The interval is Student's t with Welch–Satterthwaite degrees of freedom, each
arm's taken as its effective number of variance terms less one for its mean,
``(Σ a_i)² / Σ a_i² − 1`` (Satterthwaite 1946; with equal terms it is ``n − 1``
and the interval Welch's). It matters for dollar losses: a holdout arm's few
positives of a low-share era carry large weights, a handful of heavy-tailed terms
make most of the variance, and the normal interval then covered the true effect
in only 87–92% of simulated windows (lognormal losses, a share rising from 2% or
5% to 20–25%; docs/DESIGN-NOTES.md). With many comparable terms the degrees of
freedom are many and the interval is the normal one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = ["PolicyEffect", "policy_effect"]


@dataclass(frozen=True)
class PolicyEffect:
    """Mean outcome per decision under the model and under the holdout, and the difference (model − holdout).

    ``n_model`` and ``n_holdout`` count each arm's decisions; ``df`` is the interval's
    degrees of freedom (infinite: normal); ``status`` is ``ok`` or ``not_enough_data``
    (an arm has fewer than ``min_rows``: no interval).
    """

    outcome: str
    model: float
    holdout: float
    effect: float
    low: float
    high: float
    se: float
    n_model: int
    n_holdout: int
    confidence: float = 0.95
    status: str = "ok"
    df: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON keys; non-finite numbers as null."""
        return {"outcome": self.outcome, "model": _number(self.model), "holdout": _number(self.holdout),
                "effect": _number(self.effect), "low": _number(self.low), "high": _number(self.high),
                "se": _number(self.se), "n_model": self.n_model, "n_holdout": self.n_holdout,
                "df": _number(self.df), "confidence": self.confidence, "status": self.status}


def _number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _hajek(y: npt.NDArray[np.float64], w: npt.NDArray[np.float64]) -> tuple[float, npt.NDArray[np.float64]]:
    """The weighted mean and each decision's term of its variance (their sum is the variance)."""
    total = float(w.sum())
    if total <= 0:
        return math.nan, np.full(len(y), math.nan)
    mean = float(w @ y) / total
    return mean, (w * (y - mean)) ** 2 / total**2


def _degrees_of_freedom(*arms: npt.NDArray[np.float64]) -> float:
    """Welch–Satterthwaite degrees of freedom of a variance summed over arms, each a sum of terms
    (module docstring); at least 1."""
    variances, shares = [], []
    for terms in arms:
        variance, squares = float(terms.sum()), float(terms @ terms)
        if squares <= 0:
            continue  # an arm without spread adds no uncertainty to the variance
        variances.append(variance)
        shares.append(variance**2 / max(variance**2 / squares - 1.0, 1e-12))
    if not variances or sum(shares) <= 0:
        return math.inf
    return max(1.0, sum(variances) ** 2 / sum(shares))


def policy_effect(outcomes: npt.ArrayLike, holdout: npt.ArrayLike, probability: npt.ArrayLike, *,
                  outcome: str = "outcome", confidence: float = 0.95, min_rows: int = 30) -> PolicyEffect:
    """Mean outcome of model-decided minus holdout decisions, by weighting (module docstring).

    Parameters
    ----------
    outcomes
        Each decision's outcome (e.g. dollars lost), finite.
    holdout
        True where the holdout policy decided.
    probability
        Each decision's logged probability of the holdout arm, in (0, 1).
    outcome
        Name of the outcome, for reports.
    confidence
        Level of the interval.
    min_rows
        Fewer decisions than this in an arm: ``not_enough_data``, no interval.

    Raises
    ------
    ValueError
        Lengths differ, an outcome is not finite, or a probability is outside (0, 1).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> h = rng.random(20_000) < 0.1
    >>> y = np.where(h, rng.normal(5.0, 2.0, 20_000), rng.normal(3.0, 2.0, 20_000))
    >>> e = policy_effect(y, h, np.full(20_000, 0.1))
    >>> round(e.effect, 1), e.low < -2.0 < e.high
    (-2.0, True)
    """
    y = np.asarray(outcomes, dtype=np.float64)
    h = np.asarray(holdout, dtype=np.bool_)
    p = np.asarray(probability, dtype=np.float64)
    if not y.shape == h.shape == p.shape or y.ndim != 1:
        raise ValueError(f"outcomes, holdout and probability must be 1-d of one length; got shapes "
                         f"{y.shape}, {h.shape} and {p.shape}")
    if not np.isfinite(y).all():
        raise ValueError("outcomes must be finite; got a NaN or infinite outcome")
    if not ((p > 0) & (p < 1)).all():
        raise ValueError(f"holdout probabilities must be in (0, 1); got {float(p.min())} to {float(p.max())}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    n_model, n_holdout = int((~h).sum()), int(h.sum())
    model, terms_model = _hajek(y[~h], 1.0 / (1.0 - p[~h]))
    held, terms_held = _hajek(y[h], 1.0 / p[h])
    effect = model - held
    if min(n_model, n_holdout) < min_rows:
        return PolicyEffect(outcome, model, held, effect, math.nan, math.nan, math.nan, n_model, n_holdout,
                            confidence, "not_enough_data")
    se = math.sqrt(float(terms_model.sum() + terms_held.sum()))
    df = _degrees_of_freedom(terms_model, terms_held)
    level = 0.5 + confidence / 2
    q = float(stats.norm.ppf(level) if math.isinf(df) else stats.t.ppf(level, df))
    return PolicyEffect(outcome, model, held, effect, effect - q * se, effect + q * se, se, n_model,
                        n_holdout, confidence, df=df)
