"""The ROC AUC's interval from binned scores: a Dirichlet-process posterior, by saddlepoint.

The AUC of binned scores is ``p·K·q``: ``p`` and ``q`` the positives' and the
negatives' distributions over the score bins, ``K[i, j]`` 1 when bin ``i`` is
above bin ``j`` and ½ when it is the same bin. Each class's distribution gets a
Dirichlet-process prior (Ferguson 1973, "A Bayesian analysis of some
nonparametric problems", *Annals of Statistics* 1:209-230) with concentration
``prior`` and, as base measure, the *other* class's observed distribution: before
the data, ``prior`` pseudo-positives that score like the negatives and as many
pseudo-negatives that score like the positives, a model that cannot tell the
classes apart. The posterior of each class is then a Dirichlet over the bins
(the counts plus the prior's mass), which makes the interval the Bayesian
bootstrap (Rubin 1981, "The Bayesian bootstrap", *Annals of Statistics*
9:130-134) of the AUC with a small prior: where a window's few positives happen
to all rank high, the prior's pseudo-positive stands for the badly ranked ones
the sample may lack, which is where the DeLong interval fails.

The equal-tailed credible interval is computed without sampling. Given the
negatives' posterior mean, the AUC is ``Σ G_i u_i / Σ G_i`` with independent
``G_i ~ Gamma(a_i)`` (``a`` the positives' posterior parameters, ``u`` each bin's
placement among the negatives), so ``P(AUC <= t) = P(Σ G_i (u_i - t) <= 0)``, a
weighted sum of gamma variables whose distribution function is computed with
the saddlepoint approximation of Lugannani & Rice (1980), "Saddle point
approximation for the distribution of the sum of independent random variables",
*Advances in Applied Probability* 12:475-490 (accurate to a few parts in a
thousand in the tails here, against 20,000 posterior draws). The negatives'
posterior spread, small unless the window has few negatives, is added as a
normal term (its exact Dirichlet variance), integrated by 9-point Gauss-Hermite
quadrature. The prior's mass on bins without positives is gathered into 60
groups of equal mass by placement, so the cost grows with the bins that hold
positives, not with all bins: about a millisecond or two per window.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

__all__ = ["auc_credible_interval"]

Floats = npt.NDArray[np.float64]

_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(9)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()
_PRIOR_GROUPS = 60


def _normal_cdf(x: Floats) -> Floats:
    return np.asarray(special.ndtr(x), dtype=np.float64)


def _gamma_sum_cdf(shape: Floats, weights: Floats) -> Floats:
    """``P(Σ_i G_i c_ri <= 0)`` for each row ``r`` of ``weights``, ``G_i ~ Gamma(shape_i)`` (saddlepoint)."""
    c = np.atleast_2d(weights)
    out = np.full(c.shape[0], math.nan)
    highest, lowest = c.max(axis=1), c.min(axis=1)
    out[highest <= 0] = 1.0
    out[lowest >= 0] = 0.0
    live = np.isnan(out)
    if not live.any():
        return out
    c = c[live]
    # the cumulant generating function K(s) = -Σ a log(1 - s c) exists for 1/min(c) < s < 1/max(c)
    low, high = 1 / c.min(axis=1), 1 / c.max(axis=1)
    s = np.zeros(c.shape[0])
    for _ in range(100):
        denominator = 1 - s[:, None] * c
        k1 = (shape * c / denominator).sum(axis=1)
        k2 = (shape * c * c / denominator**2).sum(axis=1)
        newton = s - k1 / k2
        converged = np.abs(newton - s) <= 1e-11 * (1 + np.abs(s))
        high = np.where(k1 > 0, s, high)
        low = np.where(k1 <= 0, s, low)
        # Newton inside the bracket of K'(s) = 0, else bisection
        s = np.where(converged | ((newton > low) & (newton < high)), newton, 0.5 * (low + high))
        if converged.all():
            break
    denominator = 1 - s[:, None] * c
    k = -(shape * np.log(denominator)).sum(axis=1)
    k2 = (shape * c * c / denominator**2).sum(axis=1)
    w = np.sign(s) * np.sqrt(np.maximum(-2 * k, 0.0))
    v = s * np.sqrt(k2)
    near = np.abs(v) < 1e-5
    safe_w, safe_v = np.where(near, 1.0, w), np.where(near, 1.0, v)
    value = _normal_cdf(w) + np.exp(-w * w / 2) / math.sqrt(2 * math.pi) * (1 / safe_w - 1 / safe_v)
    if near.any():
        # at the mean: the normal approximation with its skewness term (Edgeworth)
        k1_0 = (shape * c[near]).sum(axis=1)
        k2_0 = (shape * c[near] ** 2).sum(axis=1)
        k3_0 = 2 * (shape * c[near] ** 3).sum(axis=1)
        z = -k1_0 / np.sqrt(k2_0)
        value[near] = (_normal_cdf(z) - np.exp(-z * z / 2) / math.sqrt(2 * math.pi)
                       * k3_0 / k2_0**1.5 * (z * z - 1) / 6)
    out[live] = np.clip(value, 0.0, 1.0)
    return out


def _posterior(negatives: Floats, positives: Floats, prior: float) -> tuple[Floats, Floats, float]:
    """Gamma shapes and placements of the positives' posterior cells, and the negatives' posterior sd."""
    m, n = float(positives.sum()), float(negatives.sum())
    a = positives + prior * negatives / n
    b = negatives + prior * positives / m
    q = b / b.sum()
    p = a / a.sum()
    placement = np.cumsum(q) - q / 2
    observed = positives > 0
    only_prior = ~observed & (a > 0)
    shapes, places = [a[observed]], [placement[observed]]
    if only_prior.any():
        order = np.argsort(placement[only_prior], kind="stable")
        mass, where = a[only_prior][order], placement[only_prior][order]
        cuts = np.searchsorted(np.cumsum(mass), np.linspace(0, mass.sum(), _PRIOR_GROUPS + 1)[1:-1])
        for group_mass, group_place in zip(np.split(mass, cuts), np.split(where, cuts), strict=True):
            total = float(group_mass.sum())
            if total > 0:
                shapes.append(np.array([total]))
                places.append(np.array([float(group_mass @ group_place) / total]))
    above = 1 - np.cumsum(p) + p / 2  # share of positives above a negative of each bin
    total_b = float(b.sum())
    variance = max(float(b @ above**2) / total_b - float(q @ above) ** 2, 0.0) / (total_b + 1)
    return np.concatenate(shapes), np.concatenate(places), math.sqrt(variance)


def auc_credible_interval(negatives: Floats, positives: Floats, *, prior: float,
                          confidence: float) -> tuple[float, float]:
    """Equal-tailed credible interval of the AUC under the Dirichlet-process prior (module docstring).

    ``negatives`` and ``positives`` are the counts per score bin (both classes non-empty).

    Examples
    --------
    >>> import numpy as np
    >>> low, high = auc_credible_interval(np.array([40., 30, 20, 10]), np.array([10., 20, 30, 40]),
    ...                                   prior=1.0, confidence=0.95)
    >>> round(low, 3), round(high, 3)
    (0.679, 0.809)
    """
    shapes, places, spread = _posterior(negatives, positives, prior)
    total = float(shapes.sum())
    mean = float(shapes @ places) / total
    own = math.sqrt(float(shapes @ (places - mean) ** 2) / (total * (total + 1)))
    # the negatives' spread is integrated only where it matters (few negatives against positives)
    nodes, weights = (spread * _NODES, _WEIGHTS) if spread > 0.05 * own else (np.zeros(1), np.ones(1))
    deviation = math.hypot(own, spread)

    def cdf(t: float) -> float:
        return float(weights @ _gamma_sum_cdf(shapes, places[None, :] - (t - nodes)[:, None]))

    def quantile(level: float) -> float:
        # bracket from the normal approximation, widened until the level is inside
        z = float(special.ndtri(level))
        low, high = mean + (z - 1) * deviation, mean + (z + 1) * deviation
        for _ in range(60):
            if low <= 0.0 or cdf(low) < level:
                break
            low -= 2 * deviation
        for _ in range(60):
            if high >= 1.0 or cdf(high) > level:
                break
            high += 2 * deviation
        low, high = max(low, 0.0), min(high, 1.0)
        if cdf(low) >= level:
            return low
        if cdf(high) <= level:
            return high
        return float(optimize.brentq(lambda t: cdf(t) - level, low, high, xtol=1e-7))

    tail = (1 - confidence) / 2
    return quantile(tail), quantile(1 - tail)
