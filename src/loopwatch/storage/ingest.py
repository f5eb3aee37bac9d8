"""Bring decisions and outcomes in from files (CSV, Parquet, JSON Lines) or in-memory tables.

Files are read in batches, so memory stays flat however large the file is. A
malformed line (a CSV row with the wrong number of fields, a JSON line that does
not parse) is quarantined with its line number; a row with a bad value is
quarantined with the column and the value; every valid row lands.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from loopwatch.core.schema import Conformed, Rejection, TableSchema
from loopwatch.core.store import Kind, RowSink, WriteResult, kind_of
from loopwatch.errors import InputError

__all__ = ["FORMATS", "IngestReport", "ingest_file", "ingest_table", "to_arrow"]

#: File suffixes understood by :func:`ingest_file`, and their format.
FORMATS = {
    ".csv": "csv", ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
}
BATCH_ROWS = 100_000
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class IngestReport:
    """What an ingest did: rows read, and the store's :class:`WriteResult`."""

    source: str
    rows_read: int
    result: WriteResult


def to_arrow(data: Any) -> pa.Table:
    """An Arrow table from a pandas or polars DataFrame, an Arrow table or batch, or rows.

    Examples
    --------
    >>> to_arrow([{"a": 1}]).num_rows
    1
    """
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, list):
        return pa.Table.from_pylist(data)
    if hasattr(data, "__arrow_c_stream__") or type(data).__module__.startswith("pandas"):
        return pa.table(data)
    raise InputError(
        f"cannot read a {type(data).__name__} as a table; expected a pandas or polars "
        "DataFrame, a pyarrow Table or RecordBatch, or a list of dicts"
    )


def ingest_table(store: RowSink, kind: Kind, data: Any, *, source: str = "python") -> IngestReport:
    """Validate and write an in-memory table (pandas, polars, Arrow, or a list of dicts).

    ``kind`` is ``"decisions"`` or ``"outcomes"``; anything else is an
    :class:`~loopwatch.errors.InputError` naming the two.
    """
    kind = kind_of(kind)
    schema = store.schema(kind)
    if isinstance(data, list):
        # rows go to the row validator as they are: building an Arrow table first would
        # fail on the whole list for one row of another type (or an int beyond int64)
        if not all(isinstance(row, dict) for row in data):
            raise InputError(f"{source}: expected a list of dicts (one a row)")
        if data:
            _require_columns(schema, list(dict.fromkeys(k for r in data for k in r)), source)
        conformed = schema.conform_rows(data, source=source)
        return IngestReport(source, len(data), store.write(kind, conformed))
    table = to_arrow(data)
    _require_columns(schema, table.column_names, source)
    return IngestReport(source, table.num_rows,
                        store.write(kind, schema.conform(table, source=source)))


def ingest_file(
    store: RowSink, kind: Kind, path: str | Path, *, on_progress: Progress | None = None
) -> IngestReport:
    """Validate and write a CSV, Parquet or JSON Lines file, batch by batch.

    ``on_progress(done, total)`` is called after each batch (bytes for text files,
    rows for Parquet).
    """
    kind = kind_of(kind)
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"{path}: cannot tell the format from the suffix {path.suffix!r}; "
            f"expected one of {', '.join(sorted(FORMATS))}"
        )
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    schema = store.schema(kind)
    batches = {"csv": _csv_batches, "parquet": _parquet_batches, "jsonl": _jsonl_batches}[fmt]
    total = WriteResult()
    rows = 0
    for conformed, read, done, size in batches(path, schema):
        rows += read
        total = total + store.write(kind, conformed)
        if on_progress is not None:
            on_progress(done, size)
    return IngestReport(str(path), rows, total)


_Batches = Iterator[tuple[Conformed, int, int, int]]


def _require_columns(schema: TableSchema, names: list[str], source: str) -> None:
    missing = [c for c in schema.required if c not in names]
    if missing:
        raise InputError(
            f"{source}: no column {', '.join(map(repr, missing))}, which every {schema.kind[:-1]} "
            f"needs (see the spec's columns); the columns are: {', '.join(names) or 'none'}"
        )


