"""Reading one side of a comparison into the engine: any file ``ingest`` reads, or a table in memory.

Each side goes through the readers and the validator of ``loopwatch ingest``
(:mod:`loopwatch.storage.ingest`): CSV, Parquet and JSON Lines files batch by batch,
pandas, polars and Arrow tables or a list of dicts in Python. So integer features,
string timestamps and every other type ``ingest`` accepts compare exactly as they
would be stored, and a row ``ingest`` would quarantine is skipped and counted with
its reason. The valid rows go into a table of the comparison's DuckDB connection,
which spills to disk past the engine's memory limit, so a side larger than memory
still compares.

Features hashed for privacy (``pii: hash``) are hashed with a key drawn for the
comparison: both sides share it, so equal values stay equal, and no key is needed.

Parquet files that already hold every column the comparison reads, in the types the
store would hold them (timestamps as timestamps, numbers as numbers, flags as booleans,
categories as text), are read by DuckDB directly, as the store's own files are: going
through the validator would copy every row once more for nothing to convert (twice the
time on a million rows a side). Integers there are read as floats, as ``ingest`` would.
"""

from __future__ import annotations

import csv
import glob
import json
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from loopwatch.core.schema import Conformed, Rejection, TableSchema, decision_schema
from loopwatch.core.spec import Spec
from loopwatch.core.store import Kind, WriteResult
from loopwatch.errors import InputError
from loopwatch.storage.ingest import FORMATS, ingest_file, ingest_table, to_arrow
from loopwatch.storage.writing import reason_kind

__all__ = ["Side", "comparison_schema", "read_files", "read_table"]

#: Lines of a JSON Lines file whose keys name its columns.
_JSONL_HEAD = 1_000


@dataclass(frozen=True)
class Side:
    """One side of a comparison, in the engine: its valid rows, and what was skipped."""

    name: str
    where: str  # for messages: the files or the table
    table: Any  # an Ibis table of the valid rows, in the stored schema; None when there are none
    columns: frozenset[str]  # the columns the input has (before validation)
    rows: int
    skipped: Counter[str]  # rows skipped, by reason (without the value)
    first_skipped: Rejection | None


class _EngineSink:
    """A :class:`~loopwatch.core.store.RowSink` that appends valid rows to a DuckDB table."""

    def __init__(self, con: Any, name: str, schema: TableSchema) -> None:
        self.con, self.name, self._schema = con, name, schema
        self.rows = 0
        self.skipped: Counter[str] = Counter()
        self.first_skipped: Rejection | None = None

    def schema(self, kind: Kind) -> TableSchema:
        return self._schema

    def write(self, kind: Kind, conformed: Conformed) -> WriteResult:
        table = conformed.table
        if table.num_rows:
            if self.rows:
                self.con.insert(self.name, table)
            else:
                self.con.create_table(self.name, table, temp=True)
            self.rows += table.num_rows
        reasons = Counter(reason_kind(r.reason) for r in conformed.rejected)
        self.skipped += reasons
        if conformed.rejected and self.first_skipped is None:
            self.first_skipped = conformed.rejected[0]
        return WriteResult(written=table.num_rows, quarantined=len(conformed.rejected),
                           reasons=reasons, unknown_columns=conformed.unknown_columns)

    def side(self, name: str, where: str, columns: set[str]) -> Side:
        table = self.con.table(self.name) if self.rows else None
        return Side(name, where, table, frozenset(columns), self.rows, self.skipped,
                    self.first_skipped)


def comparison_schema(spec: Spec) -> TableSchema:
    """The validator of both sides: the store's, with a key drawn for ``pii: hash`` features."""
    return decision_schema(spec, pii_key=secrets.token_bytes(32))


