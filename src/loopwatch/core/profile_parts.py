"""Profile parts: the long tables of aggregates an engine returns, and their sums into profiles.

An engine returns aggregates keyed by (day, cohort dimension, value); the
profile history stores them as they are. A profile of any window and cohort is
a sum of their rows, so stored days are merged rather than rescanned.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from loopwatch.core.profile import (
    ALL,
    DAY_OF_WEEK,
    HLL_REGISTERS,
    Binning,
    BinScores,
    CategoricalStats,
    Cohort,
    Counts,
    NumericStats,
    Profile,
    ScoreStats,
    SystemStats,
)

__all__ = ["ProfileParts"]


@dataclass(frozen=True)
class ProfileParts:
    """Aggregates of a set of days as long tables keyed by ``day``, ``dim``, ``value``.

    This is what an engine returns and what the profile history stores; profiles
    are sums of its rows (:meth:`profiles`).

    * ``counts``: ``feature`` (index into :attr:`features`, then score × action,
      then latency), ``bin`` (-1 = null), ``n``.
    * ``moments``: ``n``, ``errors``, ``lat_count``, ``lat_sum``, and per numeric
      feature ``<i>_count``, ``<i>_sum``, ``<i>_sum_sq``, ``<i>_min``, ``<i>_max``.
    * ``labels``: score ``bin``, ``label`` (0 negative, 1 positive, 2 unlabelled), ``n``,
      and the sums ``value_sum``, ``value_sq`` of the outcomes' value.
    * ``sketch``: ``feature``, ``register`` and the maximum ``rank`` of unseen values.
    * ``by_bin``: keyed by ``day`` only (the global cohort): ``feature``, ``bin``
      (-1 = null), ``n``, ``score_sum`` and ``positive`` decisions.

    ``dim`` indexes :attr:`dims` (cohort columns, entity columns, then hour of day);
    ``value`` is text. The first :attr:`n_binned` dimensions carry feature bins; the
    others only the score × action and latency histograms, moments and missing counts.
    """

    dims: tuple[str, ...]
    features: tuple[str, ...]
    counts: pa.Table
    moments: pa.Table
    labels: pa.Table
    sketch: pa.Table
    by_bin: pa.Table
    n_binned: int = 1

    @staticmethod
    def concat(parts: Sequence[ProfileParts]) -> ProfileParts:
        """The rows of several parts of the same dimensions and features (at least one)."""
        if not parts:
            raise ValueError("concat needs at least one ProfileParts")
        first = parts[0]
        for other in parts[1:]:
            if (other.dims, other.features) != (first.dims, first.features):
                raise ValueError("cannot concatenate parts of different dimensions or features")

        def join(name: str) -> pa.Table:
            return pa.concat_tables([getattr(p, name) for p in parts])

        return ProfileParts(first.dims, first.features, join("counts"), join("moments"),
                            join("labels"), join("sketch"), join("by_bin"), first.n_binned)

    def select_days(self, start: datetime, end: datetime) -> ProfileParts:
        """The rows of days in ``[start, end)``."""
        def keep(table: pa.Table) -> pa.Table:
            day = table.column("day")
            mask = pc.and_(pc.greater_equal(day, pa.scalar(start, day.type)),
                           pc.less(day, pa.scalar(end, day.type)))
            return table.filter(mask)

        return ProfileParts(self.dims, self.features, keep(self.counts), keep(self.moments),
                            keep(self.labels), keep(self.sketch), keep(self.by_bin), self.n_binned)

    def profiles(self, binning: Binning, *, start: datetime, end: datetime,
                 cohorts: Iterable[Cohort] | None = None) -> dict[Cohort, Profile]:
        """Profiles of ``[start, end)`` for every cohort present (or those asked for).

        The global cohort sums the first dimension; day-of-week cohorts sum days.
        """
        parts = self.select_days(start, end)
        keyed = {name: _Indexed(getattr(parts, name))
                 for name in ("counts", "moments", "labels", "sketch")}
        by_bin = _with_weekday(parts.by_bin)
        wanted = set(cohorts) if cohorts is not None else None
        present = sorted({Cohort(self.dims[d], v) for d, v in keyed["moments"].groups
                          if self.dims[d] != ALL.column}, key=str)
        present += [Cohort(DAY_OF_WEEK, str(d)) for d in range(7)] + [ALL]
        out: dict[Cohort, Profile] = {}
        for cohort in present:
            if wanted is not None and cohort not in wanted:
                continue
            profile = self._one(binning, keyed, by_bin, cohort, start, end)
            if profile.n or cohort == ALL:
                out[cohort] = profile
        return out

    def _one(self, binning: Binning, keyed: Mapping[str, _Indexed], by_bin: pa.Table,
             cohort: Cohort, start: datetime, end: datetime) -> Profile:
        def rows(indexed: _Indexed) -> _Rows:
            if cohort == ALL:
                return indexed.rows(0)
            if cohort.column == DAY_OF_WEEK:
                return indexed.rows(0, weekday=int(cohort.value or 0))
            return indexed.rows(self.dims.index(cohort.column), cohort.value)

        # positions follow ``self.features`` (the spec's order), never the binning's key order
        numeric_names = [f for f in self.features if f in binning.numeric]
        categorical_names = [f for f in self.features if f in binning.categorical]
        n_features = len(self.features)
        counts = rows(keyed["counts"])
        feature = counts.values("feature")
        bin_ = counts.values("bin")
        n = counts.values("n")

        def hist(j: int, size: int) -> tuple[Counts, int]:
            mask = feature == j
            b, c = bin_[mask], n[mask]
            out = np.zeros(size, np.int64)
            valid = b >= 0
            np.add.at(out, b[valid], c[valid])
            return out, int(c[~valid].sum())

        moments = rows(keyed["moments"])
        total = moments.sum("n")
        binned = cohort.column not in self.dims or self.dims.index(cohort.column) < self.n_binned
        numeric: dict[str, NumericStats] = {}
        for name in numeric_names:
            j = self.features.index(name)
            bins, _ = hist(j, len(binning.numeric[name]) + 1)
            count = moments.sum(f"{j}_count")
            numeric[name] = NumericStats(
                count=count, nulls=total - count, total=moments.fsum(f"{j}_sum"),
                total_sq=moments.fsum(f"{j}_sum_sq"),
                minimum=moments.extreme(f"{j}_min", min) if count else math.inf,
                maximum=moments.extreme(f"{j}_max", max) if count else -math.inf, bins=bins)
        sketch = rows(keyed["sketch"])
        categorical: dict[str, CategoricalStats] = {}
        for name in categorical_names:
            j = self.features.index(name)
            codes, _ = hist(j, len(binning.categorical[name]) + 1)
            nulls = moments.sum(f"{j}_nulls")
            registers = np.zeros(HLL_REGISTERS, np.uint8)
            mask = sketch.values("feature") == j
            np.maximum.at(registers, sketch.values("register")[mask],
                          sketch.values("rank")[mask].astype(np.uint8))
            categorical[name] = CategoricalStats(codes, nulls, registers,
                                                 None if binned else total - nulls)
        n_score = len(binning.score) + 1
        n_actions = len(binning.actions) + 1
        by_action, _ = hist(n_features, n_score * n_actions)
        latency, _ = hist(n_features + 1, len(binning.latency) + 1)
        labels = rows(keyed["labels"])
        cells = (labels.values("label"), labels.values("bin"))
        by_label = np.zeros((3, n_score), np.int64)
        np.add.at(by_label, cells, labels.values("n"))
        value_sum, value_sq = np.zeros((3, n_score)), np.zeros((3, n_score))
        np.add.at(value_sum, cells, labels.values("value_sum"))
        np.add.at(value_sq, cells, labels.values("value_sq"))
        return Profile(
            start=start, end=end, cohort=cohort, binning=binning.fingerprint, n=total,
            numeric=numeric, categorical=categorical,
            score=ScoreStats(by_label, by_action.reshape(n_actions, n_score), value_sum, value_sq),
            system=SystemStats(latency, moments.sum("lat_count"), moments.fsum("lat_sum"),
                               moments.sum("errors")),
            binned=binned,
            by_bin=self._by_bin(binning, by_bin, cohort),
        )

    def _by_bin(self, binning: Binning, table: pa.Table, cohort: Cohort) -> dict[str, BinScores]:
        if cohort.column == DAY_OF_WEEK:
            table = table.filter(pc.equal(table.column("_weekday"), int(cohort.value or 0)))
        elif cohort != ALL:
            return {}
        out = binning.empty_by_bin()
        feature = table.column("feature").to_numpy()
        slot = table.column("bin").to_numpy() + 1
        n, score_sum = table.column("n").to_numpy(), table.column("score_sum").to_numpy()
        positive = table.column("positive").to_numpy()
        for j, name in enumerate(self.features):
            mask = feature == j
            stats = out[name]
            np.add.at(stats.n, slot[mask], n[mask])
            np.add.at(stats.score_sum, slot[mask], score_sum[mask])
            np.add.at(stats.positive, slot[mask], positive[mask])
        return out


def _with_weekday(table: pa.Table) -> pa.Table:
    # Monday = 0, as datetime.weekday(); the day is a UTC midnight
    return table.append_column("_weekday", pc.day_of_week(table.column("day")))


class _Indexed:
    """A long table split once by (dimension, value), so each cohort's rows are a take.

    Filtering the whole table per cohort cost a full scan each (dozens of cohorts ×
    several windows per monitoring run); one sort serves them all.
    """

    def __init__(self, table: pa.Table) -> None:
        self.table = _with_weekday(table)
        dims = self.table.column("dim").to_numpy().astype(np.int64)
        values = pc.cast(self.table.column("value"), pa.string()).combine_chunks()
        encoded = pc.dictionary_encode(values)
        codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        names = encoded.dictionary.to_pylist()
        key = dims * max(len(names), 1) + codes
        order = np.argsort(key, kind="stable")
        unique, first = np.unique(key[order], return_index=True)
        bounds = [*first.tolist(), len(order)]
        self._slices = {(int(k) // max(len(names), 1), names[int(k) % max(len(names), 1)]):
                        order[bounds[i]:bounds[i + 1]] for i, k in enumerate(unique)}
        self._weekday = self.table.column("_weekday").to_numpy()
        self._whole: dict[int, npt.NDArray[np.int64]] = {}
        self._columns: dict[str, tuple[npt.NDArray[Any], npt.NDArray[np.bool_]]] = {}
        self.groups = list(self._slices)

    def rows(self, dim: int, value: str | None = None, *, weekday: int | None = None) -> _Rows:
        """Rows of one dimension's value (or, with ``value=None``, of the whole dimension)."""
        if value is not None:
            found = self._slices.get((dim, value))
        else:
            if dim not in self._whole:
                parts = [ix for (d, _), ix in self._slices.items() if d == dim]
                self._whole[dim] = np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
            found = self._whole[dim]
        if found is None:
            found = np.zeros(0, np.int64)
        if weekday is not None:
            found = found[self._weekday[found] == weekday]
        return _Rows(self, found)

    def column(self, name: str) -> tuple[npt.NDArray[Any], npt.NDArray[np.bool_]]:
        """A column as NumPy values (as ``to_numpy`` gives them: NaN for a null in a column that
        has any) and where it is not null; converted once, for every cohort."""
        found = self._columns.get(name)
        if found is None:
            column = self.table.column(name)
            found = (column.to_numpy(), pc.is_valid(column).to_numpy(zero_copy_only=False))
            self._columns[name] = found
        return found


@dataclass(frozen=True)
class _Rows:
    """The rows of one cohort in an :class:`_Indexed` table, read column by column.

    Taking each cohort's rows out of the Arrow table copied every column of it for the few
    each sum reads (a third of a monitoring run's time was those copies); the columns are
    converted to NumPy once per table and indexed.
    """

    indexed: _Indexed
    index: npt.NDArray[np.int64]

    def values(self, column: str) -> npt.NDArray[Any]:
        return self.indexed.column(column)[0][self.index]

    def _valid(self, column: str) -> npt.NDArray[Any]:
        values, valid = self.indexed.column(column)
        return values[self.index][valid[self.index]]

    def sum(self, column: str) -> int:
        """The sum of the non-null values (0 for none)."""
        return int(self._valid(column).sum())

    def fsum(self, column: str) -> float:
        """The exactly rounded sum of the non-null values."""
        return math.fsum(self._valid(column).tolist())

    def extreme(self, column: str, pick: Any) -> float:
        """``min`` or ``max`` of the non-null values (infinity of the other sign for none)."""
        values = self._valid(column).tolist()
        return float(pick(values)) if values else (math.inf if pick is min else -math.inf)
