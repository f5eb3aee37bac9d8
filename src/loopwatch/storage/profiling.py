"""Profiles computed where the logs live: one Ibis query plan for DuckDB, PostgreSQL and Spark.

Only aggregates leave the engine. Bins are computed in the engine with a
balanced tree of comparisons against the reference edges (about log2(bins)
comparisons a value); categorical codes come from a join with a small table of
the reference categories. A run takes whole days in chunks of about
:data:`~loopwatch.storage.engines.CHUNK_ROWS` decisions (set per engine), read
from those days only: each chunk's projection (narrow integers: day, cohort
codes, a slot per feature) is kept as a temporary table and counted by small
group-bys, one per (dimension, feature). The plan is built and compiled
by Ibis once per run (:mod:`loopwatch.storage.engines` runs it). Column and
value names reach the engine only as Ibis identifiers and literals, never as
SQL text.

Each chunk gives a :class:`~loopwatch.core.profile_parts.ProfileParts`: long
tables of aggregates keyed by (day, dimension, value). They are what the profile
history stores (chunk by chunk, :func:`iter_profile_parts`), and they turn into
profiles by summing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loopwatch.core.profile import (
    HLL_BITS,
    HLL_RANK_BITS,
    HOUR_OF_DAY,
    Binning,
)
from loopwatch.core.profile_parts import ProfileParts
from loopwatch.core.spec import Spec
from loopwatch.storage.bin_expressions import hll_rank, numeric_bin, score_bin
from loopwatch.storage.engines import Runner
from loopwatch.storage.fitting import as_text, split_features, without_nan

__all__ = [
    "PartsChunk",
    "binned_dimensions",
    "dimensions",
    "empty_parts",
    "iter_profile_parts",
    "profile_parts",
]

#: The single dimension of a profile without cohorts.
GLOBAL = "all"
_UNSEEN_HASH_MOD = 1 << (HLL_BITS + HLL_RANK_BITS)
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


class _Views:
    """Temporary views and tables created for one profile run, dropped at the end."""

    def __init__(self, con: Any) -> None:
        self.con = con
        self.created: list[tuple[str, str]] = []  # (kind, name), in order of creation
        self.memtables: list[Any] = []

    def barrier(self, expr: Any) -> Any:
        name = self.name("view")
        self.con.create_view(name, expr)
        self.created.append(("view", name))
        return self.con.table(name)

    @staticmethod
    def name(kind: str) -> str:
        """A name of this run's own."""
        return f"_lw_{kind}_{uuid.uuid4().hex}"

    def replace(self, name: str, expr: Any) -> None:
        """Define (or redefine) the view ``name`` as ``expr``."""
        if ("view", name) not in self.created:
            self.created.append(("view", name))
        self.con.create_view(name, expr, overwrite=True)

    def codes(self, name: str, values: Sequence[str], first: int = 0) -> Any:
        """A small table of (value, code), joined to turn values into integer codes."""
        import ibis

        data = pa.table({f"_v_{name}": pa.array(values, pa.string()),
                         f"_c_{name}": pa.array(range(first, first + len(values)), pa.int64())})
        table_name = f"_lw_{name}_{uuid.uuid4().hex}"
        try:
            table = self.con.create_table(table_name, data, temp=True)
        except NotImplementedError:
            # PySpark has no temporary tables (a plain one would be written to the
            # warehouse directory); a view over an in-memory table is registered at once
            # (a cached chunk's query does not register in-memory tables itself). The
            # in-memory table is kept referenced until the views over it are dropped: Ibis
            # drops it once its expression is garbage-collected.
            table = ibis.memtable(data)
            self.memtables.append(table)
            return self.barrier(table)
        self.created.append(("table", table_name))
        return table

    def drop(self) -> None:
        # views first (reverse order of creation): they depend on the tables
        for kind, name in reversed(self.created):
            if kind == "view":
                self.con.drop_view(name, force=True)
            else:
                self.con.drop_table(name, force=True)
        self.memtables.clear()


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
        ``None`` when there are none (every decision is then unlabelled).
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
    """
    con = con if con is not None else table._find_backend()
    views = _Views(con)
    try:
        dims = dimensions(spec) if cohorts else (GLOBAL,)
        yield from _profile_parts(table, spec, binning, start, end, outcomes, con, views,
                                  labels_only, dims, scan)
    finally:
        views.drop()


def profile_parts(table: Any, spec: Spec, binning: Binning, *, start: datetime, end: datetime,
                  outcomes: Any | None = None, con: Any | None = None,
                  labels_only: bool = False, cohorts: bool = True,
                  scan: Scan | None = None) -> ProfileParts:
    """All of :func:`iter_profile_parts` at once, as one :class:`ProfileParts`."""
    chunks = [chunk.parts for chunk in iter_profile_parts(
        table, spec, binning, start=start, end=end, outcomes=outcomes, con=con,
        labels_only=labels_only, cohorts=cohorts, scan=scan)]
    return ProfileParts.concat(chunks)


def _profile_parts(table: Any, spec: Spec, binning: Binning, start: datetime, end: datetime,
                   outcomes: Any | None, con: Any, views: _Views,
                   labels_only: bool, dims: tuple[str, ...],
                   scan: Scan | None) -> Iterator[PartsChunk]:
    import ibis

    c = spec.columns
    numeric, categorical = split_features(spec)
    features = [*numeric, *categorical]
    schema = table.schema()

    def between(first: datetime, last: datetime) -> Any:
        if scan is not None:
            return _conform(scan(first, last), schema)
        ts = table[c.timestamp]
        return table.filter((ts >= ibis.literal(first)) & (ts < ibis.literal(last)))

    window = between(start, end)
    day0 = int(start.timestamp() // 86400)
    # 1. integer codes for cohort values and categories; 2. the projection of a chunk
    values, null_codes, lookups = _cohort_codes(window, spec, binning, dims, views, labels_only)
    lab = _outcome_labels(outcomes, spec) if outcomes is not None else None
    n_scores = len(binning.score) + 1
    project = _Projection(spec, binning, dims, null_codes, lookups, lab, day0, labels_only)

    # 3. whole days in chunks of about CHUNK_ROWS rows: each chunk is materialised once
    # (narrow integers) and aggregated by several group-bys, so memory is bounded by the
    # chunk, not by the window
    daily = (window.group_by(_day=(window[c.timestamp].epoch_seconds() // 86400 - day0))
             .aggregate(n=ibis._.count()).to_pyarrow())
    light = (len(features), len(features) + 1)
    n_binned = binned_dimensions(spec) if len(dims) > 1 else 1
    # the projection and the aggregates are compiled once, over fixed names: a view of
    # each chunk's decisions (replaced chunk after chunk), and the chunk's projection
    source = views.name("source")
    projection = project(ibis.table(schema, name=source))
    chunk_name = views.name("chunk")
    shape = ibis.table(projection.schema(), name=chunk_name)
    queries = {"labels": _labels_query(shape, len(dims))}
    if not labels_only:
        pairs = [(i, k) for i in range(len(dims)) for k in range(len(features) + 2)
                 if k in light or i < n_binned]
        queries |= {
            "counts": _counts_query(shape, pairs, len(features)),
            "moments": _moments_query(shape, len(dims), len(numeric), len(features)),
        }
        if categorical:
            queries["sketch"] = _sketch_query(shape, len(dims), range(len(numeric), len(features)))
    runner = Runner(con)
    projected = runner.sql(projection)
    compiled = {part: runner.sql(query) for part, query in queries.items()}
    # days from the one holding `start` to the one holding the last instant before `end`
    n_days = max(1, -(-int(end.timestamp() - day0 * 86400) // 86400))
    for first, last in _chunks(daily, runner.chunk_rows, n_days):
        chunk_start = max(start, _day_start(day0 + first))
        chunk_end = min(end, _day_start(day0 + last))
        views.replace(source, between(chunk_start, chunk_end))
        raw: dict[str, pa.Table] = {}
        runner.materialize(chunk_name, projected)
        try:
            for part, sql in compiled.items():
                raw[part] = _normalize(runner.fetch(sql), part, len(numeric), len(features))
        finally:
            runner.drop(chunk_name)
        for part in _RAW:
            raw.setdefault(part, _normalize(None, part, len(numeric), len(features)))
        parts = _decode(day0, values, dims, features, n_scores, raw, n_binned)
        yield PartsChunk(chunk_start, chunk_end, parts)


def _cohort_codes(table: Any, spec: Spec, binning: Binning, dims: tuple[str, ...],
                  views: _Views, labels_only: bool,
                  ) -> tuple[list[tuple[int, str]], list[int], list[tuple[str, Any, str]]]:
    """Integer codes for the cohort values present (a small query per cohort column) and
    for the reference categories.

    Each dimension's values take consecutive codes, followed by its code for null.
    Returns the (dimension, value) of each code, each dimension's null code, and the
    lookups to join: (column, table of codes, suffix of its columns).
    """
    values: list[tuple[int, str]] = []
    null_codes: list[int] = []
    lookups: list[tuple[str, Any, str]] = []
    for i, name in enumerate(dims):
        if name == GLOBAL:
            found = [GLOBAL]
        elif name == HOUR_OF_DAY:
            found = [str(h) for h in range(24)]
        else:
            text = as_text(table[name], _dtype(spec, name))
            found = sorted(v for v in table.select(v=text).distinct().to_pyarrow()
                           .column("v").to_pylist() if v is not None)
            lookups.append((name, views.codes(f"d{i}", found, len(values)), f"d{i}"))
        values += [(i, v) for v in found]
        null_codes.append(len(values))
        values.append((i, _NULL_VALUE))
    if not labels_only:
        numeric, categorical = split_features(spec)
        for j, name in enumerate(categorical, start=len(numeric)):
            lookups.append((name, views.codes(f"f{j}", binning.categorical[name]), f"f{j}"))
    return values, null_codes, lookups


@dataclass(frozen=True)
class _Projection:
    """One narrow row per decision: day, cohort codes, a slot per pseudo-feature, and what
    the moments, label and sketch aggregates read (an Ibis expression over ``rows``)."""

    spec: Spec
    binning: Binning
    dims: tuple[str, ...]
    null_codes: list[int]
    lookups: list[tuple[str, Any, str]]
    lab: Any | None  # the outcomes' (_oid, _label, _value), or None
    day0: int
    labels_only: bool

    def __call__(self, rows: Any) -> Any:
        joined = rows
        for name, codes, suffix in self.lookups:
            joined = joined.left_join(codes, as_text(joined[name], _dtype(self.spec, name))
                                      == codes[f"_v_{suffix}"])
        if self.lab is not None:
            joined = joined.left_join(self.lab, joined[self.spec.columns.decision_id]
                                      == self.lab._oid)
        score = score_bin(joined[self.spec.columns.score], self.binning.score)
        columns = {**self._cohorts(joined),
                   **_label_columns(joined, self.binning, self.lab is not None, score)}
        if not self.labels_only:
            columns |= {**self._slots(joined, score), **self._values(joined)}
        return joined.select(**columns)

    def _cohorts(self, joined: Any) -> dict[str, Any]:
        import ibis

        ts = joined[self.spec.columns.timestamp]
        cols: dict[str, Any] = {"_day": (ts.epoch_seconds() // 86400 - self.day0).cast("int32")}
        for i, name in enumerate(self.dims):
            null_code = self.null_codes[i]
            if name == GLOBAL:
                cols[f"_d{i}"] = ibis.literal(null_code - 1).cast("int32")
            elif name == HOUR_OF_DAY:
                hour = ts.epoch_seconds() // 3600 % 24  # UTC, without a calendar per row
                cols[f"_d{i}"] = (hour + null_code - 24).cast("int32")
            else:
                cols[f"_d{i}"] = joined[f"_c_d{i}"].fill_null(null_code).cast("int32")
        return cols

    def _slots(self, joined: Any, score: Any) -> dict[str, Any]:
        """Each pseudo-feature's bin + 1 (0 for null): features, score × action, latency."""
        binning = self.binning
        numeric, categorical = split_features(self.spec)
        cols: dict[str, Any] = {}
        for k, name in enumerate(numeric):
            cols[f"_s{k}"] = (numeric_bin(joined[name], binning.numeric[name]) + 1).cast("int32")
        for k, name in enumerate(categorical, start=len(numeric)):
            cols[f"_s{k}"] = _categorical_slot(joined, name, k, binning)
        k = len(numeric) + len(categorical)
        cols[f"_s{k}"] = _action_slot(joined, self.spec, binning, score)
        cols[f"_s{k + 1}"] = _latency_slot(joined, self.spec, binning)
        return cols

    def _values(self, joined: Any) -> dict[str, Any]:
        """What the moments and sketches sum: score, positives, cleaned numeric values,
        errors, latency, hashes of unseen categorical values."""
        c = self.spec.columns
        numeric, categorical = split_features(self.spec)
        cols: dict[str, Any] = {"_score": joined[c.score].cast("float64"),
                                "_pos": _positive(joined, self.spec).cast("int32")}
        for j, name in enumerate(numeric):
            cols[f"_x{j}"] = without_nan(joined[name])
        cols |= _system_columns(joined, self.spec)
        for j, name in enumerate(categorical, start=len(numeric)):
            cols[f"_h{j}"] = _unseen_hash(joined, self.spec, name, j)
        return cols


