"""Label maturity: a window waits for its chargebacks, not only for the quick confirmations."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from scipy import special

from loopwatch.core.profile import score_bin, score_edges
from loopwatch.evaluation.bins import ScoreBins
from loopwatch.evaluation.maturity import label_maturity
from loopwatch.evaluation.metrics import base_rate, precision

EDGES = score_edges(None, 0.0, 1.0)
BINS = ScoreBins.from_edges(EDGES)


class Window:
    """A week of decisions whose labels arrive as in the fraud simulator's world: chargebacks after a
    lognormal delay (median 9 days, 92% ever arrive), confirmations of legitimate payments after
    2 + Exp(mean 2) days (97% arrive)."""

    def __init__(self, seed: int, n: int = 70_000) -> None:
        rng = np.random.default_rng(seed)
        self.y = rng.random(n) < 0.01
        z = rng.standard_normal(n) + self.y * np.where(rng.random(n) < 0.7, 4.0, 0.5)
        self.bin = score_bin(special.expit(1.5 * (z - 3.0)), EDGES)
        made = rng.uniform(0, 7, n)  # days after the window's start
        delay = np.where(self.y, np.clip(np.exp(np.log(9) + 0.6 * rng.standard_normal(n)), 1, 75),
                         2 + rng.exponential(2.0, n))
        arrives = rng.random(n) < np.where(self.y, 0.92, 0.97)
        self.observed = np.where(arrives, made + delay, np.inf)

    def by_label(self, now: float) -> npt.NDArray[np.int64]:
        """The histogram as seen ``now`` days after the window's start."""
        row = np.where(self.observed < now, self.y.astype(np.int64), 2)
        return np.bincount(row * 1000 + self.bin, minlength=3000).reshape(3, 1000)


def test_overall_coverage_passes_long_before_the_chargebacks_arrive_but_maturity_waits() -> None:
    window, reference = Window(1), Window(2).by_label(200.0)
    early = [now for now in np.arange(7.0, 60.0, 0.5)
             if (m := label_maturity(window.by_label(now), reference, bins=BINS, threshold=0.5)).coverage
             >= 0.9 * m.reference_coverage]
    mature = [now for now in np.arange(7.0, 60.0, 0.5)
              if label_maturity(window.by_label(now), reference, bins=BINS, threshold=0.5).mature]
    assert early and mature
    assert mature[0] - early[0] >= 5  # days of chargebacks the overall coverage does not wait for
    # once mature, the same window stays mature as more labels arrive
    assert mature == [t for t in np.arange(7.0, 60.0, 0.5) if t >= mature[0]]


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_at_maturity_precision_and_base_rate_are_within_their_minimum_effects(seed: int) -> None:
    window, reference = Window(seed), Window(seed + 100).by_label(200.0)
    final = window.by_label(200.0)
    now = next(t for t in np.arange(7.0, 60.0, 0.25)
               if label_maturity(window.by_label(t), reference, bins=BINS, threshold=0.5).mature)
    seen = window.by_label(now)
    for metric, margin in ((lambda c: precision(c, bins=BINS, threshold=0.5).value, 0.10),
                           (lambda c: base_rate(c).value, 0.25)):
        assert abs(metric(seen) / metric(final) - 1) < margin
    early = window.by_label(now - 6)
    # six days earlier the base rate still read 15% low or more
    assert base_rate(early).value / base_rate(final).value < 0.85


def test_an_empty_window_is_not_mature_and_parameters_are_checked() -> None:
    reference = Window(6).by_label(200.0)
    empty = np.zeros((3, 1000), np.int64)
    assert not label_maturity(empty, reference, bins=BINS, threshold=0.5).mature
    with pytest.raises(ValueError, match="maturity must be in"):
        label_maturity(reference, reference, bins=BINS, threshold=0.5, maturity=0.0)
    with pytest.raises(ValueError, match="shape"):
        label_maturity(reference[:2], reference, bins=BINS, threshold=0.5)
