"""Intervals and multiple-testing control shared by evaluation and monitoring."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

__all__ = ["adjusted_p_values", "benjamini_hochberg", "kappa_interval", "newcombe", "wilson"]


def wilson(successes: float, trials: float, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion (Wilson 1927); ``(nan, nan)`` when ``trials`` is 0.

    Examples
    --------
    >>> low, high = wilson(8, 10)
    >>> round(low, 4), round(high, 4)
    (0.4902, 0.9433)
    """
    if trials <= 0:
        return math.nan, math.nan
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(x1: float, n1: float, x2: float, n2: float, *,
             confidence: float = 0.95) -> tuple[float, float]:
    """Interval of the difference of two independent proportions ``x1/n1 - x2/n2`` from their Wilson
    intervals (Newcombe 1998, "Interval estimation for the difference between independent proportions:
    comparison of eleven methods", *Statistics in Medicine* 17:873-890, method 10);
    ``(nan, nan)`` when either side has no trials.

    Examples
    --------
    >>> low, high = newcombe(56, 70, 48, 80)  # Newcombe's example (a): 0.0524 to 0.3339
    >>> round(low, 4), round(high, 4)
    (0.0524, 0.3339)
    """
    if n1 <= 0 or n2 <= 0:
        return math.nan, math.nan
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, confidence=confidence)
    l2, u2 = wilson(x2, n2, confidence=confidence)
    d = p1 - p2
    return d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def kappa_interval(table: Sequence[Sequence[float]], *,
                   confidence: float = 0.95) -> tuple[float, float, float]:
    """Cohen's kappa of a square agreement table (rows one rater, columns the other), its large-sample
    standard error (Fleiss, Cohen & Everitt 1969, "Large sample standard errors of kappa and weighted
    kappa", *Psychological Bulletin* 72(5):323-327; the non-null variance, as in Fleiss, Levin & Paik
    2003, *Statistical Methods for Rates and Proportions*, eq. 18.13) and a normal interval clipped to
    [-1, 1]: ``(kappa, low, high)``; all ``nan`` when the table is empty or chance agreement is total.

    With perfect agreement the standard error is 0 and the interval a point.

    Examples
    --------
    >>> kappa, low, high = kappa_interval([[40, 10], [5, 45]])
    >>> round(kappa, 3), round(low, 3), round(high, 3)
    (0.7, 0.561, 0.839)
    """
    counts = np.asarray(table, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"expected a square table; got shape {counts.shape}")
    n = float(counts.sum())
    if n <= 0:
        return math.nan, math.nan, math.nan
    p = counts / n
    rows, cols = p.sum(axis=1), p.sum(axis=0)
    observed, chance = float(np.trace(p)), float(rows @ cols)
    if chance >= 1:
        return math.nan, math.nan, math.nan
    kappa = (observed - chance) / (1 - chance)
    diagonal = np.diag(p) @ ((1 - chance) - (rows + cols) * (1 - observed)) ** 2
    off = p * (cols[:, None] + rows[None, :]) ** 2  # cell (i, j) weighs (p.i + pj.)²
    off_diagonal = (1 - observed) ** 2 * float(off.sum() - np.trace(off))
    both = (observed * chance - 2 * chance + observed) ** 2
    variance = (diagonal + off_diagonal - both) / (n * (1 - chance) ** 4)
    half = float(stats.norm.ppf(0.5 + confidence / 2)) * math.sqrt(max(variance, 0.0))
    return kappa, max(-1.0, kappa - half), min(1.0, kappa + half)


def adjusted_p_values(p_values: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg adjusted p-values (q-values), by :func:`scipy.stats.false_discovery_control`.

    A hypothesis is rejected at false discovery rate ``fdr`` exactly when its
    q-value is at most ``fdr``. NaN p-values (no test possible) stay NaN and do
    not count as tests.

    Examples
    --------
    >>> [round(q, 4) for q in adjusted_p_values([0.001, 0.02, 0.04, 0.5, float("nan")])]
    [0.004, 0.04, 0.0533, 0.5, nan]
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    valid = ~np.isnan(p)
    if valid.any():
        out[valid] = stats.false_discovery_control(p[valid], method="bh")
    return [float(q) for q in out]


def benjamini_hochberg(p_values: Sequence[float], *, fdr: float = 0.05) -> list[bool]:
    """Which hypotheses are rejected at false discovery rate ``fdr`` (Benjamini & Hochberg 1995).

    NaN p-values (no test possible) are never rejected and do not count as tests.

    Examples
    --------
    >>> benjamini_hochberg([0.001, 0.02, 0.04, 0.5], fdr=0.05)
    [True, True, False, False]
    """
    if not 0 < fdr < 1:
        raise ValueError(f"fdr must be in (0, 1); got {fdr}")
    return [q <= fdr for q in adjusted_p_values(p_values)]  # NaN compares False