def _outcome_labels(outcomes: Any, spec: Spec) -> Any:
    """The outcomes as ``(_oid, _label, _value)``, to join on the decision id."""
    import ibis

    o = spec.outcomes
    value = (outcomes[o.value].cast("float64") if o.value
             else ibis.literal(None).cast("float64"))
    return outcomes.select(_oid=outcomes[o.decision_id], _label=outcomes[o.label], _value=value)


def _system_columns(joined: Any, spec: Spec) -> dict[str, Any]:
    """What the moments add up besides features: errors (1 a decision) and latency."""
    import ibis

    c = spec.columns
    return {"_err": (ibis.ifelse(joined[c.error].notnull(), 1, 0) if c.error
                     else ibis.literal(0)).cast("int32"),
            "_lat": (joined[c.latency].cast("float64") if c.latency
                     else ibis.literal(None).cast("float64"))}


def _label_columns(joined: Any, binning: Binning, labelled: bool, score: Any) -> dict[str, Any]:
    """Label × score bin, and the outcome's value where labelled (``labelled``: ``joined``
    holds the outcomes' ``_label`` and ``_value``)."""
    import ibis

    n_scores = len(binning.score) + 1
    if not labelled:
        return {"_lab": (2 * n_scores + score).cast("int32"),
                "_val": ibis.literal(None).cast("float64")}
    label_code = ibis.cases((joined._label.isnull(), 2), (joined._label, 1), else_=0)
    return {"_lab": (label_code * n_scores + score).cast("int32"),
            "_val": ibis.ifelse(label_code == 2, None, joined._value)}