def read_files(con: Any, schema: TableSchema, side: str, paths: Sequence[str | Path],
               needed: Sequence[str] = ()) -> Side:
    """Read every file of ``side`` (files, directories, glob patterns) into a table of ``con``.

    Parquet files holding every ``needed`` column in the stored types are read in place.
    """
    files = _files(paths, side)
    where = f"{side} files ({files[0]}{' …' if len(files) > 1 else ''})"
    typed = _typed_parquet(files, schema, needed) if needed else None
    if typed is not None:
        table = con.read_parquet([str(f) for f in files], union_by_name=True)
        integers = {name: table[name].cast("float64") for name in typed
                    if table.schema()[name].is_integer()}
        if integers:
            table = table.mutate(**integers)
        rows = int(table.count().to_pyarrow().as_py())
        return Side(side, where, table if rows else None, frozenset(typed), rows, Counter(), None)
    sink = _EngineSink(con, f"compare_{side}", schema)
    columns: set[str] = set()
    for path in files:
        columns.update(_columns_of(path))
        ingest_file(sink, "decisions", path)
    return sink.side(side, where, columns)


def read_table(con: Any, schema: TableSchema, side: str, data: Any) -> Side:
    """Read an in-memory table (pandas, polars, Arrow, or a list of dicts) into a table of ``con``."""
    sink = _EngineSink(con, f"compare_{side}", schema)
    where = f"the {side} table"
    if isinstance(data, list):
        columns = {str(k) for row in data if isinstance(row, dict) for k in row}
    else:
        data = to_arrow(data)
        columns = set(data.column_names)
    ingest_table(sink, "decisions", data, source=where)
    return sink.side(side, where, columns)


def _typed_parquet(files: list[Path], schema: TableSchema, needed: Sequence[str]) -> set[str] | None:
    """The files' columns when every file is Parquet and every needed column is there (in some
    file) in the type the store holds it in; ``None`` when they must go through the validator."""
    stored = schema.arrow
    names: set[str] = set()
    for path in files:
        if FORMATS.get(path.suffix.lower()) != "parquet":
            return None
        try:
            found = pq.read_schema(path)
        except (pa.ArrowInvalid, OSError):
            return None  # the validator's reader names the file
        for field in found:
            if field.name in stored.names and not _fits(field.type, stored.field(field.name).type):
                return None
        names.update(found.names)
    return names if set(needed) <= names else None


def _fits(found: pa.DataType, stored: pa.DataType) -> bool:
    if pa.types.is_null(found):
        return True
    if pa.types.is_dictionary(found):
        found = found.value_type
    if pa.types.is_timestamp(stored):
        return bool(pa.types.is_timestamp(found) and found.tz is not None)
    if pa.types.is_floating(stored):
        return bool(pa.types.is_floating(found) or pa.types.is_integer(found))
    if pa.types.is_boolean(stored):
        return bool(pa.types.is_boolean(found))
    return bool(pa.types.is_string(found) or pa.types.is_large_string(found))


def _files(paths: Sequence[str | Path], side: str) -> list[Path]:
    """Files named, below directories (every file of a format ingest reads), or matching globs."""
    if isinstance(paths, str | Path):
        paths = [paths]
    found: list[Path] = []
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*")
                            if p.is_file() and p.suffix.lower() in FORMATS and not p.name.startswith("."))
        elif path.is_file():
            found.append(path)
        else:
            found += sorted(Path(p) for p in glob.glob(str(entry), recursive=True)
                            if Path(p).is_file())
    if not found:
        raise InputError(f"no {side} file matches {', '.join(map(str, paths)) or '(nothing)'}")
    return found


def _columns_of(path: Path) -> list[str]:
    """The column names of a file, from its header (Parquet schema, CSV first line, JSON keys)."""
    fmt = FORMATS.get(path.suffix.lower())
    try:
        if fmt == "parquet":
            return list(pq.read_schema(path).names)
        if fmt == "csv":
            with open(path, newline="", encoding="utf-8") as handle:
                return next(csv.reader(handle), [])
        if fmt == "jsonl":
            keys: dict[str, None] = {}
            with open(path, encoding="utf-8") as handle:
                for number, line in enumerate(handle):
                    if number >= _JSONL_HEAD:
                        break
                    try:
                        value = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # ingest quarantines the line with its number
                    if isinstance(value, dict):
                        keys.update(dict.fromkeys(map(str, value)))
            return list(keys)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a {fmt.upper() if fmt else ''} text file in UTF-8 "
                         f"(byte {exc.start}: {exc.reason})") from exc
    except (pa.ArrowInvalid, OSError, csv.Error) as exc:
        raise InputError(f"{path}: not a readable {fmt or ''} file: {exc}") from exc
    return []  # an unknown suffix: ingest_file names it
