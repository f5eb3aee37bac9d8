"""Reading the embedded store: its Parquet files as Ibis tables on DuckDB, with no write at all.

:class:`ParquetSource` implements :class:`~loopwatch.core.store.DecisionSource`. It
never takes the writers' lock, recovers nothing and creates nothing but the shared
reader-lock file (where it may), so a store on a read-only directory reads like any
other. A listing is made under a shared reader lease (:mod:`loopwatch.storage.locks`)
and skips the files an interrupted compaction superseded
(:func:`~loopwatch.storage.journal.superseded`); a lease stays held for as long as the
engine connection that reads the listed files lives, so compaction never removes
them before it is done with them.
"""

from __future__ import annotations

import hashlib
import weakref
from datetime import datetime
from pathlib import Path
from typing import Any, Self

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from loopwatch.core.schema import TableSchema, decision_schema, outcome_schema
from loopwatch.core.spec import Spec
from loopwatch.core.store import Kind, TableName, kind_of, table_of
from loopwatch.core.window import Window
from loopwatch.errors import StoreError
from loopwatch.storage.duckdb_engine import DEFAULT_ENGINE_MEMORY, duckdb_connection, memory_size
from loopwatch.storage.journal import superseded
from loopwatch.storage.layout import QUARANTINE_SCHEMA, StoreLayout, data_files, day_start, partition_day
from loopwatch.storage.locks import acquire_reader_lease, reading, release_reader_lease
from loopwatch.storage.views import join_outcomes, latest_outcomes

__all__ = ["ParquetSource"]

_WHERE = ("ingest decisions first ('loopwatch ingest decisions FILE'), or point to the store: "
          "--store, LOOPWATCH_STORE, or 'store' in the spec (relative to the spec's folder)")


