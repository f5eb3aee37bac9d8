"""Profiles: the mergeable aggregates of one window × cohort.

Evaluation and monitoring never read raw rows: they read profiles. A profile
holds, for one time window and one cohort, the volume; per numeric feature the
count, nulls, sum, sum of squares, min, max and counts per bin (edges fixed by
the reference, see :class:`Binning`); per categorical or boolean feature the
counts of the reference categories plus ``unseen`` and ``null`` and a
HyperLogLog sketch of the unseen values (for a distinct-count estimate); score
histograms split by label (negative, positive, not yet labelled) and by action;
a latency histogram and the error count.

``a.merge(b)`` is exact: counts and sums add, minima and maxima take the
extremes, sketches take the register-wise maximum. So the profile of A ∪ B
equals the merge of the profiles of A and B, daily profiles add up to weekly
ones, and cohort profiles of one column add up to the global one.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from loopwatch.core.window import Window

__all__ = [
    "ALL",
    "HLL_REGISTERS",
    "SCORE_BINS",
    "BinScores",
    "Binning",
    "CategoricalStats",
    "Cohort",
    "NumericStats",
    "Profile",
    "ScoreStats",
    "SystemStats",
    "hll_estimate",
    "latency_edges",
    "numeric_edges",
    "score_bin",
    "score_edges",
    "uniform_grid",
    "utc_day_start",
]

Counts = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

#: Score histograms have this many bins (or one per distinct reference score, if fewer).
SCORE_BINS = 1000
#: HyperLogLog registers (2**10: about 3% standard error).
HLL_BITS = 10
HLL_REGISTERS = 1 << HLL_BITS
#: Bits of the hash left after the register index; the rank of a value is 1..HLL_RANK_BITS+1.
HLL_RANK_BITS = 21
#: Quantiles of the reference that become numeric bin edges (besides its min and max).
QUANTILES = tuple(i / 20 for i in range(1, 20))
#: Label rows of the score histogram.
LABELS = ("negative", "positive", "unlabelled")


@dataclass(frozen=True, order=True)
class Cohort:
    """A slice of decisions: ``all``, a cohort column's value, an hour of day or a day of week.

    Examples
    --------
    >>> Cohort("region", "EU")
    Cohort(column='region', value='EU')
    >>> str(Cohort("region", "EU")), str(ALL)
    ('region=EU', 'all')
    """

    column: str
    value: str | None = None

    def __str__(self) -> str:
        return self.column if self.value is None else f"{self.column}={self.value}"


ALL = Cohort("all")
HOUR_OF_DAY = "hour_of_day"
DAY_OF_WEEK = "day_of_week"


def numeric_edges(quantiles: Sequence[float | None], minimum: float | None,
                  maximum: float | None) -> tuple[float, ...]:
    """Bin edges from a reference's quantiles, min and max.

    The edges are the reference minimum, the unique quantiles and the smallest
    float above the maximum, so values outside the reference range get bins of
    their own (below the first edge, at or above the last), ties collapse, and a
    constant column gets one bin for its value.

    Examples
    --------
    >>> numeric_edges([1.0, 1.0, 2.0], 0.0, 3.0)
    (0.0, 1.0, 2.0, 3.0000000000000004)
    >>> numeric_edges([5.0], 5.0, 5.0)
    (5.0, 5.000000000000001)
    >>> numeric_edges([None], None, None)
    ()
    """
    if minimum is None or maximum is None:
        return ()
    inner = {float(q) for q in quantiles if q is not None and math.isfinite(q)}
    edges = sorted(inner | {float(minimum)})
    edges = [e for e in edges if float(minimum) <= e <= float(maximum)]
    edges.append(math.nextafter(float(maximum), math.inf))
    return tuple(sorted(set(edges)))


def score_edges(distinct: Sequence[float] | None, minimum: float, maximum: float) -> tuple[float, ...]:
    """Edges of the score histogram: exact for ≤ 1,000 distinct reference scores, else 1,000 bins.

    With few distinct scores each gets its own bin (edges at the scores
    themselves); otherwise the range [0, 1] (or the reference range, if wider) is
    cut into :data:`SCORE_BINS` equal bins. Scores outside fall in the end bins.

    Examples
    --------
    >>> score_edges([0.2, 0.5, 0.9], 0.2, 0.9)
    (0.5, 0.9)
    >>> len(score_edges(None, 0.0, 1.0)) + 1
    1000
    """
    if distinct is not None and len(distinct) <= SCORE_BINS:
        return tuple(sorted(float(v) for v in distinct))[1:]
    low, high = min(0.0, float(minimum)), max(1.0, float(maximum))
    return tuple(float(x) for x in np.linspace(low, high, SCORE_BINS + 1)[1:-1])


def uniform_grid(edges: Sequence[float]) -> tuple[float | None, float | None]:
    """``(low, high)`` when ``edges`` are the inner edges of :data:`SCORE_BINS` equal bins.

    Such score bins are computed as ``floor((s - low) * bins / (high - low))``,
    clipped to the end bins; the comparison tree is used otherwise.

    Examples
    --------
    >>> uniform_grid(score_edges(None, 0.0, 1.0))
    (0.0, 1.0)
    >>> uniform_grid((0.5, 0.9))
    (None, None)
    """
    if len(edges) != SCORE_BINS - 1:
        return None, None
    width = edges[1] - edges[0]
    low, high = edges[0] - width, edges[-1] + width
    expected = np.linspace(low, high, SCORE_BINS + 1)[1:-1]
    if not np.allclose(expected, edges, rtol=0, atol=width * 1e-6):
        return None, None
    return float(round(low, 12)), float(round(high, 12))


def score_bin(scores: npt.ArrayLike, edges: Sequence[float]) -> npt.NDArray[np.int64]:
    """Score bins computed in numpy exactly as the engines compute them (for tests and tools)."""
    values = np.asarray(scores, dtype=np.float64)
    low, high = uniform_grid(edges)
    if low is None or high is None:
        return np.searchsorted(np.asarray(edges), values, side="right").astype(np.int64)
    bins = len(edges) + 1
    raw = np.floor((values - low) * (bins / (high - low)))
    return np.clip(raw, 0, bins - 1).astype(np.int64)


def latency_edges() -> tuple[float, ...]:
    """Fixed log-spaced latency edges in milliseconds: 0.01 ms to 100 s, 8 bins per decade."""
    return tuple(float(round(10 ** (k / 8), 10)) for k in range(-16, 41))


def utc_day_start(value: datetime) -> datetime:
    """The UTC midnight that starts ``value``'s day: profiles bucket by UTC day (a naive
    time is read as UTC).

    >>> from datetime import timedelta, timezone
    >>> utc_day_start(datetime(2026, 3, 1, 1, 30, tzinfo=timezone(timedelta(hours=2))))
    datetime.datetime(2026, 2, 28, 0, 0, tzinfo=datetime.timezone.utc)
    """
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


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


@dataclass(frozen=True)
class Binning:
    """Bin edges and categories fixed by the reference; every profile compared shares one.

    Numeric bin ``i`` holds ``edges[i-1] <= x < edges[i]`` (bin 0 everything below
    the first edge, the last bin everything at or above the last edge).
    Categorical code ``i < len(categories)`` is that category; the next code is
    ``unseen``. Booleans are categoricals with categories ``false`` and ``true``.
    """

    numeric: Mapping[str, tuple[float, ...]]
    categorical: Mapping[str, tuple[str, ...]]
    score: tuple[float, ...]
    latency: tuple[float, ...] = field(default_factory=latency_edges)
    actions: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps({
            "numeric": {k: list(v) for k, v in self.numeric.items()},
            "categorical": {k: list(v) for k, v in self.categorical.items()},
            "score": list(self.score), "latency": list(self.latency), "actions": list(self.actions),
        }, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Binning:
        data = json.loads(text)
        return cls(
            numeric={k: tuple(v) for k, v in data["numeric"].items()},
            categorical={k: tuple(v) for k, v in data["categorical"].items()},
            score=tuple(data["score"]), latency=tuple(data["latency"]),
            actions=tuple(data["actions"]),
        )

    @functools.cached_property
    def fingerprint(self) -> str:
        """A short digest: profiles with the same fingerprint can be merged."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    def empty(self, start: datetime, end: datetime, cohort: Cohort = ALL) -> Profile:
        """The profile of no rows (the identity of merge)."""
        return Profile(
            start=start, end=end, cohort=cohort, binning=self.fingerprint, n=0,
            numeric={name: NumericStats.empty(len(edges) + 1) for name, edges in self.numeric.items()},
            categorical={name: CategoricalStats.empty(len(cats) + 1)
                         for name, cats in self.categorical.items()},
            score=ScoreStats.empty(len(self.score) + 1, len(self.actions) + 1),
            system=SystemStats.empty(len(self.latency) + 1),
            by_bin=self.empty_by_bin() if cohort == ALL else {},
        )

    def empty_by_bin(self) -> dict[str, BinScores]:
        """Per feature, :class:`BinScores` of no rows (slot 0 is null, then each bin or code)."""
        return {name: BinScores.empty(len(edges) + 2) for name, edges in self.numeric.items()} | {
            name: BinScores.empty(len(cats) + 2) for name, cats in self.categorical.items()}


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