def _parquet_batches(path: Path, schema: TableSchema) -> _Batches:
    try:
        handle = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path}: not a readable Parquet file: {exc}") from exc
    _require_columns(schema, handle.schema_arrow.names, str(path))
    total, done = handle.metadata.num_rows, 0
    for batch in handle.iter_batches(batch_size=BATCH_ROWS):
        done += batch.num_rows
        table = pa.Table.from_batches([batch])
        yield schema.conform(table, source=str(path)), batch.num_rows, done, total


class _CountingReader(io.RawIOBase):
    """A file that counts the bytes read from it, for progress."""

    def __init__(self, path: Path) -> None:
        self._raw = open(path, "rb")  # noqa: SIM115 - closed with this reader
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer)
        self.position += n
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def _csv_batches(path: Path, schema: TableSchema) -> _Batches:
    size = path.stat().st_size
    bad: list[Rejection] = []

    def invalid(row: Any) -> str:
        line = f"line {row.number}" if row.number is not None else "a line"
        bad.append(Rejection(
            {"line": row.text}, f"{line}: expected {row.expected_columns} fields; "
            f"got {row.actual_columns}", f"{path}:{row.number or '?'}"))
        return "skip"

    source = _CountingReader(path)
    try:
        reader = pacsv.open_csv(
            source,
            read_options=pacsv.ReadOptions(block_size=16 << 20),
            parse_options=pacsv.ParseOptions(invalid_row_handler=invalid),
            # every column is read as text and cast by the shared validator, so a bad value
            # rejects its row rather than the file; only empty fields are null ('NA' is a region)
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in schema.names},
                null_values=[""], strings_can_be_null=True),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path}: not a readable CSV file: {exc}") from exc
    _require_columns(schema, reader.schema.names, str(path))
    done = 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except pa.ArrowInvalid as exc:
            raise InputError(f"{path}: cannot be read as CSV after row {done}: {exc}") from exc
        done += batch.num_rows
        read = batch.num_rows + len(bad)
        conformed = schema.conform(pa.Table.from_batches([batch]), source=str(path))
        if bad:
            conformed = Conformed(conformed.table, conformed.rejected + tuple(bad),
                                  conformed.unknown_columns)
            bad.clear()
        yield conformed, read, min(source.position, size), size
    source.close()
    if bad:  # malformed lines after the last batch (or every line) are quarantined too
        yield Conformed(schema.empty(), tuple(bad)), len(bad), size, size


def _jsonl_batches(path: Path, schema: TableSchema) -> _Batches:
    size = path.stat().st_size
    rows: list[dict[str, Any]] = []
    bad: list[Rejection] = []
    read = 0
    first = True
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            read += 1
            try:
                value = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                text = line.decode("utf-8", "replace").rstrip("\n")
                bad.append(Rejection({"line": text}, f"line {number}: not valid JSON: {exc}",
                                     f"{path}:{number}"))
                continue
            if not isinstance(value, dict):
                bad.append(Rejection({"line": value}, f"line {number}: expected a JSON object; "
                                     f"got {type(value).__name__}", f"{path}:{number}"))
                continue
            rows.append(value)
            if len(rows) >= BATCH_ROWS:
                if first:
                    _require_keys(schema, rows, path)
                    first = False
                yield _rows_batch(schema, rows, bad, path), read, handle.tell(), size
                rows, bad, read = [], [], 0
    if rows or bad or read:
        if first and rows:
            _require_keys(schema, rows, path)
        yield _rows_batch(schema, rows, bad, path), read, size, size


def _require_keys(schema: TableSchema, rows: list[dict[str, Any]], path: Path) -> None:
    """A JSON Lines file whose first batch never has a required key lacks that column."""
    keys: set[str] = set()
    for row in rows:
        keys.update(row)
    _require_columns(schema, sorted(keys), str(path))


def _rows_batch(schema: TableSchema, rows: list[dict[str, Any]], bad: list[Rejection],
                path: Path) -> Conformed:
    conformed = schema.conform_rows(rows, source=str(path))
    return Conformed(conformed.table, conformed.rejected + tuple(bad), conformed.unknown_columns)