def _categorical_slot(joined: Any, name: str, k: int, binning: Binning) -> Any:
    """Category code + 1 (0 for null, the last for unseen), over the join with its codes."""
    import ibis

    unseen = len(binning.categorical[name])
    return ibis.ifelse(joined[name].isnull(), 0,
                       joined[f"_c_f{k}"].fill_null(unseen) + 1).cast("int32")


def _unseen_hash(joined: Any, spec: Spec, name: str, k: int) -> Any:
    """A hash of an unseen category's value (null for seen and null values), for the sketch."""
    import ibis

    hashed = (as_text(joined[name], _dtype(spec, name)).hash() % _UNSEEN_HASH_MOD
              + _UNSEEN_HASH_MOD) % _UNSEEN_HASH_MOD
    is_unseen = joined[f"_c_f{k}"].isnull() & joined[name].notnull()
    return ibis.ifelse(is_unseen, hashed, None).cast("int64")


def _action_slot(joined: Any, spec: Spec, binning: Binning, score: Any) -> Any:
    """Action code × score bins + score bin + 1: the score histogram split by action."""
    import ibis

    action_column = spec.columns.action
    if action_column and binning.actions:
        action = joined[action_column]
        action_code = ibis.cases(*[(action == a, k) for k, a in enumerate(binning.actions)],
                                 else_=len(binning.actions))
    else:
        action_code = ibis.literal(len(binning.actions))
    n_scores = len(binning.score) + 1
    return (action_code * n_scores + score + 1).cast("int32")


