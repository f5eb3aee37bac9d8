"""Intervals and multiple-testing control shared by evaluation and monitoring."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

__all__ = ["adjusted_p_values", "benjamini_hochberg", "wilson"]


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
