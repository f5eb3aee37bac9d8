"""Profiles computed where the logs live: one Ibis query plan for DuckDB, PostgreSQL and Spark.

Only aggregates leave the engine. Bins are computed in the engine with a
balanced tree of comparisons against the reference edges (about log2(bins)
comparisons a value); categorical codes come from a join with a small table of
the reference categories. A run takes whole days in chunks of about
:data:`~loopwatch.storage.engines.CHUNK_ROWS` decisions (set per engine), read
from those days only: each chunk's projection (narrow integers: day, cohort
codes, a slot per feature) is kept as a temporary table and counted by small
group-bys, one per (dimension, feature). On Spark the window is not cut: each
aggregate is one job over the whole window's projection (a view, not kept), whose
rows are stacked by (dimension, feature) for a single group-by, and its result is
kept and fetched a group of days at a time. The projection is built and compiled
by Ibis once per run, the aggregates over it once per process (their text
does not change from run to run; :mod:`loopwatch.storage.engines` runs them). Column and
value names reach the engine only as Ibis identifiers and literals, never as
SQL text.

Each chunk gives a :class:`~loopwatch.core.profile_parts.ProfileParts`: long
tables of aggregates keyed by (day, dimension, value). They are what the profile
history stores (chunk by chunk, :func:`iter_profile_parts`), and they turn into
profiles by summing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from loopwatch.core.profile import HOUR_OF_DAY, Binning
from loopwatch.core.profile_parts import ProfileParts
from loopwatch.core.spec import Spec
from loopwatch.storage.aggregate_queries import (
    NULL_VALUE,
    RAW,
    decode,
    normalize,
)
from loopwatch.storage.cohort_cap import OTHER, KeptValues
from loopwatch.storage.decision_columns import (
    conform,
    outcome_labels,
)
from loopwatch.storage.engines import FETCH_ROWS, Runner, Views
from loopwatch.storage.fitting import split_features
from loopwatch.storage.profile_queries import GLOBAL, Projection, aggregate_sql, window_sql

__all__ = [
    "PartsChunk",
    "binned_dimensions",
    "dimensions",
    "empty_parts",
    "iter_profile_parts",
    "profile_parts",
]

#: ``scan(first, last)``: the decisions of ``[first, last)`` as an Ibis table.
Scan = Callable[[datetime, datetime], Any]


def dimensions(spec: Spec) -> tuple[str, ...]:
    """Cohort dimensions profiled: each cohort column, each entity column, the source, then
    hour of day.

    The global cohort is the sum of any one dimension's values; day of week is a
    sum of days. Without cohort columns, the first other dimension alone
    partitions the rows. Entity columns, the source and hour of day are *light*
    dimensions (see :func:`binned_dimensions`).
    """
    out = list(spec.cohorts)
    for name in (*spec.entities, spec.columns.source):
        if name is not None and name not in out:
            out.append(name)
    return (*out, HOUR_OF_DAY)


def binned_dimensions(spec: Spec) -> int:
    """How many leading dimensions carry feature bins: the cohort columns (at least one).

    The others (entities, hour of day) carry the score × action and latency
    histograms, moments and missing counts: enough for coverage, volume and
    system checks, at a fraction of the cost of binning every feature per value.
    """
    return max(1, len(spec.cohorts))


@dataclass(frozen=True)
class PartsChunk:
    """The parts of the whole days ``[start, end)``: one chunk of a profile run."""

    start: datetime
    end: datetime
    parts: ProfileParts


def iter_profile_parts(
    table: Any,
    spec: Spec,
    binning: Binning,
    *,
    start: datetime,
    end: datetime,
    outcomes: Any | None = None,
    con: Any | None = None,
    labels_only: bool = False,
    cohorts: bool = True,
    scan: Scan | None = None,
    kept: KeptValues | None = None,
    horizon: int | None = None,
) -> Iterator[PartsChunk]:
    """Aggregate the decisions of ``[start, end)`` by UTC day and cohort, in the engine,
    chunk by chunk.

    ``start`` should be a UTC midnight. The chunks cover ``[start, end)`` without gaps, in
    whole days of about :data:`~loopwatch.storage.engines.CHUNK_ROWS` decisions each, so
    that a caller that stores each chunk before asking for the next holds one chunk's
    aggregates at a time.

    Parameters
    ----------
    table
        Ibis table of decisions (any backend).
    spec, binning
        What to profile, and the reference's bins.
    outcomes
        Ibis table of outcomes, one per decision (the latest), on the same backend;
        ``None`` when there are none (every decision is then unlabelled). With ``horizon``,
        every outcome (not only the latest) observed near the window.
    con
        The backend, to register the small tables of codes.
    labels_only
        Compute only the score × label part (when only outcomes changed).
    cohorts
        ``False`` profiles the global cohort only (a reference-vs-current drift job).
    scan
        ``scan(first, last)``: the decisions of ``[first, last)`` with ``table``'s columns,
        read more narrowly than by filtering ``table`` (the Parquet store opens only the
        files of those days). By default, ``table`` filtered on its timestamp.
    kept
        Per capped cohort column, the values profiled apart; the others count as
        ``(other)`` (:mod:`loopwatch.storage.cohort_cap`).
    horizon
        The spec's label horizon in seconds: a decision's label is its latest outcome
        observed within it (:func:`~loopwatch.storage.decision_columns.within_horizon`).
    """
    con = con if con is not None else table._find_backend()
    views = Views(con)
    try:
        dims = dimensions(spec) if cohorts else (GLOBAL,)
        yield from _profile_parts(table, spec, binning, start, end, outcomes, con, views,
                                  labels_only, dims, scan, kept or {}, horizon)
    finally:
        views.drop()


def profile_parts(table: Any, spec: Spec, binning: Binning, *, start: datetime, end: datetime,
                  outcomes: Any | None = None, con: Any | None = None,
                  labels_only: bool = False, cohorts: bool = True,
                  scan: Scan | None = None, kept: KeptValues | None = None,
                  horizon: int | None = None) -> ProfileParts:
    """All of :func:`iter_profile_parts` at once, as one :class:`ProfileParts`."""
    chunks = [chunk.parts for chunk in iter_profile_parts(
        table, spec, binning, start=start, end=end, outcomes=outcomes, con=con,
        labels_only=labels_only, cohorts=cohorts, scan=scan, kept=kept, horizon=horizon)]
    return ProfileParts.concat(chunks)


def _profile_parts(table: Any, spec: Spec, binning: Binning, start: datetime, end: datetime,
                   outcomes: Any | None, con: Any, views: Views,
                   labels_only: bool, dims: tuple[str, ...],
                   scan: Scan | None, kept: KeptValues,
                   horizon: int | None) -> Iterator[PartsChunk]:
    import ibis

    c = spec.columns
    numeric, categorical = split_features(spec)
    features = [*numeric, *categorical]
    schema = table.schema()

    def between(first: datetime, last: datetime) -> Any:
        if scan is not None:
            return conform(scan(first, last), schema)
        ts = table[c.timestamp]
        return table.filter((ts >= ibis.literal(first)) & (ts < ibis.literal(last)))

    day0 = int(start.timestamp() // 86400)
    # the window's decisions as a view, which the small queries and (one chunk) the
    # projection read by name
    source = views.name("source")
    views.replace(source, between(start, end))
    runner = Runner(con)
    present_sql, daily_sql = window_sql(runner, schema, source, spec, dims, kept)
    # 1. integer codes for cohort values and categories; 2. the projection of a chunk
    values, null_codes, lookups, other_codes = _cohort_codes(
        None if present_sql is None else runner.fetch(present_sql), binning, dims, views,
        labels_only, kept, spec)
    lab = None
    if outcomes is not None:  # a view, so that the projection's text does not name the files
        lab = outcome_labels(outcomes, spec, observed=horizon is not None)
        lab_name = views.name("outcomes")
        views.replace(lab_name, lab)
        lab = ibis.table(lab.schema(), name=lab_name)
    n_scores = len(binning.score) + 1
    project = Projection(spec, binning, dims, null_codes, lookups, lab, labels_only,
                          other_codes, horizon)

    # 3. the rows per day (from the window's first day), to cut it into chunks of whole days
    counted = runner.fetch(daily_sql)
    daily = pa.table({"_day": pc.subtract(pc.cast(counted.column("_day"), pa.int64()), day0),
                      "n": counted.column("n")})
    n_binned = binned_dimensions(spec) if len(dims) > 1 else 1
    # the projection and the aggregates are compiled once, over fixed names: a view of
    # each chunk's decisions (replaced chunk after chunk), and the chunk's projection
    chunk_name = views.name("chunk")
    projected, shape = project.sql(runner, schema, source)
    compiled = aggregate_sql(runner, shape, chunk_name, n_dims=len(dims),
                              n_numeric=len(numeric), n_features=len(features),
                              n_binned=n_binned, labels_only=labels_only)
    # days from the one holding `start` to the one holding the last instant before `end`
    n_days = max(1, -(-int(end.timestamp() - day0 * 86400) // 86400))

    def decoded(first: int, last: int, fetch: Callable[[str], pa.Table]) -> PartsChunk:
        """The aggregates of the days ``[first, last)``, each part's rows from ``fetch(part)``."""
        raw = {part: normalize(fetch(part), part, len(numeric), len(features))
               for part in compiled}
        for part in RAW:
            raw.setdefault(part, normalize(None, part, len(numeric), len(features)))
        # the projection's days are days since the epoch
        return PartsChunk(max(start, _day_start(day0 + first)), min(end, _day_start(day0 + last)),
                          decode(0, values, dims, features, n_scores, raw, n_binned))

    if runner.whole_window:
        # a distributed engine: each aggregate is one job over the whole window (a scan of the
        # source and one shuffle), its result kept (cached); the projection is a view, not
        # kept. The results are fetched in groups of days sized for the driver's memory.
        runner.define_view(chunk_name, projected)
        per_day = _aggregate_rows(values, n_binned, binning, spec, n_scores)
        weights = daily.set_column(1, "n", pa.array([per_day] * daily.num_rows, pa.int64()))
        results = {part: views.name(part) for part in compiled}
        try:
            for part, sql in compiled.items():
                runner.materialize(results[part], sql)
            kept_rows = {part: con.table(name) for part, name in results.items()}
            for first, last in _chunks(weights, FETCH_ROWS, n_days):
                def fetch(part: str, first: int = first, last: int = last) -> pa.Table:
                    rows = kept_rows[part]
                    return runner.fetch(runner.sql(rows.filter((rows.day >= day0 + first)
                                                               & (rows.day < day0 + last))))
                yield decoded(first, last, fetch)
        finally:
            for name in results.values():
                runner.drop(name)
            runner.drop(chunk_name)
        return
    # an engine on one machine: whole days in chunks of about CHUNK_ROWS rows, each
    # materialised once (narrow integers) and aggregated by several group-bys, so memory is
    # bounded by the chunk, not by the window
    chunks = _chunks(daily, runner.chunk_rows or 0, n_days)
    for first, last in chunks:
        if len(chunks) > 1:  # one chunk is the whole window, which the view holds already
            views.replace(source, between(max(start, _day_start(day0 + first)),
                                          min(end, _day_start(day0 + last))))
        runner.materialize(chunk_name, projected)
        try:
            chunk = decoded(first, last, lambda part: runner.fetch(compiled[part]))
        finally:
            runner.drop(chunk_name)
        yield chunk