def _latency_slot(joined: Any, spec: Spec, binning: Binning) -> Any:
    """Latency bin + 1 (0 without a latency column or value)."""
    import ibis

    latency = spec.columns.latency
    return (numeric_bin(joined[latency].cast("float64"), binning.latency) + 1 if latency
            else ibis.literal(0)).cast("int32")


def _conform(rows: Any, schema: Any) -> Any:
    """``rows`` with exactly the columns and types of ``schema`` (a file written before a
    column was added lacks it; the store reads it as null)."""
    import ibis

    if rows.schema() == schema:
        return rows
    return rows.select(**{name: rows[name].cast(dtype) if name in rows.columns
                          else ibis.null(dtype) for name, dtype in schema.items()})


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


def _union(branches: list[Any]) -> Any:
    import ibis

    return ibis.union(*branches, distinct=False) if len(branches) > 1 else branches[0]


def _counts_query(chunk: Any, pairs: list[tuple[int, int]], n_features: int) -> Any:
    """Decisions per (day, cohort value, pseudo-feature, bin): one small group-by a pair.

    Feature bins also carry the score sum and positive decisions (the global cohort's
    :attr:`~loopwatch.core.profile_parts.ProfileParts.by_bin` is their sum over the
    values of one dimension).
    """
    import ibis

    branches = []
    for i, k in pairs:
        sums = k < n_features
        g = chunk.group_by(["_day", f"_d{i}", f"_s{k}"]).aggregate(
            n=ibis._.count(),
            score_sum=ibis._._score.sum() if sums else ibis.literal(None, "float64"),
            positive=ibis._._pos.sum() if sums else ibis.literal(None, "int64"))
        branches.append(g.select(day=g._day, code=g[f"_d{i}"], feature=ibis.literal(k, "int32"),
                                 bin=g[f"_s{k}"] - 1, n=g.n, score_sum=g.score_sum,
                                 positive=g.positive))
    return _union(branches)


