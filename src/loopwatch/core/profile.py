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

from loopwatch.core.profile_stats import (
    HLL_REGISTERS,
    BinScores,
    CategoricalStats,
    NumericStats,
    ScoreStats,
    SystemStats,
    hll_estimate,
)
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