def _aggregate_rows(values: list[tuple[int, str]], n_binned: int, binning: Binning, spec: Spec,
                    n_scores: int) -> int:
    """About how many aggregate rows a day gives at most: each binned dimension's codes times
    every feature's bins, and every code times the score, action and latency bins."""
    numeric, categorical = split_features(spec)
    slots = (sum(len(binning.numeric[n]) + 2 for n in numeric)
             + sum(len(binning.categorical[n]) + 2 for n in categorical))
    binned = sum(1 for i, _ in values if i < n_binned)
    return max(1, binned * slots + len(values) * (4 * n_scores + 64))


def _cohort_codes(present: pa.Table | None, binning: Binning, dims: tuple[str, ...],
                  views: Views, labels_only: bool, kept: KeptValues, spec: Spec,
                  ) -> tuple[list[tuple[int, str]], list[int], list[tuple[str, Any, str]],
                             list[int | None]]:
    """Integer codes for the cohort values present (``present``: the window's distinct
    ``(d, v)``, dimension index and value as text, from
    :func:`~loopwatch.storage.profile_queries.window_sql`) and for the reference categories.

    Each dimension's values take consecutive codes, then ``(other)``'s for a capped
    column, then its code for null. Returns the (dimension, value) of each code, each
    dimension's null code, the lookups to join: (column, table of codes, suffix of its
    columns), and each dimension's code for ``(other)`` (``None``: not capped).
    """
    values: list[tuple[int, str]] = []
    null_codes: list[int] = []
    other_codes: list[int | None] = []
    lookups: list[tuple[str, Any, str]] = []
    found_values: dict[int, list[str]] = {}
    if present is not None:
        for d, v in zip(present.column("d").to_pylist(), present.column("v").to_pylist(),
                        strict=True):
            if v is not None:
                found_values.setdefault(int(d), []).append(v)
    for i, name in enumerate(dims):
        capped = kept.get(name) if name not in (GLOBAL, HOUR_OF_DAY) else None
        if name == GLOBAL:
            found = [GLOBAL]
        elif name == HOUR_OF_DAY:
            found = [str(h) for h in range(24)]
        else:
            found = sorted(found_values.get(i, []))
            lookups.append((name, views.codes(f"d{i}", found, len(values)), f"d{i}"))
        values += [(i, v) for v in found]
        other_codes.append(len(values) if capped is not None else None)
        if capped is not None:
            values.append((i, OTHER))
        null_codes.append(len(values))
        values.append((i, NULL_VALUE))
    if not labels_only:
        numeric, categorical = split_features(spec)
        for j, name in enumerate(categorical, start=len(numeric)):
            lookups.append((name, views.codes(f"f{j}", binning.categorical[name]), f"f{j}"))
    return values, null_codes, lookups, other_codes