def _labels_query(chunk: Any, n_dims: int) -> Any:
    """Decisions and the outcomes' value per (day, cohort value, label × score bin)."""
    import ibis

    branches = []
    for i in range(n_dims):
        g = chunk.group_by(["_day", f"_d{i}", "_lab"]).aggregate(
            n=ibis._.count(), value_sum=ibis._._val.sum(), value_sq=(ibis._._val * ibis._._val).sum())
        branches.append(g.select(day=g._day, code=g[f"_d{i}"], lab=g._lab, n=g.n,
                                 value_sum=g.value_sum, value_sq=g.value_sq))
    return _union(branches)


def _moments_query(rows: Any, n_dims: int, n_numeric: int, n_features: int) -> Any:
    """Moments, missing values, errors and latency sums per (day, cohort value)."""
    import ibis

    aggs: dict[str, Any] = {"n": ibis._.count(), "errors": ibis._._err.sum(),
                            "lat_count": ibis._._lat.count(), "lat_sum": ibis._._lat.sum()}
    for j in range(n_numeric):
        x = ibis._[f"_x{j}"]
        aggs |= {f"{j}_count": x.count(), f"{j}_sum": x.sum(), f"{j}_sum_sq": (x * x).sum(),
                 f"{j}_min": x.min(), f"{j}_max": x.max()}
    for j in range(n_numeric, n_features):
        aggs[f"{j}_nulls"] = ibis.ifelse(ibis._[f"_s{j}"] == 0, 1, 0).sum()
    branches = []
    for i in range(n_dims):
        g = rows.group_by(["_day", f"_d{i}"]).aggregate(**aggs)
        branches.append(g.select(day=g._day, code=g[f"_d{i}"], **{k: g[k] for k in aggs}))
    return _union(branches)


