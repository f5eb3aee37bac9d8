"""Running SQL that Ibis compiled, on each engine: materialise a query as a table, fetch a result.

Profiles compile their plan once per run and execute it chunk after chunk. Going
through an Ibis expression each time would translate (or parse) the same large
plan again for every chunk, which cost more than the engine's work on a
million-row chunk. What differs between engines is only how a query's rows are
kept for a while and how a result comes back as Arrow; that is all this module
holds. The SQL text is always Ibis's; no name or value from a spec is pasted in.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

__all__ = ["Runner"]

#: About the most decisions a profile run materialises at once, per engine. DuckDB and
#: PostgreSQL keep a chunk in the process's (or the server's) memory, so chunks are small.
#: Each chunk costs Spark a few jobs of fixed overhead: its 10M-row profile took 1,050 s in
#: chunks of 500,000 rows, 314 s in chunks of 2.5M and 270 s in chunks of 5M, whose
#: aggregates took the Python side's peak from 1.0 to 1.1 GB.
CHUNK_ROWS = {"duckdb": 500_000, "postgres": 500_000, "pyspark": 2_500_000}


class Runner:
    """Materialise, fetch and drop on the backend of ``con`` (DuckDB, PostgreSQL or PySpark)."""

    def __init__(self, con: Any) -> None:
        if con.name not in ("duckdb", "postgres", "pyspark"):
            raise NotImplementedError(
                f"profiles run on DuckDB, PostgreSQL and PySpark, not on {con.name!r}")
        self.con = con
        self.chunk_rows = CHUNK_ROWS[con.name]

    def sql(self, expr: Any) -> str:
        """``expr`` compiled for this engine."""
        return str(self.con.compile(expr))

    def materialize(self, name: str, sql: str) -> None:
        """Keep the rows of ``sql`` as ``name`` until :meth:`drop` (a temporary table, or a
        cached temporary view on Spark)."""
        if self.con.name == "pyspark":
            self._execute(f"CACHE TABLE {self._quoted(name)} AS {sql}")
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
