"""The SQL of a profile run: the narrow projection of the decisions and the aggregates over
it, each compiled once a process.

Their text depends only on the spec, the binning, the cohort codes' shape and the counts of
dimensions and features, which stay the same from one daily run to the next, while building
and compiling them with Ibis costs about a second of CPU each: they are compiled over
placeholder names, which each run's own view and table names replace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from loopwatch.core.profile import HOUR_OF_DAY, Binning
from loopwatch.core.spec import Spec
from loopwatch.storage import aggregate_queries as q
from loopwatch.storage.aggregate_queries import union
from loopwatch.storage.bin_expressions import numeric_bin, score_bin
from loopwatch.storage.decision_columns import (
    action_slot,
    categorical_slot,
    feature_dtype,
    label_columns,
    latency_slot,
    positive,
    system_columns,
    unseen_hash,
    within_horizon,
)
from loopwatch.storage.engines import Runner
from loopwatch.storage.fitting import as_text, split_features, without_nan

__all__ = ["GLOBAL", "Projection", "aggregate_sql", "forget_compiled", "window_sql"]

#: The single dimension of a profile without cohorts.
GLOBAL = "all"

#: Placeholder names in compiled queries end so (a run's own names end in a random UUID).
_ZEROS = "0" * 32
#: The aggregate queries compiled, by what their text depends on, over :data:`_PLACEHOLDER`.
_AGGREGATES: dict[tuple[Any, ...], dict[str, str]] = {}
#: The name the cached queries read from, replaced by each run's own chunk name.
_PLACEHOLDER = f"_lw_chunk_{_ZEROS}"
#: The projections compiled (:meth:`Projection.sql`): text over placeholders, and schema.
_PROJECTIONS: dict[tuple[Any, ...], tuple[str, Any]] = {}
#: The window's small queries compiled (:func:`window_sql`), over :data:`_SOURCE`.
_WINDOWS: dict[tuple[Any, ...], tuple[str | None, str]] = {}
#: The name the window's queries read from, replaced by each run's own view of its decisions.
_SOURCE = f"_lw_source_{_ZEROS}"


def _remember(cache: dict[tuple[Any, ...], Any], key: tuple[Any, ...], value: Any) -> Any:
    """Keep ``value`` under ``key`` in one of the caches of compiled queries; a long-lived
    process of many specs starts a cache again once it holds 32."""
    if len(cache) >= 32:
        cache.clear()
    cache[key] = value
    return value


def window_sql(runner: Runner, schema: Any, source: str, spec: Spec, dims: tuple[str, ...],
               kept: Mapping[str, tuple[str, ...]]) -> tuple[str | None, str]:
    """The two small queries a run asks of its window's decisions (the view ``source`` of
    ``schema``) before its projection: the values present of each cohort column (``None``
    without cohort columns), and the decisions per day (days since the epoch).

    Each pass of a daily run (the new day's profile, the label part of the days owed
    labels) asked them anew, and building and compiling them took about a third of a
    pass's CPU time; their text depends on the spec and the kept cohort values only, so
    they are compiled once a process, over a placeholder name that ``source`` replaces.
    """
    import ibis

    key = (runner.con.name, schema, spec.model_dump_json(), dims,
           tuple(sorted((k, tuple(v)) for k, v in kept.items())))
    found = _WINDOWS.get(key)
    if found is None:
        rows = ibis.table(schema, name=_SOURCE)
        branches = []
        for i, name in enumerate(dims):
            if name in (GLOBAL, HOUR_OF_DAY):
                continue
            distinct = rows.select(d=ibis.literal(i, "int32"),
                                   v=as_text(rows[name], feature_dtype(spec, name))).distinct()
            capped = kept.get(name)
            if capped is not None:
                distinct = distinct.filter(distinct.v.isin(list(capped)))
            branches.append(distinct)
        daily = rows.group_by(_day=rows[spec.columns.timestamp].epoch_seconds() // 86400).aggregate(
            n=ibis._.count())
        found = _remember(_WINDOWS, key, (runner.sql(union(branches)) if branches else None,
                                          runner.sql(daily)))
    present, daily_sql = found
    return (None if present is None else present.replace(_SOURCE, source),
            daily_sql.replace(_SOURCE, source))


def aggregate_sql(runner: Runner, shape: Any, chunk_name: str, *, n_dims: int, n_numeric: int,
                   n_features: int, n_binned: int, labels_only: bool) -> dict[str, str]:
    """The aggregate queries of a run over the projection ``chunk_name`` of schema ``shape``.

    Their text depends only on the projection's schema and the counts of dimensions and
    features, which stay the same from one daily run to the next, while building and
    compiling them cost about a second of CPU a run: they are compiled once a process, over
    a placeholder name that each run's chunk name replaces.
    """
    import ibis

    stacked = runner.stacked
    key = (runner.con.name, stacked, shape, n_dims, n_numeric, n_features, n_binned, labels_only)
    found = _AGGREGATES.get(key)
    if found is None:
        rows = ibis.table(shape, name=_PLACEHOLDER)
        queries = {"labels": (q.stacked_labels_query if stacked else q.labels_query)(rows, n_dims)}
        if not labels_only:
            light = (n_features, n_features + 1)
            pairs = [(i, k) for i in range(n_dims) for k in range(n_features + 2)
                     if k in light or i < n_binned]
            counts = q.stacked_counts_query if stacked else q.counts_query
            moments = q.stacked_moments_query if stacked else q.moments_query
            queries |= {"counts": counts(rows, pairs, n_features),
                        "moments": moments(rows, n_dims, n_numeric, n_features)}
            if n_features > n_numeric:
                sketch = q.stacked_sketch_query if stacked else q.sketch_query
                queries["sketch"] = sketch(rows, n_dims, range(n_numeric, n_features))
        found = _remember(_AGGREGATES, key, {part: runner.sql(query) for part, query in queries.items()})
    return {part: sql.replace(_PLACEHOLDER, chunk_name) for part, sql in found.items()}


@dataclass(frozen=True)
class Projection:
    """One narrow row per decision: day, cohort codes, a slot per pseudo-feature, and what
    the moments, label and sketch aggregates read (an Ibis expression over ``rows``)."""

    spec: Spec
    binning: Binning
    dims: tuple[str, ...]
    null_codes: list[int]
    lookups: list[tuple[str, Any, str]]
    lab: Any | None  # the outcomes' (_oid, _label, _value) (and _obs with a horizon), or None
    labels_only: bool
    other_codes: list[int | None]
    horizon: int | None  # seconds; None: ``lab`` is already one outcome per decision

    def sql(self, runner: Runner, schema: Any, source: str) -> tuple[str, Any]:
        """The projection of the view ``source`` (of ``schema``) compiled, and its schema.

        Its text names the source, the tables of codes and the outcomes only by name, so it
        is the same from one daily run to the next: it is built and compiled once a process
        (about a second of CPU each time) over placeholder names, which each run's replace.
        """
        import ibis

        names = {f"_lw_source_{_ZEROS}": source}
        lookups = []
        for name, codes, suffix in self.lookups:
            placeholder = f"_lw_{suffix}_{_ZEROS}"
            names[placeholder] = codes.op().name
            lookups.append((name, ibis.table(codes.schema(), name=placeholder), suffix))
        lab = None
        if self.lab is not None:
            names[f"_lw_outcomes_{_ZEROS}"] = self.lab.op().name
            lab = ibis.table(self.lab.schema(), name=f"_lw_outcomes_{_ZEROS}")
        key = (runner.con.name, schema, self.spec.model_dump_json(), self.binning.fingerprint,
               self.dims, tuple(self.null_codes), tuple(self.other_codes),
               tuple((name, suffix) for name, _, suffix in lookups),
               None if lab is None else lab.schema(), self.labels_only, self.horizon)
        found = _PROJECTIONS.get(key)
        if found is None:
            placed = replace(self, lookups=lookups, lab=lab)
            projection = placed(ibis.table(schema, name=f"_lw_source_{_ZEROS}"))
            found = _remember(_PROJECTIONS, key, (runner.sql(projection), projection.schema()))
        text = found[0]
        for placeholder, name in names.items():
            text = text.replace(placeholder, name)
        return text, found[1]

    def __call__(self, rows: Any) -> Any:
        joined = rows
        for name, codes, suffix in self.lookups:
            joined = joined.left_join(codes, as_text(joined[name], feature_dtype(self.spec, name))
                                      == codes[f"_v_{suffix}"])
        if self.lab is not None:
            lab = self.lab if self.horizon is None else within_horizon(rows, self.lab, self.spec,
                                                                       self.horizon)
            joined = joined.left_join(lab, joined[self.spec.columns.decision_id] == lab._oid)
        score = score_bin(joined[self.spec.columns.score], self.binning.score)
        columns = {**self._cohorts(joined),
                   **label_columns(joined, self.binning, self.lab is not None, score)}
        if not self.labels_only:
            columns |= {**self._slots(joined, score), **self._values(joined)}
        return joined.select(**columns)

    def _cohorts(self, joined: Any) -> dict[str, Any]:
        import ibis

        ts = joined[self.spec.columns.timestamp]
        cols: dict[str, Any] = {"_day": (ts.epoch_seconds() // 86400).cast("int32")}
        for i, name in enumerate(self.dims):
            null_code = self.null_codes[i]
            if name == GLOBAL:
                cols[f"_d{i}"] = ibis.literal(null_code - 1).cast("int32")
            elif name == HOUR_OF_DAY:
                hour = ts.epoch_seconds() // 3600 % 24  # UTC, without a calendar per row
                cols[f"_d{i}"] = (hour + null_code - 24).cast("int32")
            elif self.other_codes[i] is not None:  # a capped column: not kept is (other)
                missing = ibis.ifelse(joined[name].isnull(), null_code, self.other_codes[i])
                cols[f"_d{i}"] = joined[f"_c_d{i}"].fill_null(missing).cast("int32")
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
            cols[f"_s{k}"] = categorical_slot(joined, name, k, binning)
        k = len(numeric) + len(categorical)
        cols[f"_s{k}"] = action_slot(joined, self.spec, binning, score)
        cols[f"_s{k + 1}"] = latency_slot(joined, self.spec, binning)
        return cols

    def _values(self, joined: Any) -> dict[str, Any]:
        """What the moments and sketches sum: score, positives, cleaned numeric values,
        errors, latency, hashes of unseen categorical values."""
        c = self.spec.columns
        numeric, categorical = split_features(self.spec)
        cols: dict[str, Any] = {"_score": joined[c.score].cast("float64"),
                                "_pos": positive(joined, self.spec).cast("int32")}
        for j, name in enumerate(numeric):
            cols[f"_x{j}"] = without_nan(joined[name])
        cols |= system_columns(joined, self.spec)
        for j, name in enumerate(categorical, start=len(numeric)):
            cols[f"_h{j}"] = unseen_hash(joined, self.spec, name, j)
        return cols


def forget_compiled() -> None:
    """Drop every compiled query, so that the next run compiles its own again."""
    _AGGREGATES.clear()
    _PROJECTIONS.clear()
    _WINDOWS.clear()