@dataclass(frozen=True)
class Profile:
    """The mergeable aggregates of one window ``[start, end)`` × one cohort.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> binning = Binning(numeric={"x": (0.0, 1.0)}, categorical={}, score=(0.5,))
    >>> day = lambda d: datetime(2026, 1, d, tzinfo=UTC)
    >>> a, b = binning.empty(day(1), day(2)), binning.empty(day(2), day(3))
    >>> merged = a.merge(b)
    >>> merged.start == day(1) and merged.end == day(3) and merged.n == 0
    True
    """

    start: datetime
    end: datetime
    cohort: Cohort
    binning: str
    n: int
    numeric: Mapping[str, NumericStats]
    categorical: Mapping[str, CategoricalStats]
    score: ScoreStats
    system: SystemStats
    #: False for hour-of-day profiles: they hold moments, missing values and the score,
    #: label and latency histograms, but no feature bins (all zero)
    binned: bool = True
    #: per feature, score and decisions by bin (global and day-of-week profiles; else empty)
    by_bin: Mapping[str, BinScores] = field(default_factory=dict)

    @property
    def window(self) -> Window:
        """``[start, end)`` as a :class:`~loopwatch.core.window.Window`."""
        return Window(self.start, self.end)

    def merge(self, other: Profile) -> Profile:
        """The profile of both windows' rows (same cohort and binning required)."""
        if other.binning != self.binning:
            raise ValueError(
                f"cannot merge profiles with different binnings ({self.binning} vs {other.binning}); "
                "profile both against the same reference"
            )
        if other.cohort != self.cohort:
            raise ValueError(
                f"cannot merge cohort {other.cohort} into {self.cohort}; "
                "use Profile.combine(..., cohort=...) to add disjoint cohorts"
            )
        return Profile(
            start=min(self.start, other.start), end=max(self.end, other.end), cohort=self.cohort,
            binning=self.binning, n=self.n + other.n,
            numeric={k: v.merge(other.numeric[k]) for k, v in self.numeric.items()},
            categorical={k: v.merge(other.categorical[k]) for k, v in self.categorical.items()},
            score=self.score.merge(other.score), system=self.system.merge(other.system),
            binned=self.binned and other.binned,
            by_bin={k: v.merge(other.by_bin[k]) if k in other.by_bin else v
                    for k, v in self.by_bin.items()}
            | {k: v for k, v in other.by_bin.items() if k not in self.by_bin},
        )

    @staticmethod
    def combine(profiles: Iterable[Profile], *, cohort: Cohort | None = None) -> Profile:
        """Merge many profiles; with ``cohort``, disjoint cohorts add up to that cohort.

        ``Profile.combine(profiles_of_each_region, cohort=ALL)`` is the global profile.
        """
        items = list(profiles)
        if not items:
            raise ValueError("nothing to combine: no profiles given (an empty window?)")
        out = replace(items[0], cohort=cohort) if cohort is not None else items[0]
        for item in items[1:]:
            out = out.merge(replace(item, cohort=cohort) if cohort is not None else item)
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: moments and rates, not bins (for people and scripts)."""
        return {
            "start": self.start.isoformat(), "end": self.end.isoformat(),
            "cohort": str(self.cohort), "n": self.n, "errors": self.system.errors,
            "labelled": self.score.labelled,
            "numeric": {k: {"count": v.count, "nulls": v.nulls, "mean": _finite(v.mean),
                            "variance": _finite(v.variance), "min": _finite(v.minimum),
                            "max": _finite(v.maximum)} for k, v in self.numeric.items()},
            "categorical": {k: {"count": v.count, "nulls": v.nulls, "unseen": v.unseen,
                                "distinct_estimate": round(v.distinct_estimate, 1)}
                            for k, v in self.categorical.items()},
        }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _close_arrays(a: Floats, b: Floats) -> bool:
    return a.shape == b.shape and bool(np.all((a == b) | np.isclose(a, b, rtol=1e-9, atol=0)))


def _close(a: Sequence[float], b: Sequence[float]) -> bool:
    return all(x == y or (math.isfinite(x) and math.isfinite(y)
                          and abs(x - y) <= 1e-9 * max(abs(x), abs(y), 1e-300))
               for x, y in zip(a, b, strict=True))
