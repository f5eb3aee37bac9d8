"""Reading decisions and outcomes from tables on any Ibis backend: a warehouse as a source.

:class:`TableSource` implements :class:`~loopwatch.core.store.DecisionSource` over two
tables of an existing Ibis connection (PostgreSQL, Spark, a DuckDB database, ...).
Each table is read through a projection onto the columns and types the embedded store
keeps, so every query of the loops (profiles, summaries, evaluation) runs unchanged
and in the warehouse; only aggregates come back. A column the spec needs that is
missing, or whose type cannot be read as the spec's, is an
:class:`~loopwatch.errors.InputError` naming the table, the column and the type found.
Profiles are kept in a local directory (``root``); nothing is written to the warehouse
except the temporary views and tables a profile run creates and drops.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from loopwatch.core.schema import TableSchema, decision_schema, outcome_schema
from loopwatch.core.spec import MODEL_COLUMN, Spec
from loopwatch.core.store import Kind, TableName, kind_of, table_of
from loopwatch.core.window import Window
from loopwatch.errors import InputError, StoreError
from loopwatch.storage.layout import QUARANTINE_SCHEMA, day_key
from loopwatch.storage.views import join_outcomes, latest_outcomes

__all__ = ["TableSource"]


def _readable(stored: pa.DataType, found: Any) -> bool:
    """Whether a column of Ibis type ``found`` can be read as the stored Arrow type."""
    if pa.types.is_timestamp(stored):
        return bool(found.is_timestamp() or found.is_date())
    if pa.types.is_floating(stored):
        return bool(found.is_numeric() or found.is_boolean())
    if pa.types.is_boolean(stored):
        return bool(found.is_boolean() or found.is_integer())
    if pa.types.is_string(stored):
        return bool(found.is_string() or found.is_integer() or found.is_boolean())
    return False


_EXPECTED = {"timestamp": "a timestamp or date", "double": "a number", "bool": "a boolean",
             "string": "text, an integer or a boolean"}


class TableSource:
    """Decisions and outcomes of ``spec`` in two tables of the Ibis connection ``con``.

    Parameters
    ----------
    spec
        The model; ``spec.source`` names the tables (``decisions``, ``outcomes``).
    con
        An Ibis backend connection; every query runs on it.
    root
        The local directory where profiles of this source are kept.
    location
        Where the rows are, for messages (a URL without credentials).

    Examples
    --------
    >>> import ibis, tempfile
    >>> from loopwatch.core.spec import spec_from_mapping
    >>> con = ibis.duckdb.connect()
    >>> _ = con.raw_sql("CREATE TABLE d (decision_id TEXT, timestamp TIMESTAMPTZ, score DOUBLE, x INT)")
    >>> _ = con.raw_sql("INSERT INTO d VALUES ('a', '2026-01-01 10:00+00', 0.5, 3)")
    >>> spec = spec_from_mapping({"model": "m", "features": [{"name": "x", "dtype": "numeric"}],
    ...                           "source": {"decisions": "d"}})
    >>> source = TableSource(spec=spec, con=con, root=tempfile.mkdtemp(), location="duckdb")
    >>> source.count("decisions"), source.versions("decisions").keys()
    (1, dict_keys(['2026-01-01']))
    >>> source.table("decisions").x.type()
    Float64(nullable=True)
    """

    def __init__(self, *, spec: Spec, con: Any, root: str | Path, location: str) -> None:
        if spec.source.decisions is None:
            raise ValueError("spec.source names no decisions table: read the embedded store instead")
        self.spec = spec
        self.con = con
        self.root = Path(root)
        self.location = location
        self._schemas: dict[Kind, TableSchema] = {"decisions": decision_schema(spec),
                                                  "outcomes": outcome_schema(spec)}
        self._raw: dict[Kind, Any] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r}, model={self.spec.model!r})"

    def schema(self, kind: Kind) -> TableSchema:
        """The columns and types a table of ``kind`` is read as."""
        return self._schemas[kind_of(kind)]

    def connect(self) -> Any:
        """The source's connection (one for every query: its tables live there)."""
        return self.con

    def _name(self, kind: Kind) -> str:
        return ".".join(self.spec.source.table_path(kind)) or "(none)"

    def _open(self, kind: Kind) -> Any | None:
        """The table of ``kind`` as the backend has it; ``None`` where outcomes are not named."""
        if kind in self._raw:
            return self._raw[kind]
        path = self.spec.source.table_path(kind)
        if not path:
            return None
        database: Any = None if len(path) == 1 else (path[0] if len(path) == 2 else tuple(path[:2]))
        try:
            table = self.con.table(path[-1], database=database)
        except Exception as exc:  # each backend raises its own "not found"
            raise StoreError(f"cannot read the {kind} table {self._name(kind)} at {self.location}: "
                             f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                             ) from None
        self._raw[kind] = table
        return table

    def _project(self, kind: Kind, table: Any) -> Any:
        """``table`` with exactly the stored columns and types (``model`` first)."""
        import ibis

        schema = self.schema(kind)
        stored = ibis.Schema.from_pyarrow(schema.arrow)
        found = table.schema()
        columns: dict[str, Any] = {MODEL_COLUMN: ibis.literal(self.spec.model, "string")}
        for field in schema.arrow:
            if field.name == MODEL_COLUMN:
                continue
            want = stored[field.name]
            if field.name not in found:
                if field.name in schema.required:
                    raise InputError(f"the {kind} table {self._name(kind)} has no column "
                                     f"{field.name!r}, which the spec needs (map it under 'columns' "
                                     f"or 'outcomes' in the spec); found: {', '.join(found.names)}")
                columns[field.name] = ibis.null(want)
                continue
            have = found[field.name]
            if not _readable(field.type, have):
                raise InputError(f"the {kind} table {self._name(kind)}: column {field.name!r} has "
                                 f"type {have}, which cannot be read as "
                                 f"{_EXPECTED.get(str(field.type).split('[')[0], str(field.type))}")
            column = table[field.name]
            if have.is_boolean() and pa.types.is_string(field.type):
                column = column.ifelse("true", "false")
            elif have.is_integer() and pa.types.is_boolean(field.type):
                column = column != 0
            columns[field.name] = column.cast(want) if have != want else column
        return table.select(**columns)

    def table(self, kind: TableName, *, con: Any = None, between: Window | None = None) -> Any:
        """``kind`` as an Ibis table with the stored columns and types (quarantine is empty:
        a warehouse table has no rejected rows)."""
        import ibis

        if table_of(kind) == "quarantine":
            return ibis.memtable(QUARANTINE_SCHEMA.empty_table())
        stored = kind_of(kind)
        raw = self._open(stored)
        if raw is None:
            return ibis.memtable(self.schema(stored).arrow.empty_table())
        table = self._project(stored, raw)
        if between is None:
            return table
        time = table[self.schema(stored).time]
        return table.filter((time >= ibis.literal(between.start)) & (time < ibis.literal(between.end)))

    def outcomes_latest(self, *, con: Any = None) -> Any:
        """Outcomes, one per decision: the latest observed."""
        return latest_outcomes(self.table("outcomes"), self.spec)

    def joined(self, *, con: Any = None) -> Any:
        """Decisions with their latest outcome (null label until it arrives)."""
        return join_outcomes(self.table("decisions"), self.outcomes_latest(), self.spec)

    def count(self, kind: TableName) -> int:
        """Number of rows of ``kind`` (a count query in the warehouse)."""
        if table_of(kind) == "quarantine":
            return 0
        raw = self._open(kind_of(kind))
        return 0 if raw is None else int(raw.count().to_pyarrow().as_py())

    def versions(self, kind: Kind) -> dict[str, str]:
        """Each UTC day holding rows of ``kind``, with a token of its row count, latest time
        and sum of decision-id lengths: one aggregate query, grouped by day."""
        import ibis

        if self._open(kind_of(kind)) is None:
            return {}
        table = self.table(kind)
        time = table[self.schema(kind).time]
        day = (time.epoch_seconds() // 86400).name("day")
        rows = (table.group_by(day=day)
                .aggregate(n=ibis._.count(), last=time.max(),
                           width=table[self.schema(kind).key].length().sum())
                .to_pyarrow().to_pylist())
        out = {}
        for row in rows:
            text = f"{row['n']}|{row['last']}|{row['width']}"
            out[day_key(int(row["day"]))] = hashlib.sha256(text.encode()).hexdigest()[:16]
        return dict(sorted(out.items()))

    def quarantine_counts(self, *, between: Window) -> dict[tuple[datetime, str], int]:
        """Nothing is quarantined in a warehouse table: always empty."""
        return {}
