"""Score bins as evaluation reads them: each bin's lower edge, a representative score, the threshold.

A profile's score histogram has either :data:`~loopwatch.core.profile.SCORE_BINS`
equal bins (``uniform``) or one bin per distinct reference score (``exact``),
see :func:`~loopwatch.core.profile.score_edges`. Metrics that need a score per
row (Brier score, log loss, calibration) use one representative score per bin;
metrics at a threshold flag whole bins.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from loopwatch.core.profile import uniform_grid

__all__ = ["ScoreBins"]

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class ScoreBins:
    """Lower edge and representative score of each score bin of a binning.

    Build it with :meth:`from_edges`. For uniform bins the representative score
    is the bin's midpoint (at most half a bin width, 0.0005 on [0, 1], from any
    score in it); for exact bins it is the reference score itself. The edges of
    exact bins do not record the lowest reference score (bin 0 holds everything
    below the first edge), so bin 0's lower edge is ``-inf`` and its score NaN
    unless ``lowest`` is given; metrics that need that score are then NaN when
    bin 0 holds labelled rows.

    Decisions are ``score >= threshold``. A bin is flagged when its lower edge
    is at or above the threshold, so a threshold inside a bin snaps up to that
    bin's upper edge (by less than one bin width; not at all when the threshold
    is an edge, as 0.5 is for uniform bins and each reference score is for
    exact bins).

    Examples
    --------
    >>> from loopwatch.core.profile import score_edges
    >>> bins = ScoreBins.from_edges(score_edges(None, 0.0, 1.0))
    >>> len(bins), bins.uniform, round(float(bins.scores[0]), 4)
    (1000, True, 0.0005)
    >>> bins.first_flagged(0.5), bins.first_flagged(0.5002)
    (500, 501)
    >>> exact = ScoreBins.from_edges(score_edges([0.2, 0.5, 0.9], 0.2, 0.9), lowest=0.2)
    >>> exact.scores.tolist(), exact.first_flagged(0.5)
    ([0.2, 0.5, 0.9], 1)
    """

    lower: Floats
    scores: Floats
    uniform: bool

    @classmethod
    def from_edges(cls, edges: Sequence[float], *, lowest: float | None = None) -> ScoreBins:
        """Score bins from a binning's inner score edges (``Binning.score``).

        ``lowest`` is the lowest reference score, for exact bins (ignored for uniform bins).
        """
        inner = np.asarray(edges, dtype=np.float64)
        if inner.ndim != 1 or not np.all(np.isfinite(inner)) or np.any(np.diff(inner) <= 0):
            shown = f"{list(edges)}" if len(edges) <= 5 else f"{list(edges)[:5]} (and {len(edges) - 5} more)"
            raise ValueError(f"edges must be finite and strictly increasing; got {shown}")
        low, high = uniform_grid(tuple(float(e) for e in inner))
        if low is not None and high is not None:
            n = inner.size + 1
            lower = low + (high - low) * np.arange(n) / n
            return cls(lower=lower, scores=lower + (high - low) / (2 * n), uniform=True)
        if lowest is not None and (not math.isfinite(lowest) or (inner.size and lowest >= inner[0])):
            below = f" below the first edge {inner[0]}" if inner.size else ""
            raise ValueError(f"lowest must be a finite score{below}; got {lowest}")
        first = -math.inf if lowest is None else float(lowest)
        lower = np.concatenate(([first], inner))
        scores = np.concatenate(([math.nan if lowest is None else float(lowest)], inner))
        return cls(lower=lower, scores=scores, uniform=False)

    def __len__(self) -> int:
        return int(self.lower.size)

    def first_flagged(self, threshold: float) -> int:
        """Index of the first bin whose rows count as ``score >= threshold`` (``len(self)`` if none)."""
        if not math.isfinite(threshold):
            raise ValueError(f"threshold must be a finite number; got {threshold}")
        # an edge that is the threshold up to rounding (0.30000000000000004 for 0.3) still counts
        tolerance = 1e-12 * max(1.0, abs(threshold))
        return int(np.searchsorted(self.lower, threshold - tolerance, side="left"))

    def flagged(self, threshold: float) -> npt.NDArray[np.bool_]:
        """Boolean mask of the flagged bins at ``threshold``."""
        return np.arange(len(self)) >= self.first_flagged(threshold)