def _day_start(day: int) -> datetime:
    return datetime.fromtimestamp(day * 86400, UTC)


def _chunks(daily: pa.Table, size: int, n_days: int) -> list[tuple[int, int]]:
    """Day ranges ``[first, last)`` covering ``[0, n_days)`` without gaps, each of whole
    days and about ``size`` rows (a single day may hold more).

    >>> daily = pa.table({"_day": [0, 1, 2, 4], "n": [3, 3, 3, 3]})
    >>> _chunks(daily, 6, 6)
    [(0, 2), (2, 6)]
    >>> _chunks(daily.slice(0, 0), 6, 3)
    [(0, 3)]
    """
    counts = dict(zip(daily.column("_day").to_pylist(), daily.column("n").to_pylist(),
                      strict=True))
    out: list[tuple[int, int]] = []
    first, rows = 0, 0
    for day in range(n_days):
        n = counts.get(day, 0)
        if rows and rows + n > size:
            out.append((first, day))
            first, rows = day, 0
        rows += n
    out.append((first, n_days))
    return out


def empty_parts(spec: Spec, binning: Binning) -> ProfileParts:
    """Parts of no rows, shaped for ``spec`` (what an empty history returns)."""
    numeric, categorical = split_features(spec)
    raw = {name: normalize(None, name, len(numeric), len(numeric) + len(categorical))
           for name in RAW}
    return decode(0, [], dimensions(spec), [*numeric, *categorical], len(binning.score) + 1,
                   raw, binned_dimensions(spec))


