"""Row schemas of the store, and the one validator every entry point shares.

The decision logger, file ingest and in-process ingest all hand their rows to
:meth:`TableSchema.conform` (or :meth:`TableSchema.conform_rows`), which casts
each column to its stored type, applies the PII rules, turns NaN into null, rejects
infinite numbers and scores outside the spec's ``inputs.score_range``, and splits
the input into rows that land and :class:`Rejection` s that go to quarantine with
a reason. Valid rows are never held back by invalid ones.

Stored types: numeric features, score, threshold, latency and cost are
``float64``; categorical features, cohorts, ids and actions are ``string``;
boolean features and labels are ``bool``; times are ``timestamp[us, UTC]``
(naive input times are read in the spec's time zone). A spec with a ``serving``
block adds the prediction loop's optional columns (``core/serving.py``). The casting
of values to these types is :func:`~loopwatch.core.coerce.coerce`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from loopwatch.core.coerce import coerce
from loopwatch.core.serving import SERVING_DTYPES
from loopwatch.core.spec import MODEL_COLUMN, Spec
from loopwatch.errors import InputError

__all__ = [
    "Conformed",
    "Rejection",
    "TableSchema",
    "decision_schema",
    "outcome_schema",
]

Kind = Literal["decisions", "outcomes"]
TIMESTAMP = pa.timestamp("us", tz="UTC")
_ARROW = {"numeric": pa.float64(), "categorical": pa.string(), "boolean": pa.bool_()}


@dataclass(frozen=True)
class Rejection:
    """A row that did not land, with the reason; PII rules are already applied to ``row``."""

    row: Mapping[str, Any]
    reason: str
    source: str
    #: where in the source: ``line 17`` of a text file, ``row 4`` of a table (``None``: unknown)
    position: str | None = None

    def row_json(self) -> str:
        return json.dumps(dict(self.row), default=str, sort_keys=True)


@dataclass(frozen=True)
class Conformed:
    """The outcome of validating one batch: rows that land and rows that do not."""

    table: pa.Table
    rejected: tuple[Rejection, ...] = ()
    unknown_columns: tuple[str, ...] = ()
    #: where the rows came from (a file, ``python``), for rows the store rejects in turn
    source: str = ""
    #: the columns the input held (``None``: not known)
    present: tuple[str, ...] | None = None


@dataclass(frozen=True)
class _Column:
    name: str
    type: pa.DataType
    required: bool = False
    hash_key: bytes | None = field(default=None, repr=False)
    #: the range a number must lie in (the score's, from the spec's ``inputs.score_range``)
    bounds: tuple[float, float] | None = None


@dataclass(frozen=True)
class TableSchema:
    """The stored schema of one table of the store, and its validator.

    Build one with :func:`decision_schema` or :func:`outcome_schema`.
    """

    kind: Kind
    model: str
    zone: ZoneInfo
    columns: tuple[_Column, ...]
    dropped: frozenset[str] = frozenset()
    #: features with ``pii: hash`` that cannot be written because no key was given
    missing_key: tuple[str, ...] = ()
    #: the score column (decisions only): a resent decision is compared on it
    score: str | None = None
    #: columns the spec declares that a table should hold (features, cohorts, action);
    #: a table without one is stored with the column missing, and told so
    expected: tuple[str, ...] = ()
    _hash_cache: dict[str, dict[str, str]] = field(default_factory=dict, compare=False)

    @property
    def arrow(self) -> pa.Schema:
        """The Arrow schema of stored rows, ``model`` first."""
        return pa.schema([pa.field(MODEL_COLUMN, pa.string(), nullable=False)] + [
            pa.field(c.name, c.type, nullable=not c.required) for c in self.columns
        ])

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def key(self) -> str:
        """The column that identifies a row: the decision id."""
        return self.columns[0].name

    @property
    def time(self) -> str:
        """The column that partitions rows by date: decision time or outcome time."""
        return self.columns[1].name

    def empty(self) -> pa.Table:
        return self.arrow.empty_table()

    # --- validation ---------------------------------------------------------------------

    def require_key(self) -> None:
        """Raise :class:`~loopwatch.errors.InputError` (a ``ValueError``) when rows cannot be
        written for want of the PII key."""
        if self.missing_key:
            raise InputError(
                f"features {list(self.missing_key)} have pii: hash, which needs a secret key to "
                "write them: set LOOPWATCH_PII_KEY to a secret of your own (for example the "
                "output of `openssl rand -hex 32`), or use pii: drop or pii: none in the spec"
            )

    def conform(self, data: pa.Table, *, source: str, first_row: int | None = None) -> Conformed:
        """Validate an Arrow table: cast, apply PII rules, split good rows from bad ones.

        ``first_row``: the number of the table's first row in its source (1 for a whole
        file), so that each rejection says which row it was.
        """
        self.require_key()
        known = {MODEL_COLUMN, *self.names, *self.dropped}
        unknown = tuple(name for name in data.column_names if name not in known)
        arrays: dict[str, pa.Array | pa.ChunkedArray | list[Any]] = {
            name: data.column(name) for name in data.column_names if name in known
        }
        # rows are sliced out one by one: ``take`` has no kernel for every type (string_view,
        # which polars hands over)
        return self._conform(arrays, data.num_rows, source, unknown,
                             lambda rows: [data.slice(i, 1).to_pylist()[0]
                                           for i in rows.to_pylist()],
                             _positions(first_row, None))

    def conform_rows(self, rows: Sequence[Mapping[str, Any]], *, source: str,
                     first_row: int | None = None, lines: Sequence[int] | None = None) -> Conformed:
        """Validate rows given as mappings (the decision logger's path).

        ``first_row`` numbers the rows in their source, or ``lines`` gives each row's line
        number (JSON Lines), for the position of each rejection.
        """
        self.require_key()
        known = {MODEL_COLUMN, *self.names, *self.dropped}
        keys: set[str] = set()
        for row in rows:
            keys.update(row.keys())
        unknown = tuple(sorted(str(k) for k in keys - known))
        arrays: dict[str, pa.Array | pa.ChunkedArray | list[Any]] = {
            name: [row.get(name) for row in rows] for name in keys & known
        }
        return self._conform(arrays, len(rows), source, unknown,
                             lambda idx: [dict(rows[i]) for i in idx.to_pylist()],
                             _positions(first_row, lines))

    def conform_columns(self, columns: Mapping[str, list[Any]], n: int, *, source: str) -> Conformed:
        """Validate rows given as columns of ``n`` values each (the logger's batch path)."""
        self.require_key()
        known = {MODEL_COLUMN, *self.names, *self.dropped}
        unknown = tuple(sorted(str(k) for k in columns if k not in known))
        arrays: dict[str, pa.Array | pa.ChunkedArray | list[Any]] = {
            name: values for name, values in columns.items() if name in known}
        return self._conform(arrays, n, source, unknown,
                             lambda idx: [{k: v[i] for k, v in columns.items()}
                                          for i in idx.to_pylist()],
                             _positions(None, None))

    def _conform(
        self,
        arrays: Mapping[str, pa.Array | pa.ChunkedArray | list[Any]],
        n: int,
        source: str,
        unknown: tuple[str, ...],
        originals: Callable[[pa.Array], list[dict[str, Any]]],
        position: Callable[[int], str | None],
    ) -> Conformed:
        reasons: dict[int, str] = {}
        out: dict[str, pa.Array] = {}
        present = (*arrays, *unknown)
        model_values = arrays.get(MODEL_COLUMN)
        if model_values is not None:
            model_arr, bad = coerce(model_values, pa.string(), self.zone)
            for i, value in enumerate(model_arr.to_pylist()):
                if value is not None and value != self.model:
                    bad.setdefault(i, f"model: expected {self.model!r} (the spec's model); "
                                      f"got {value!r}")
            _note(reasons, bad)
        out[MODEL_COLUMN] = pa.array([self.model] * n, pa.string())
        for column in self.columns:
            values = arrays.get(column.name)
            if values is None:
                arr: pa.Array = pa.nulls(n, column.type)
            else:
                arr, bad = coerce(values, column.type, self.zone)
                _note(reasons, {i: f"{column.name}: {why}" for i, why in bad.items()})
                if pa.types.is_floating(column.type):
                    _note(reasons, _out_of_bounds(column, arr))
            if column.required and arr.null_count:
                missing = pc.indices_nonzero(pc.is_null(arr)).to_pylist()
                _note(reasons, {i: f"{column.name}: required value is missing" for i in missing})
            if column.hash_key is not None:
                arr = self._hash(column, arr)
            out[column.name] = arr
        table = pa.table(out)
        if not reasons:
            return Conformed(table.cast(self.arrow), (), unknown, source, present)
        bad_rows = pa.array(sorted(reasons), pa.int64())
        keep = pc.invert(pc.is_in(pa.array(range(n), pa.int64()), value_set=bad_rows))
        rejected = tuple(
            Rejection(self._scrub(row), reasons[i], source, position(i))
            for i, row in zip(bad_rows.to_pylist(), originals(bad_rows), strict=True)
        )
        return Conformed(table.filter(keep).cast(self.arrow), rejected, unknown, source, present)

    def _hash(self, column: _Column, arr: pa.Array) -> pa.Array:
        assert column.hash_key is not None
        cache = self._hash_cache.setdefault(column.name, {})
        key = column.hash_key

        def digest(value: str) -> str:
            out = cache.get(value)
            if out is None:
                out = hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
                if len(cache) < 100_000:
                    cache[value] = out
            return out

        return pa.array([None if v is None else digest(v) for v in arr.to_pylist()], pa.string())

    def _scrub(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Apply PII rules to a rejected row before it is written to quarantine."""
        clean: dict[str, Any] = {}
        hashed = {c.name: c for c in self.columns if c.hash_key is not None}
        for name, value in row.items():
            if name in self.dropped:
                continue
            column = hashed.get(name)
            if column is not None and value is not None:
                assert column.hash_key is not None
                value = hmac.new(column.hash_key, str(value).encode(), hashlib.sha256).hexdigest()
            clean[str(name)] = value
        return clean


def _positions(first_row: int | None, lines: Sequence[int] | None) -> Callable[[int], str | None]:
    """The position in its source of the ``i``-th row of a batch, for a rejection."""
    if lines is not None:
        return lambda i: f"line {lines[i]}"
    if first_row is not None:
        return lambda i: f"row {first_row + i}"
    return lambda i: None


def _out_of_bounds(column: _Column, arr: pa.Array) -> dict[int, str]:
    """Rows whose number is not finite or lies outside the column's bounds, with the reason.

    An infinite number would reach bin edges and moments (a mean of ``inf``, edges that
    cannot be cut); a score outside its declared range would stretch the score bins.
    """
    bad = pc.invert(pc.is_finite(arr))
    if column.bounds is not None:
        low, high = column.bounds
        bad = pc.or_(bad, pc.or_(pc.less(arr, low), pc.greater(arr, high)))
    bad = pc.fill_null(bad, False)
    if not pc.any(bad).as_py():
        return {}
    out: dict[int, str] = {}
    for i in pc.indices_nonzero(bad).to_pylist():
        value = arr[i].as_py()
        if not math.isfinite(value):
            out[i] = f"{column.name}: expected a finite number; got {value}"
        else:
            assert column.bounds is not None
            low, high = column.bounds
            out[i] = (f"{column.name}: {value!r} is outside the score range [{low:g}, {high:g}] "
                      "(the spec's inputs.score_range)")
    return out


def _note(reasons: dict[int, str], bad: Mapping[int, str]) -> None:
    for i, why in bad.items():
        reasons.setdefault(i, why)


def decision_schema(spec: Spec, *, pii_key: bytes | None = None) -> TableSchema:
    """The schema of the decision log of ``spec``.

    ``pii_key`` is needed to validate rows when a feature has ``pii: hash``
    (reading needs no key).

    Examples
    --------
    >>> from loopwatch.core.spec import spec_from_mapping
    >>> spec = spec_from_mapping({"model": "m", "features": [{"name": "x", "dtype": "numeric"}]})
    >>> schema = decision_schema(spec)
    >>> good = schema.conform_rows(
    ...     [{"decision_id": "a", "timestamp": "2026-01-01T00:00:00Z", "score": 0.4, "x": "1.5"},
    ...      {"decision_id": "b", "timestamp": "2026-01-01T00:00:00Z", "score": 0.4, "x": "abc"}],
    ...     source="doctest")
    >>> good.table.column("x").to_pylist()
    [1.5]
    >>> good.rejected[0].reason
    "x: expected a number; got 'abc'"
    """
    hashed = tuple(f.name for f in spec.features if f.pii == "hash")
    c = spec.columns
    columns = [
        _Column(c.decision_id, pa.string(), required=True),
        _Column(c.timestamp, TIMESTAMP, required=True),
    ]
    if c.model_version:
        columns.append(_Column(c.model_version, pa.string()))
    for feature in spec.stored_features:
        columns.append(_Column(feature.name, _ARROW[feature.stored_dtype],
                               hash_key=pii_key if feature.pii == "hash" else None))
    columns += [_Column(name, pa.string()) for name in spec.cohort_only_columns]
    columns.append(_Column(c.score, pa.float64(), required=True, bounds=spec.inputs.score_range))
    for name, kind in ((c.action, pa.string()), (c.threshold, pa.float64()),
                       (c.latency, pa.float64()), (c.cost, pa.float64()),
                       (c.error, pa.string()), (c.source, pa.string())):
        if name:
            columns.append(_Column(name, kind))
    if spec.serving is not None:
        # optional columns: files written before the spec had them read back as nulls
        columns += [_Column(name, _ARROW[SERVING_DTYPES[role]])
                    for role, name in spec.serving.column_roles().items()]
    dropped = frozenset(f.name for f in spec.features if f.pii == "drop")
    expected = (*(f.name for f in spec.stored_features), *spec.cohort_only_columns,
                *([c.action] if c.action else []))
    return TableSchema("decisions", spec.model, spec.tz, tuple(columns), dropped,
                       missing_key=() if pii_key else hashed, score=c.score, expected=expected)


def outcome_schema(spec: Spec) -> TableSchema:
    """The schema of outcomes: decision id, observed time, label, value and label source."""
    o = spec.outcomes
    columns = [
        _Column(o.decision_id, pa.string(), required=True),
        _Column(o.observed_at, TIMESTAMP, required=True),
        _Column(o.label, pa.bool_(), required=True),
    ]
    if o.value:
        columns.append(_Column(o.value, pa.float64()))
    if o.label_source:
        columns.append(_Column(o.label_source, pa.string()))
    return TableSchema("outcomes", spec.model, spec.tz, tuple(columns))
