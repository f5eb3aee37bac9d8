"""Cheap-model routing: decide the traffic a cheap model is confident about, escalate the rest.

A :class:`Cascade` scores every row with its cheap model first; a row whose cheap
score is below ``low`` or at least ``high`` is decided by the cheap model, the rest
by the full model. :func:`calibrate_cascade` chooses the band from a labelled or
unlabelled sample scored by both models: the widest confident region in which the
cheap model's action agrees with the full model's on at least ``agreement`` of the
rows (a statement about decisions, which holds whatever the data, not a tuned
number).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from loopwatch.prediction.models import Model

__all__ = ["Cascade", "calibrate_cascade"]

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, kw_only=True)
class Cascade:
    """A cheap model that decides where it is confident: cheap score ``< low`` or ``>= high``.

    Examples
    --------
    >>> cheap = Model(predictor=lambda X: X[:, 0], version="cheap-1", features=["x"])
    >>> cascade = Cascade(cheap=cheap, low=0.05)
    >>> cascade.confident(np.array([0.01, 0.3, 0.99])).tolist()
    [True, False, False]
    """

    cheap: Model
    low: float
    high: float = math.inf

    def __post_init__(self) -> None:
        for name in ("low", "high"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
                raise ValueError(f"{name} must be a number; got {value!r}")
        if not 0 <= self.low <= 1:
            raise ValueError(f"low must be in [0, 1]; got {self.low!r}")
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must not be below low ({self.low})")

    def confident(self, cheap_scores: Floats) -> npt.NDArray[np.bool_]:
        """Rows the cheap model decides (NaN scores escalate)."""
        s = np.asarray(cheap_scores, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            return (s < self.low) | (s >= self.high)


def calibrate_cascade(cheap: Floats, full: Floats, *, threshold: float,
                      agreement: float = 0.999) -> tuple[float, float]:
    """``(low, high)``: the widest band of cheap scores whose decisions agree with the full model.

    A row's decision is ``score >= threshold``. ``low`` is the largest cheap score
    such that, among rows below it, the cheap decision (negative) matches the full
    model's on at least ``agreement`` of them; ``high`` likewise from the top (``inf``
    when no top region qualifies, ``0`` for ``low`` when no bottom region does).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> full = rng.random(10_000)
    >>> cheap = np.clip(full + rng.normal(0, 0.05, full.size), 0, 1)
    >>> low, high = calibrate_cascade(cheap, full, threshold=0.5, agreement=0.99)
    >>> 0.3 < low < 0.5 < high < 0.7
    True
    """
    if not 0 < agreement <= 1:
        raise ValueError(f"agreement must be in (0, 1]; got {agreement!r}")
    c = np.asarray(cheap, dtype=np.float64)
    f = np.asarray(full, dtype=np.float64)
    if c.shape != f.shape or c.ndim != 1:
        raise ValueError(f"cheap and full must be scores of the same rows; got shapes {c.shape}, "
                         f"{f.shape}")
    keep = np.isfinite(c) & np.isfinite(f)
    c, f = c[keep], f[keep]
    order = np.argsort(c, kind="stable")
    c, positive = c[order], f[order] >= threshold
    n = c.size
    # bottom: the first k rows (cheap score below c[k]) are decided negative by the cheap model
    agree = np.cumsum(~positive) / np.arange(1, n + 1)
    low = 0.0
    for k in (np.flatnonzero((agree >= agreement) & (c < threshold)) + 1)[::-1].tolist():
        if k == n or c[k - 1] < c[k]:  # a cut between two distinct scores
            low = float(min(threshold, c[k] if k < n else np.nextafter(c[-1], np.inf)))
            break
    # top: the last k rows (cheap score at least c[n - k]) are decided positive
    agree_top = np.cumsum(positive[::-1]) / np.arange(1, n + 1)
    high = math.inf
    for k in (np.flatnonzero((agree_top >= agreement) & (c[::-1] >= threshold)) + 1)[::-1].tolist():
        if k == n or c[n - k - 1] < c[n - k]:
            high = float(c[n - k])
            break
    return low, high
