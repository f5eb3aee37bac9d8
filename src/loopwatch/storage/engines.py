"""Running SQL that Ibis compiled, on each engine: materialise a query as a table, fetch a result.

Profiles compile their plan once per run and execute it chunk after chunk. Going
through an Ibis expression each time would translate (or parse) the same large
plan again for every chunk, which cost more than the engine's work on a
million-row chunk. What differs between engines is only how a query's rows are
kept for a while and how a result comes back as Arrow; that is all this module
holds, with the temporary views and small tables a run creates (:class:`Views`). The
SQL text is always Ibis's; no name or value from a spec is pasted in.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from loopwatch.errors import InputError

__all__ = ["Runner", "Views"]

#: About the most decisions a profile run materialises at once, per engine; ``None``: the whole
#: window at once. DuckDB and PostgreSQL keep a chunk in the process's (or the server's)
#: memory, so chunks are small. Spark computes each aggregate over the whole window as one
#: job and keeps its result (cached; it spills to disk): each chunk would cost it a few jobs of
#: fixed overhead and a scan of the source (its 10M-row profile took 1,050 s in chunks of
#: 500,000 rows, 314 s in chunks of 2.5M and 270 s in chunks of 5M).
CHUNK_ROWS: dict[str, int | None] = {"duckdb": 500_000, "postgres": 500_000, "pyspark": None}
#: On an engine that aggregates the whole window at once, about the most aggregate rows fetched
#: into Python at once: the aggregates of a day do not depend on how many decisions it holds, so
#: the days of a window are fetched in groups of about this many rows (an estimate from the
#: codes and bins), which bounds the driver's memory.
FETCH_ROWS = 2_000_000
#: Whether the aggregates stack each row by (dimension, feature) pair and run one group-by a
#: query, rather than a ``UNION ALL`` of one group-by per pair. On Spark each group-by is a
#: job of its own with a shuffle, whose fixed cost dominated the counting.
STACKED: dict[str, bool] = {"duckdb": False, "postgres": False, "pyspark": True}


class Runner:
    """Materialise, fetch and drop on the backend of ``con`` (DuckDB, PostgreSQL or PySpark)."""

    def __init__(self, con: Any) -> None:
        if con.name not in ("duckdb", "postgres", "pyspark"):
            raise InputError(
                f"source.engine: profiles (and so profile, check and evaluate) run on duckdb, postgres "
                f"and pyspark; got {con.name!r}, where only summary works")
        self.con = con
        self.chunk_rows = CHUNK_ROWS[con.name]
        self.stacked = STACKED[con.name]

    @property
    def whole_window(self) -> bool:
        """Whether the engine materialises a window at once and fetches it day group by day group
        (a distributed engine), rather than chunk by chunk."""
        return self.chunk_rows is None

    def define_view(self, name: str, sql: str) -> None:
        """Define (or redefine) the temporary view ``name`` as ``sql`` (dropped by :meth:`drop`)."""
        self._execute(f"CREATE OR REPLACE TEMPORARY VIEW {self._quoted(name)} AS {sql}")

    def sql(self, expr: Any) -> str:
        """``expr`` compiled for this engine."""
        return str(self.con.compile(expr))

    def materialize(self, name: str, sql: str) -> None:
        """Keep the rows of ``sql`` as ``name`` until :meth:`drop` (a temporary table, or a
        cached temporary view on Spark)."""
        if self.con.name == "pyspark":
            # as many partitions as the cluster has cores: the rows kept are fetched by many
            # small jobs, each running a task per partition
            cores = self.con._session.sparkContext.defaultParallelism
            self._execute(f"CACHE TABLE {self._quoted(name)} AS "
                          f"SELECT /*+ COALESCE({int(cores)}) */ * FROM ({sql}) AS rows")
        else:
            self._execute(f"CREATE TEMPORARY TABLE {self._quoted(name)} AS {sql}")

    def drop(self, name: str) -> None:
        if self.con.name == "pyspark":
            self._execute(f"UNCACHE TABLE IF EXISTS {self._quoted(name)}")
            self._execute(f"DROP VIEW IF EXISTS {self._quoted(name)}")
        else:
            self._execute(f"DROP TABLE IF EXISTS {self._quoted(name)}")

    def _quoted(self, name: str) -> str:
        import sqlglot as sg

        return str(sg.to_identifier(name, quoted=True).sql(self.con.dialect))

    def _execute(self, statement: str) -> None:
        """Run a statement that returns no rows (committed at once on PostgreSQL)."""
        cursor = self.con.raw_sql(statement)
        if self.con.name == "postgres":
            cursor.close()
            self.con.con.commit()

    def fetch(self, sql: str) -> pa.Table:
        """The rows of ``sql`` as an Arrow table (column types as the engine returns them)."""
        if self.con.name == "duckdb":
            return self.con.con.sql(sql).to_arrow_table()
        if self.con.name == "pyspark":
            return self.con.raw_sql(sql).toArrow()
        cursor = self.con.raw_sql(sql)
        try:
            names = [column.name for column in cursor.description]
            rows = cursor.fetchall()
        finally:
            cursor.close()
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        return pa.table({name: pa.array(column) for name, column in zip(names, columns,
                                                                         strict=True)})


class Views:
    """Temporary views and tables created for one profile run, dropped at the end."""

    def __init__(self, con: Any) -> None:
        self.con = con
        self.created: list[tuple[str, str]] = []  # (kind, name), in order of creation

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
        data = pa.table({f"_v_{name}": pa.array(values, pa.string()),
                         f"_c_{name}": pa.array(range(first, first + len(values)), pa.int64())})
        table_name = f"_lw_{name}_{uuid.uuid4().hex}"
        if self.con.name == "pyspark":
            self._spark_codes(table_name, data)
            return self.con.table(table_name)
        table = self.con.create_table(table_name, data, temp=True)
        self.created.append(("table", table_name))
        return table

    def _spark_codes(self, name: str, data: pa.Table) -> None:
        """``data`` as the temporary view ``name`` on Spark, marked to be broadcast.

        Spark has no temporary tables (a plain one would be written to the warehouse
        directory), so the rows are a DataFrame behind a temporary view. Spark knows no size
        for rows that come from Python, so without the mark it joins them to the decisions by
        sort-merge: every join shuffles and sorts the whole window (one of seven such joins
        took 94 s of a 10M-row profile in local[2]); broadcast, the joins are one pass.
        """
        from pyspark.sql import functions
        from pyspark.sql.types import LongType, StringType, StructField, StructType

        value, code = data.column_names
        schema = StructType([StructField(value, StringType()), StructField(code, LongType())])
        rows = list(zip(data.column(value).to_pylist(), data.column(code).to_pylist(), strict=True))
        frame = self.con._session.createDataFrame(rows, schema=schema)
        functions.broadcast(frame).createOrReplaceTempView(name)
        self.created.append(("view", name))

    def drop(self) -> None:
        # views first (reverse order of creation): they depend on the tables
        for kind, name in reversed(self.created):
            if kind == "view":
                self.con.drop_view(name, force=True)
            else:
                self.con.drop_table(name, force=True)
