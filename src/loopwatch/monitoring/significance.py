"""The few significance tests the checks share (two proportions, two means, Poisson counts)."""

from __future__ import annotations

import math

from scipy import stats

__all__ = ["two_means", "two_proportions"]


def two_proportions(x1: float, n1: float, x2: float, n2: float) -> float:
    """Two-sided p-value that two proportions are equal (NaN if undefined).

    The pooled z-test; Fisher's exact test when an expected cell count is below
    10, where the normal approximation overstates significance (three errors in
    a small cohort are not evidence).

    Examples
    --------
    >>> round(two_proportions(300, 1000, 100, 1000), 8)
    0.0
    >>> round(two_proportions(3, 200, 10, 9000), 4)  # few events: exact
    0.0025
    """
    if n1 <= 0 or n2 <= 0:
        return math.nan
    pooled = (x1 + x2) / (n1 + n2)
    if pooled in (0.0, 1.0):
        return 1.0
    expected = min(n1 * pooled, n2 * pooled, n1 * (1 - pooled), n2 * (1 - pooled))
    if expected < 10:
        table = [[int(x1), int(n1 - x1)], [int(x2), int(n2 - x2)]]
        return float(stats.fisher_exact(table).pvalue)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = (x1 / n1 - x2 / n2) / se
    return float(2 * stats.norm.sf(abs(z)))


def two_means(mean1: float, var1: float, n1: float, mean2: float, var2: float,
              n2: float) -> tuple[float, float]:
    """Welch's z-test for two means: ``(p-value, standard error of the difference)``.

    Examples
    --------
    >>> p, se = two_means(1.0, 1.0, 100, 0.0, 1.0, 100)
    >>> round(se, 4), p < 1e-10
    (0.1414, True)
    """
    if n1 < 2 or n2 < 2 or not all(map(math.isfinite, (var1, var2, mean1, mean2))):
        return math.nan, math.nan
    se = math.sqrt(var1 / n1 + var2 / n2)
    if se == 0:
        return (1.0 if mean1 == mean2 else 0.0), 0.0
    return float(2 * stats.norm.sf(abs(mean1 - mean2) / se)), se
