"""The embedded engine: an in-memory DuckDB connection through Ibis, set up for the store's files."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_ENGINE_MEMORY", "MEMORY_SIZE", "duckdb_connection", "memory_size"]

#: Memory the embedded engine may use before spilling to disk (``LOOPWATCH_ENGINE_MEMORY``).
DEFAULT_ENGINE_MEMORY = "512MB"
MEMORY_SIZE = r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)"


def memory_size(value: str) -> str:
    """``value`` if it is a size such as ``'512MB'``; a :class:`ValueError` naming it if not."""
    if not re.fullmatch(MEMORY_SIZE, value):
        raise ValueError(f"engine_memory: expected a size such as '512MB' or '2GB'; got {value!r}")
    return value


def duckdb_connection(engine_memory: str = DEFAULT_ENGINE_MEMORY) -> Any:
    """A new in-memory DuckDB connection through Ibis, set up for Parquet files of decisions.

    ``engine_memory`` is the most memory DuckDB takes before spilling (a size such as
    ``'512MB'``).
    """
    import ibis  # deferred: serving code that only logs decisions never pays for it

    engine_memory = memory_size(engine_memory)
    con = ibis.duckdb.connect()
    # Parquet min/max statistics exclude NaN, and DuckDB folds NaN tests on them
    # (ENGINE-NOTES); the store writes no NaN, but files from elsewhere may.
    con.raw_sql("SET disabled_optimizers = 'statistics_propagation'")
    # DuckDB takes 80% of RAM by default; a monitoring job beside serving code should
    # not: past the limit its aggregates spill to disk (same results, measured no slower)
    con.raw_sql(f"SET memory_limit = '{engine_memory}'")  # validated above: a size only
    # spill to the system's temporary directory, not to `.tmp` in whatever directory
    # the command runs from
    spill = Path(tempfile.gettempdir()) / "loopwatch-duckdb"
    con.raw_sql("SET temp_directory = '{}'".format(str(spill).replace("'", "''")))
    # DuckDB draws its own progress bar on standard output once a query passes 2 s, even
    # when it is not a terminal: it broke `--format json` and a subprocess's printed result
    con.raw_sql("SET enable_progress_bar = false")
    return con
