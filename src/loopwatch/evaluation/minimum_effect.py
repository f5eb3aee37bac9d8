"""The smallest change worth a finding, and the tests that a change exceeds it.

A regression is a change beyond a :class:`MinimumEffect` (absolute, or relative
to the reference value), tested one-sided on normal approximations of the two
estimates (Wald): :func:`minimum_effect_p_value` is the p-value of "worse by less
than the minimum effect", :func:`no_change_p_value` the two-sided p-value of no
change at all. :data:`DEFAULT_MIN_EFFECTS` holds the defaults and why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = ["DEFAULT_MIN_EFFECTS", "MinimumEffect", "minimum_effect_p_value", "no_change_p_value",
           "normal_sf"]


@dataclass(frozen=True)
class MinimumEffect:
    """The smallest change of a metric worth a finding: absolute, or relative to the reference value.

    Examples
    --------
    >>> MinimumEffect(0.1, relative=True).margin(0.4), MinimumEffect(0.02).margin(0.9)
    (0.04000000000000001, 0.02)
    >>> MinimumEffect(-0.1)
    Traceback (most recent call last):
    ...
    ValueError: size must be a finite number > 0; got -0.1
    """

    size: float
    relative: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.size) and self.size > 0):
            raise ValueError(f"size must be a finite number > 0; got {self.size}")
        if self.relative and self.size >= 1:
            raise ValueError(f"a relative size must be < 1 (a share of the reference); got {self.size}")

    def margin(self, reference: float) -> float:
        """The minimum effect in the metric's units, for a reference value."""
        return self.size * abs(reference) if self.relative else self.size

    def describe(self) -> str:
        return f"{self.size:.0%} relative" if self.relative else f"{self.size:g} absolute"


#: Default minimum effects. AUC: 0.02 absolute, about the spread of AUC between retrainings of one
#: model on fresh data and the drop that would stop a deploy; recall and precision: 10% relative (a
#: tenth of the fraud caught, or of the review queue's hit rate, is money and customer friction);
#: value per decision: 10% of the reference's; false-positive rate and base rate: 25% relative,
#: warnings only (both move with traffic mix, the base rate with seasonality and label definitions;
#: smaller moves are not worth a person's attention without a performance change).
DEFAULT_MIN_EFFECTS: Mapping[str, MinimumEffect] = {
    "roc_auc": MinimumEffect(0.02),
    "recall": MinimumEffect(0.10, relative=True),
    "precision": MinimumEffect(0.10, relative=True),
    "value_per_decision": MinimumEffect(0.10, relative=True),
    "false_positive_rate": MinimumEffect(0.25, relative=True),
    "base_rate": MinimumEffect(0.25, relative=True),
}


def normal_sf(x: float) -> float:
    """Upper tail of the standard normal (``scipy.stats.norm.sf`` without its per-call overhead)."""
    return 0.5 * math.erfc(x / math.sqrt(2))


def minimum_effect_p_value(current: tuple[float, float], reference: tuple[float, float],
                           effect: MinimumEffect, worse: Literal["down", "up"]) -> float:
    """p-value of H0: the metric is worse than the reference by less than the minimum effect.

    ``current`` and ``reference`` are (estimate, variance); ``worse`` the direction that is worse.

    Examples
    --------
    >>> round(minimum_effect_p_value((0.80, 1e-4), (0.90, 1e-4), MinimumEffect(0.02), "down"), 6)
    0.0
    >>> round(minimum_effect_p_value((0.89, 1e-4), (0.90, 1e-4), MinimumEffect(0.02), "down"), 3)
    0.76
    """
    (c, vc), (r, vr) = current, reference
    if not all(map(math.isfinite, (c, vc, r, vr))):
        return math.nan
    sign = -1.0 if worse == "down" else 1.0
    if effect.relative:
        # worse by a share of |reference|: for a negative reference (a net loss) "down" is 1 + size times it
        k, shift = 1.0 + sign * effect.size * (1.0 if r >= 0 else -1.0), 0.0
    else:
        k, shift = 1.0, sign * effect.size
    se = math.sqrt(vc + k * k * vr)
    statistic = c - k * r - shift
    if se == 0:
        return 0.0 if sign * statistic > 0 else 1.0
    return normal_sf(sign * statistic / se)


def no_change_p_value(current: tuple[float, float], reference: tuple[float, float]) -> float:
    """Two-sided p-value of H0: the metric did not change (estimates as (value, variance))."""
    (c, vc), (r, vr) = current, reference
    if not all(map(math.isfinite, (c, vc, r, vr))):
        return math.nan
    se = math.sqrt(vc + vr)
    if se == 0:
        return 1.0 if c == r else 0.0
    return 2 * normal_sf(abs(c - r) / se)
