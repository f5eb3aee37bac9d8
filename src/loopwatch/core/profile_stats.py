"""The aggregates a profile holds per feature, score and system, each mergeable exactly.

:class:`NumericStats` (count, nulls, sums, extremes, bin counts),
:class:`CategoricalStats` (counts per reference category, ``unseen`` and a
HyperLogLog sketch of the unseen values), :class:`ScoreStats` (score histograms
by label and by action, with value sums), :class:`BinScores` (decisions, score
and positives per feature bin) and :class:`SystemStats` (latency histogram and
errors). ``a.merge(b)`` adds counts and sums, takes the extremes, and the
register-wise maximum of sketches; ``==`` compares floats to 1e-9 relative, so
that merges in another order compare equal.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "HLL_BITS",
    "HLL_RANK_BITS",
    "HLL_REGISTERS",
    "BinScores",
    "CategoricalStats",
    "NumericStats",
    "ScoreStats",
    "SystemStats",
    "hll_estimate",
]

Counts = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

#: HyperLogLog registers (2**10: about 3% standard error).
HLL_BITS = 10
HLL_REGISTERS = 1 << HLL_BITS
#: Bits of the hash left after the register index; the rank of a value is 1..HLL_RANK_BITS+1.
HLL_RANK_BITS = 21


def hll_estimate(registers: npt.NDArray[np.uint8]) -> float:
    """Distinct-count estimate from HyperLogLog registers (Flajolet et al. 2007, with the
    small-range correction by linear counting)."""
    m = registers.size
    if not registers.any():
        return 0.0
    alpha = 0.7213 / (1 + 1.079 / m)
    raw = alpha * m * m / float(np.sum(np.power(2.0, -registers.astype(np.float64))))
    zeros = int(np.count_nonzero(registers == 0))
    if raw <= 2.5 * m and zeros:
        return m * math.log(m / zeros)
    return raw


def _as_counts(values: Iterable[int] | Counts) -> Counts:
    return np.asarray(values, dtype=np.int64).copy()


@dataclass(frozen=True, eq=False)
class NumericStats:
    """Count, nulls, sum, sum of squares, min, max and bin counts of one numeric feature."""

    count: int
    nulls: int
    total: float
    total_sq: float
    minimum: float
    maximum: float
    bins: Counts

    @classmethod
    def empty(cls, n_bins: int) -> NumericStats:
        return cls(0, 0, 0.0, 0.0, math.inf, -math.inf, np.zeros(n_bins, np.int64))

    def merge(self, other: NumericStats) -> NumericStats:
        return NumericStats(
            self.count + other.count, self.nulls + other.nulls, self.total + other.total,
            self.total_sq + other.total_sq, min(self.minimum, other.minimum),
            max(self.maximum, other.maximum), self.bins + other.bins,
        )

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else math.nan

    @property
    def variance(self) -> float:
        """Sample variance (n - 1)."""
        if self.count < 2:
            return math.nan
        return max(0.0, (self.total_sq - self.total * self.total / self.count) / (self.count - 1))

    @property
    def missing_rate(self) -> float:
        rows = self.count + self.nulls
        return self.nulls / rows if rows else math.nan

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NumericStats) and _close(self._key(), other._key()) and \
            np.array_equal(self.bins, other.bins)

    def _key(self) -> tuple[float, ...]:
        return (self.count, self.nulls, self.total, self.total_sq, self.minimum, self.maximum)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class CategoricalStats:
    """Counts per reference category plus ``unseen``; nulls; a sketch of the unseen values."""

    counts: Counts
    nulls: int
    unseen_sketch: npt.NDArray[np.uint8]
    #: non-null rows; given where the counts are not binned (hour-of-day profiles)
    present: int | None = None

    @classmethod
    def empty(cls, n_codes: int) -> CategoricalStats:
        return cls(np.zeros(n_codes, np.int64), 0, np.zeros(HLL_REGISTERS, np.uint8))

    def merge(self, other: CategoricalStats) -> CategoricalStats:
        present = None if self.present is None and other.present is None \
            else self.count + other.count
        return CategoricalStats(self.counts + other.counts, self.nulls + other.nulls,
                                np.maximum(self.unseen_sketch, other.unseen_sketch), present)

    @property
    def count(self) -> int:
        """Non-null rows."""
        return int(self.counts.sum()) if self.present is None else self.present

    @property
    def unseen(self) -> int:
        """Rows whose value is not among the reference categories."""
        return int(self.counts[-1])

    @property
    def distinct_estimate(self) -> float:
        """Reference categories seen (exact) plus an estimate of distinct unseen values."""
        return float(np.count_nonzero(self.counts[:-1])) + hll_estimate(self.unseen_sketch)

    @property
    def missing_rate(self) -> float:
        rows = self.count + self.nulls
        return self.nulls / rows if rows else math.nan

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, CategoricalStats) and self.nulls == other.nulls
                and self.count == other.count and np.array_equal(self.counts, other.counts)
                and np.array_equal(self.unseen_sketch, other.unseen_sketch))

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class ScoreStats:
    """Score histograms: rows ``negative``, ``positive``, ``unlabelled`` by score bin; and by action.

    ``by_action`` has one row per reference action, then one for any other action
    (or none), in the order of :attr:`Binning.actions`. ``value_sum`` and
    ``value_sq`` hold the sum of the outcomes' ``value`` (e.g. dollars at stake)
    and of its square in the same cells as ``by_label`` (the unlabelled row is zero).
    """

    by_label: Counts  # shape (3, bins)
    by_action: Counts  # shape (actions + 1, bins)
    value_sum: Floats  # shape (3, bins)
    value_sq: Floats  # shape (3, bins)

    @classmethod
    def empty(cls, n_bins: int, n_actions: int) -> ScoreStats:
        return cls(np.zeros((3, n_bins), np.int64), np.zeros((n_actions, n_bins), np.int64),
                   np.zeros((3, n_bins)), np.zeros((3, n_bins)))

    def merge(self, other: ScoreStats) -> ScoreStats:
        return ScoreStats(self.by_label + other.by_label, self.by_action + other.by_action,
                          self.value_sum + other.value_sum, self.value_sq + other.value_sq)

    @property
    def labelled(self) -> int:
        return int(self.by_label[:2].sum())

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ScoreStats) and np.array_equal(self.by_label, other.by_label)
                and np.array_equal(self.by_action, other.by_action)
                and _close_arrays(self.value_sum, other.value_sum)
                and _close_arrays(self.value_sq, other.value_sq))

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class BinScores:
    """How the score and the decisions depend on one feature: per slot (null, then each bin or
    category code) the rows, the sum of their scores and how many got a positive action.

    This is what importance and impact are measured from: a feature whose bins all
    see the same mean score does not move decisions, and a shift of mass between
    bins changes the decision rate by about ``Σ Δshare × positive rate of the bin``.
    Computed for the global and day-of-week profiles (not per cohort value).
    """

    n: Counts
    score_sum: Floats
    positive: Counts

    @classmethod
    def empty(cls, n_slots: int) -> BinScores:
        return cls(np.zeros(n_slots, np.int64), np.zeros(n_slots), np.zeros(n_slots, np.int64))

    def merge(self, other: BinScores) -> BinScores:
        return BinScores(self.n + other.n, self.score_sum + other.score_sum,
                         self.positive + other.positive)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, BinScores) and np.array_equal(self.n, other.n)
                and np.array_equal(self.positive, other.positive)
                and _close_arrays(self.score_sum, other.score_sum))

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class SystemStats:
    """Latency histogram (and its count and sum) and the error count."""

    latency: Counts
    latency_count: int
    latency_total: float
    errors: int

    @classmethod
    def empty(cls, n_bins: int) -> SystemStats:
        return cls(np.zeros(n_bins, np.int64), 0, 0.0, 0)

    def merge(self, other: SystemStats) -> SystemStats:
        return SystemStats(self.latency + other.latency, self.latency_count + other.latency_count,
                           self.latency_total + other.latency_total, self.errors + other.errors)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, SystemStats) and np.array_equal(self.latency, other.latency)
                and self.latency_count == other.latency_count and self.errors == other.errors
                and _close((self.latency_total,), (other.latency_total,)))

    __hash__ = None  # type: ignore[assignment]


def _close_arrays(a: Floats, b: Floats) -> bool:
    return a.shape == b.shape and bool(np.all((a == b) | np.isclose(a, b, rtol=1e-9, atol=0)))


def _close(a: Sequence[float], b: Sequence[float]) -> bool:
    return all(x == y or (math.isfinite(x) and math.isfinite(y)
                          and abs(x - y) <= 1e-9 * max(abs(x), abs(y), 1e-300))
               for x, y in zip(a, b, strict=True))