class ParquetSource:
    """The decisions, outcomes and quarantine of one model in the store at ``root``, read-only.

    It takes the parameters of :class:`~loopwatch.storage.parquet_store.ParquetStore`,
    which adds writing and compaction to it.
    """

    def __init__(self, root: str | Path, *, spec: Spec, pii_key: bytes | None = None,
                 engine_memory: str = DEFAULT_ENGINE_MEMORY) -> None:
        self.root = Path(root)
        self.spec = spec
        self.engine_memory = memory_size(engine_memory)
        self.layout = StoreLayout(self.root, spec.model)
        self._schemas: dict[Kind, TableSchema] = {
            "decisions": decision_schema(spec, pii_key=pii_key),
            "outcomes": outcome_schema(spec),
        }
        self._found = False
        # connection id -> the reader lease it holds (a descriptor, or None where the
        # store has no reader-lock file and this process may not create one)
        self._leases: dict[int, int | None] = {}

    @classmethod
    def for_spec(cls, spec: Spec, *, location: str | None = None, pii_key: bytes | None = None,
                 engine_memory: str = DEFAULT_ENGINE_MEMORY) -> Self:
        """The store that ``spec`` names (``location`` overrides it, as ``LOOPWATCH_STORE``)."""
        return cls(spec.store_location(location), spec=spec, pii_key=pii_key,
                   engine_memory=engine_memory)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.root)!r}, model={self.spec.model!r})"

    @property
    def location(self) -> str:
        return str(self.root)

    def schema(self, kind: Kind) -> TableSchema:
        """The validator and stored schema of ``kind``."""
        return self._schemas[kind_of(kind)]

    def _arrow(self, kind: TableName) -> pa.Schema:
        return QUARANTINE_SCHEMA if kind == "quarantine" else self.schema(kind).arrow

    # --- listing --------------------------------------------------------------------

    def require(self) -> None:
        """Raise a :class:`StoreError` naming the place if there is no store of this model there."""
        if self._found:
            return
        where = self.root
        if not where.is_dir():
            what = "not a directory" if where.exists() else "nothing has been stored there"
            raise StoreError(f"no store at {where} ({what}): {_WHERE}")
        if not self.layout.is_store():
            raise StoreError(f"{where} is not a loopwatch store (no decisions, outcomes or "
                             f"quarantine in it): {_WHERE}")
        models = self.layout.models()
        if models and self.spec.model not in models:
            raise StoreError(f"the store at {where} holds no rows of model {self.spec.model!r}, "
                             f"only of {', '.join(map(repr, models))}: check 'model' in the spec, "
                             "or point to another store with --store or LOOPWATCH_STORE")
        self._found = True

    def _list(self, kind: TableName, between: Window | None) -> list[Path]:
        """The visible files of ``kind`` (the caller holds a reader lease)."""
        hidden = superseded(self.layout)
        return [f for d in self.layout.partitions(kind, between) for f in data_files(d)
                if f not in hidden]

    def files(self, kind: TableName, *,
              between: Window | None = None) -> list[Path]:
        """The committed Parquet files of ``kind`` (never a temporary or superseded one).

        ``between=Window(start, end)``: only the files of the UTC days that ``[start, end)``
        touches (a row's file is in the partition of its time's UTC day). A later
        compaction may replace them: read through :meth:`table` (whose connection keeps
        them) rather than by path when compaction may run meanwhile.
        """
        table_of(kind)
        self.require()
        with reading(self.layout):
            return self._list(kind, between)

    # --- reading --------------------------------------------------------------------

    def read(self, kind: TableName) -> pa.Table:
        """Every stored row of ``kind`` (``decisions``, ``outcomes`` or ``quarantine``) as Arrow.

        Meant for small stores, tests and exports; queries should use :meth:`table`.
        """
        schema = self._arrow(table_of(kind))
        self.require()
        with reading(self.layout):
            files = self._list(kind, None)
            if not files:
                return schema.empty_table()
            return ds.dataset([str(f) for f in files], schema=schema, format="parquet").to_table()

    def count(self, kind: TableName) -> int:
        """Number of stored rows of ``kind``, from the files' metadata."""
        table_of(kind)
        self.require()
        with reading(self.layout):
            return sum(pq.ParquetFile(f).metadata.num_rows for f in self._list(kind, None))

    def connect(self) -> Any:
        """A new in-memory DuckDB connection through Ibis, set up for this store's files."""
        return duckdb_connection(self.engine_memory)

    def table(self, kind: TableName, *, con: Any = None,
              between: Window | None = None) -> Any:
        """``kind`` as an Ibis table over the store's files (an empty table if none).

        ``between=Window(start, end)`` keeps the rows whose time (of the decision, of the
        observation, or of the rejection) is in ``[start, end)``, read from the files
        of those UTC days only: a query over a few days of a long log then opens a few
        files, not every file's footer. The files stay in place for as long as ``con``
        lives, whatever a compaction does meanwhile.
        """
        schema = self._arrow(table_of(kind))
        self.require()
        con = con or self.connect()
        self._hold(con)
        files = self._list(kind, between)
        if not files:
            table = con.create_table(f"empty_{kind}", schema.empty_table(), temp=True,
                                     overwrite=True)
        else:
            # the files carry every column; hive partitioning would add a `date` column
            # (and only when the store is not empty)
            table = con.read_parquet([str(f) for f in files], union_by_name=True,
                                     hive_partitioning=False)
        if between is None:
            return table
        import ibis

        time = table["received_at" if kind == "quarantine" else self.schema(kind).time]
        start, end = between.start, between.end
        return table.filter((time >= ibis.literal(start)) & (time < ibis.literal(end)))

    def _hold(self, con: Any) -> None:
        """Give ``con`` a reader lease of this store for as long as it lives."""
        key = id(con)
        if key not in self._leases:
            self._leases[key] = acquire_reader_lease(self.layout)
            weakref.finalize(con, _release, self._leases, key)

    def outcomes_latest(self, *, con: Any = None) -> Any:
        """Outcomes, one per decision: the latest observed (a correction replaces a label)."""
        return latest_outcomes(self.table("outcomes", con=con), self.spec)

    def joined(self, *, con: Any = None) -> Any:
        """Decisions with their latest outcome (null label until it arrives), as an Ibis table.

        Outcomes may arrive before, with, or long after their decision: the join
        is done at read time, so arrival order does not matter.
        """
        con = con or self.connect()
        return join_outcomes(self.table("decisions", con=con), self.outcomes_latest(con=con),
                             self.spec)

    def versions(self, kind: Kind) -> dict[str, str]:
        """Each UTC day holding rows of ``kind``, with a digest of its files' names.

        Files are never changed in place, only added or replaced (compaction), so their
        names identify the day's rows.
        """
        names: dict[str, list[str]] = {}
        for path in self.files(kind_of(kind)):
            names.setdefault(partition_day(path), []).append(path.name)
        return {day: hashlib.sha256("\n".join(sorted(found)).encode()).hexdigest()[:16]
                for day, found in names.items()}

    def quarantine_counts(self, *, between: Window
                          ) -> dict[tuple[datetime, str], int]:
        """Rows rejected in ``[start, end)`` (whole UTC days of arrival), per day and subject
        of the reason (the text before its first ``:``: a column, or ``line N``)."""
        start, end = between.start, between.end
        out: dict[tuple[datetime, str], int] = {}
        self.require()
        with reading(self.layout):
            for path in self._list("quarantine", between):
                day = day_start(partition_day(path))
                if not start <= day < end:
                    continue
                for reason in pq.read_table(path, columns=["reason"]).column("reason").to_pylist():
                    key = (day, str(reason).split(":")[0])
                    out[key] = out.get(key, 0) + 1
        return out


def _release(leases: dict[int, int | None], key: int) -> None:
    release_reader_lease(leases.pop(key, None))
