"""The interval of a per-row mean over two classes, the class share taken as the uncertain part.

A per-row loss (Brier, log loss) or value over a window of decisions is a
mixture of two classes: ``μ = μ0 + q·(μ1 - μ0)`` with ``q`` the share of
positives and ``μ0``, ``μ1`` the classes' mean losses. Where positives are few
and their losses large, most of the uncertainty is the number of positives
drawn, and the usual ``mean ± z·s/√n`` fails the way the Wald interval of a
proportion fails: a window that drew few positives gets both a low mean and a
small ``s``, so the interval lies below the truth far more often than above it.

This interval inverts the test of each class share ``q`` as Wilson's does for a
proportion (Wilson 1927, "Probable inference, the law of succession, and
statistical inference", *JASA* 22:209-212), with the class means fixed at their
estimates and the variance taken at the hypothesised share, within-class
spread included:

``(p - q)²·D² <= z²/n · [q(1 - q)·D² + q·s1² + (1 - q)·s0²]``

(``p`` the observed share, ``D = m1 - m0``), a quadratic in ``q`` whose roots,
mapped through ``m0 + q·D``, are the interval's ends. With ``D = 0`` it is the
normal interval of the within-class spread.

With ``within="drawn"`` only the class share's part of the variance is taken at
the hypothesised share; the within-class part is that of the classes as drawn:

``(p - q)²·D² <= z²/n · [q(1 - q)·D² + p·s1² + (1 - p)·s0²]``

This is the form for a sum whose positives' contributions spread far on both
sides of their mean (the business value: a caught positive's gain, a missed
one's loss), where a within-class term that grows with the hypothesised share
carries the interval far beyond the shares the data allow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = ["ClassMoments", "mixture_mean_interval"]


@dataclass(frozen=True)
class ClassMoments:
    """Rows, sum and sum of squares of one class's per-row values.

    Examples
    --------
    >>> c = ClassMoments(rows=4, total=10.0, squares=30.0)
    >>> c.mean, round(c.variance, 4)
    (2.5, 1.6667)
    """

    rows: float
    total: float
    squares: float

    def __post_init__(self) -> None:
        if not all(math.isfinite(x) for x in (self.rows, self.total, self.squares)) or self.rows < 0:
            raise ValueError(f"rows must be >= 0 and sums finite; "
                             f"got {self.rows}, {self.total}, {self.squares}")

    @property
    def mean(self) -> float:
        return self.total / self.rows if self.rows else math.nan

    @property
    def variance(self) -> float:
        """Sample variance (0 with fewer than two rows)."""
        if self.rows < 2:
            return 0.0
        return max(0.0, (self.squares - self.total * self.total / self.rows) / (self.rows - 1))


def mixture_mean_interval(negatives: ClassMoments, positives: ClassMoments, *, z: float,
                          within: Literal["share", "drawn"] = "share") -> tuple[float, float]:
    """Interval ``[low, high]`` of the per-row mean over both classes (see the module docstring).

    Both classes need rows; ``z`` is the quantile of the level (1.96 for 95%); ``within`` says
    whether the within-class spread is taken at the hypothesised ``share`` or as ``drawn``.

    Examples
    --------
    >>> low, high = mixture_mean_interval(ClassMoments(rows=990, total=9.9, squares=0.2),
    ...                                   ClassMoments(rows=10, total=8.0, squares=7.0), z=1.96)
    >>> round(low, 4), round((9.9 + 8.0) / 1000, 4), round(high, 4)
    (0.0141, 0.0179, 0.025)
    """
    if negatives.rows <= 0 or positives.rows <= 0:
        raise ValueError("both classes need rows")
    if not (math.isfinite(z) and z > 0):
        raise ValueError(f"z must be a finite number > 0; got {z}")
    if within not in ("share", "drawn"):
        raise ValueError(f"within must be 'share' or 'drawn'; got {within!r}")
    n = negatives.rows + positives.rows
    m0, m1 = negatives.mean, positives.mean
    v0, v1 = negatives.variance, positives.variance
    d = m1 - m0
    p = positives.rows / n
    k = z * z / n
    a = d * d * (1 + k)
    if a == 0:  # the classes' means agree: only the within-class spread is left
        half = z * math.sqrt((p * v1 + (1 - p) * v0) / n)
        return m0 - half, m0 + half
    if within == "share":
        b = -2 * p * d * d - k * (d * d + v1 - v0)
        c = p * p * d * d - k * v0
    else:
        b = -2 * p * d * d - k * d * d
        c = p * p * d * d - k * (p * v1 + (1 - p) * v0)
    root = math.sqrt(max(b * b - 4 * a * c, 0.0))
    # the roots are not clipped to [0, 1]: beyond the share's range they carry the within-class spread
    q_low, q_high = (-b - root) / (2 * a), (-b + root) / (2 * a)
    ends = sorted((m0 + q_low * d, m0 + q_high * d))
    return ends[0], ends[1]