def _sketch_query(chunk: Any, n_dims: int, categorical: range) -> Any:
    """HyperLogLog registers of unseen categorical values per (day, cohort value, feature)."""
    import ibis

    branches = []
    for i in range(n_dims):
        for j in categorical:
            rows = chunk.filter(chunk[f"_h{j}"].notnull())
            hashed = rows[f"_h{j}"]
            g = (rows.select(_day=rows._day, _code=rows[f"_d{i}"],
                             _register=hashed % (1 << HLL_BITS), _rank=hll_rank(hashed))
                 .group_by(["_day", "_code", "_register"]).aggregate(rank=ibis._._rank.max()))
            branches.append(g.select(day=g._day, code=g._code, feature=ibis.literal(j, "int32"),
                                     register=g._register, rank=g["rank"]))
    return _union(branches)


def empty_parts(spec: Spec, binning: Binning) -> ProfileParts:
    """Parts of no rows, shaped for ``spec`` (what an empty history returns)."""
    numeric, categorical = split_features(spec)
    raw = {name: _normalize(None, name, len(numeric), len(numeric) + len(categorical))
           for name in _RAW}
    return _decode(0, [], dimensions(spec), [*numeric, *categorical], len(binning.score) + 1,
                   raw, binned_dimensions(spec))


def _positive(rel: Any, spec: Spec) -> Any:
    """1 where the decision was positive: a positive action, or else a score at the threshold."""
    import ibis

    c = spec.columns
    if c.action:
        return ibis.ifelse(rel[c.action].isin(list(spec.positive_actions)), 1, 0)
    threshold = rel[c.threshold].cast("float64") if c.threshold else None
    if spec.threshold is not None:
        fixed = ibis.literal(spec.threshold).cast("float64")
        threshold = fixed if threshold is None else threshold.fill_null(fixed)
    if threshold is None:
        return ibis.literal(0)
    return ibis.ifelse(rel[c.score] >= threshold, 1, 0)


_NULL_VALUE = "(null)"
_I32, _I64, _F64 = pa.int32(), pa.int64(), pa.float64()
#: What each query returns, keyed by (day, code) where code indexes the cohort values.
_RAW = {
    "counts": [("day", _I32), ("code", _I32), ("feature", _I32), ("bin", _I32), ("n", _I64),
               ("score_sum", _F64), ("positive", _I64)],
    "labels": [("day", _I32), ("code", _I32), ("lab", _I32), ("n", _I64),
               ("value_sum", _F64), ("value_sq", _F64)],
    "moments": [("day", _I32), ("code", _I32), ("n", _I64), ("errors", _I64),
                ("lat_count", _I64), ("lat_sum", _F64)],
    "sketch": [("day", _I32), ("code", _I32), ("feature", _I32), ("register", _I32),
               ("rank", _I32)],
}
#: Sums that an engine returns as null over no values, where the profile counts zero.
_ZERO_IF_NULL = ("value_sum", "value_sq", "score_sum", "positive", "errors")


def _raw_schema(name: str, n_numeric: int, n_features: int) -> pa.Schema:
    fields = list(_RAW[name])
    if name == "moments":
        for j in range(n_numeric):
            fields += [(f"{j}_count", _I64), (f"{j}_sum", _F64), (f"{j}_sum_sq", _F64),
                       (f"{j}_min", _F64), (f"{j}_max", _F64)]
        fields += [(f"{j}_nulls", _I64) for j in range(n_numeric, n_features)]
    return pa.schema(fields)


def _normalize(table: pa.Table | None, name: str, n_numeric: int, n_features: int) -> pa.Table:
    """Engines return different integer widths; fix a query's result to one schema."""
    schema = _raw_schema(name, n_numeric, n_features)
    if table is None:
        return schema.empty_table()
    arrays = []
    for field_ in schema:
        column = table.column(field_.name).cast(field_.type)
        if field_.name in _ZERO_IF_NULL or field_.name.endswith("_nulls"):
            column = column.fill_null(0)
        arrays.append(column)
    return pa.table(arrays, schema=schema)


