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

No interval is reported (``not_enough_data``) when the estimate's sampling distribution
is predicted to be too skewed for any t interval: a holdout arm whose weight rests on a
few heavy-tailed losses can hold no large one in a window, and then both its estimate and
its standard error are too low together, which no interval built from that window alone
corrects (a bootstrap-t, Hall's correction, MOVER on the log scale were measured and fall
short; docs/DESIGN-NOTES.md). The window's own skewness is fooled the same way, so the
prediction takes the *shape* of the outcomes from both arms together (the model arm holds
many times the holdout's losses) and each arm's weights and share of non-zero outcomes
from that arm. Per arm, with ``q`` the weighted share of non-zero outcomes (one more
pseudo-outcome at the arm's mean weight, so an arm without any is not taken for a certain
zero) and ``L`` the non-zero outcomes of both arms::

    E[Y^k] = q · mean(L^k),   μ2, μ3 = central moments of Y
    variance = μ2 Σw² / (Σw)²,   third cumulant = μ3 Σw³ / (Σw)³

and the effect's skewness is (κ3_model − κ3_holdout) / (V_model + V_holdout)^1.5. It is the
reasoning of Cochran's rule (a mean is close enough to normal when its skewness, the
outcomes' over √n, is small; Cochran 1977, *Sampling Techniques*, 3rd ed., §2.15), applied
to a weighted, zero-inflated mean; the bound, 0.3 (``max_skewness``), was chosen by
simulation (benchmarks/learning_loop.py, RESULTS.md "Learning loop"). For a rate (outcomes
0 or 1) it asks for roughly a dozen positive outcomes in the holdout arm; for lognormal
dollar losses (σ 1) a few hundred.
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
    degrees of freedom (infinite: normal); ``skewness`` the estimate's predicted skewness
    (module docstring); ``status`` is ``ok`` or ``not_enough_data`` (an arm has fewer than
    ``min_rows``, or the skewness exceeds ``max_skewness``: no interval), and ``reason`` says which.
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
    skewness: float = math.nan
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON keys; non-finite numbers as null."""
        return {"outcome": self.outcome, "model": _number(self.model), "holdout": _number(self.holdout),
                "effect": _number(self.effect), "low": _number(self.low), "high": _number(self.high),
                "se": _number(self.se), "n_model": self.n_model, "n_holdout": self.n_holdout,
                "df": _number(self.df), "skewness": _number(self.skewness), "confidence": self.confidence,
                "status": self.status, "reason": self.reason}


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


def _arm_moments(y: npt.NDArray[np.float64], w: npt.NDArray[np.float64],
                 shape: tuple[float, float, float]) -> tuple[float, float]:
    """An arm's predicted variance and third cumulant of its weighted mean (module docstring)."""
    total, extra = float(w.sum()), float(w.mean())
    q = (float(w[y != 0].sum()) + extra) / (total + extra)
    m1, m2, m3 = (q * moment for moment in shape)
    mu2, mu3 = m2 - m1**2, m3 - 3 * m1 * m2 + 2 * m1**3
    return mu2 * float(w @ w) / total**2, mu3 * float((w**3).sum()) / total**3


def _skewness(y: npt.NDArray[np.float64], h: npt.NDArray[np.bool_], w: npt.NDArray[np.float64]) -> float:
    """The predicted skewness of model − holdout: each arm's weights and share of non-zero outcomes,
    the non-zero outcomes' shape from both arms (module docstring)."""
    losses = y[y != 0]
    if losses.size == 0:
        return 0.0
    scale = float(np.abs(losses).max())
    unit = losses / scale  # skewness is free of scale; this keeps the cubes finite
    shape = (float(np.mean(unit)), float(np.mean(unit**2)), float(np.mean(unit**3)))
    v_model, k_model = _arm_moments(y[~h], w[~h], shape)
    v_held, k_held = _arm_moments(y[h], w[h], shape)
    variance = v_model + v_held
    return (k_model - k_held) / variance**1.5 if variance > 0 else 0.0


def policy_effect(outcomes: npt.ArrayLike, holdout: npt.ArrayLike, probability: npt.ArrayLike, *,
                  outcome: str = "outcome", confidence: float = 0.95, min_rows: int = 30,
                  max_skewness: float = 0.3) -> PolicyEffect:
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
    max_skewness
        A larger predicted skewness of the estimate (in absolute value): ``not_enough_data``, no
        interval (module docstring); ``math.inf`` reports every interval.

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
    if not max_skewness > 0:
        raise ValueError(f"max_skewness must be positive; got {max_skewness}")
    n_model, n_holdout = int((~h).sum()), int(h.sum())
    model, terms_model = _hajek(y[~h], 1.0 / (1.0 - p[~h]))
    held, terms_held = _hajek(y[h], 1.0 / p[h])
    effect = model - held
    if min(n_model, n_holdout) < min_rows:
        return PolicyEffect(outcome, model, held, effect, math.nan, math.nan, math.nan, n_model, n_holdout,
                            confidence, "not_enough_data",
                            reason=f"{min(n_model, n_holdout)} decisions in an arm; an interval needs "
                                   f"{min_rows}")
    se = math.sqrt(float(terms_model.sum() + terms_held.sum()))
    df = _degrees_of_freedom(terms_model, terms_held)
    skewness = _skewness(y, h, np.where(h, 1.0 / p, 1.0 / (1.0 - p)))
    if abs(skewness) > max_skewness:
        return PolicyEffect(outcome, model, held, effect, math.nan, math.nan, se, n_model, n_holdout,
                            confidence, "not_enough_data", df, skewness,
                            reason=f"the estimate's predicted skewness {skewness:+.2f} is beyond "
                                   f"±{max_skewness:g}: too few non-zero outcomes in the holdout for "
                                   "how heavy their tail is")
    level = 0.5 + confidence / 2
    q = float(stats.norm.ppf(level) if math.isinf(df) else stats.t.ppf(level, df))
    return PolicyEffect(outcome, model, held, effect, effect - q * se, effect + q * se, se, n_model,
                        n_holdout, confidence, df=df, skewness=skewness)