def _dtype(spec: Spec, name: str) -> str:
    names = {f.name: f for f in spec.features}
    return names[name].stored_dtype if name in names else "categorical"


def _decode(day0: int, values: list[tuple[int, str]], dims: tuple[str, ...],
            features: list[str], n_scores: int, raw: dict[str, pa.Table],
            n_binned: int) -> ProfileParts:
    """Turn day indexes and cohort codes into the long (day, dim, value, ...) tables."""
    value_dim = np.array([d for d, _ in values], np.int32)
    value_text = pa.array([v for _, v in values], pa.string())

    def day_of(table: pa.Table) -> pa.Array:
        day = table.column("day").to_numpy().astype(np.int64)
        return pa.array((day + day0) * 86_400_000_000, pa.int64()).cast(_DAY[1])

    def head(table: pa.Table) -> dict[str, Any]:
        # values as a dictionary array: no string is built per row
        code = table.column("code").to_numpy()
        return {"day": day_of(table), "dim": pa.array(value_dim[code], pa.int32()),
                "value": pa.DictionaryArray.from_arrays(pa.array(code, pa.int32()), value_text)}

    def rest(table: pa.Table, skip: tuple[str, ...] = ("day", "code")) -> dict[str, Any]:
        return {name: table.column(name) for name in table.column_names if name not in skip}

    labels = raw["labels"]
    label, score_bins = np.divmod(labels.column("lab").to_numpy(), n_scores)
    labels_t = pa.table({**head(labels), "bin": pa.array(score_bins, pa.int32()),
                         "label": pa.array(label, pa.int32()),
                         **rest(labels, ("day", "code", "lab"))}, schema=_LABELS)
    counts = raw["counts"]
    # the global cohort's feature bins: the sum over the values of the first dimension
    first_dim = pc.equal(pa.array(value_dim[counts.column("code").to_numpy()], pa.int32()), 0)
    by_bin = (counts.filter(pc.and_(first_dim, pc.less(counts.column("feature"), len(features))))
              .group_by(["day", "feature", "bin"])
              .aggregate([("n", "sum"), ("score_sum", "sum"), ("positive", "sum")])
              .rename_columns({"n_sum": "n", "score_sum_sum": "score_sum",
                               "positive_sum": "positive"}))
    return ProfileParts(
        dims=dims, features=tuple(features),
        counts=pa.table({**head(counts), **rest(counts, ("day", "code", "score_sum",
                                                          "positive"))}, schema=_COUNTS),
        moments=pa.table({**head(raw["moments"]), **rest(raw["moments"])}),
        labels=labels_t,
        sketch=pa.table({**head(raw["sketch"]), **rest(raw["sketch"])}, schema=_SKETCH),
        by_bin=pa.table({"day": day_of(by_bin), **rest(by_bin, ("day",))}, schema=_BY_BIN),
        n_binned=n_binned)


_DAY = ("day", pa.timestamp("us", tz="UTC"))
_VALUE = ("value", pa.dictionary(pa.int32(), pa.string()))
_COUNTS = pa.schema([_DAY, ("dim", pa.int32()), _VALUE, ("feature", pa.int32()),
                     ("bin", pa.int32()), ("n", pa.int64())])
_SKETCH = pa.schema([_DAY, ("dim", pa.int32()), _VALUE, ("feature", pa.int32()),
                     ("register", pa.int32()), ("rank", pa.int32())])
_LABELS = pa.schema([_DAY, ("dim", pa.int32()), _VALUE, ("bin", pa.int32()),
                     ("label", pa.int32()), ("n", pa.int64()), ("value_sum", pa.float64()),
                     ("value_sq", pa.float64())])
_BY_BIN = pa.schema([_DAY, ("feature", pa.int32()), ("bin", pa.int32()), ("n", pa.int64()),
                     ("score_sum", pa.float64()), ("positive", pa.int64())])
