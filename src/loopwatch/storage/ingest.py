"""Bring decisions and outcomes in from files (CSV, Parquet, JSON Lines) or in-memory tables.

Files are read in batches, so memory stays flat however large the file is. A
malformed line (a CSV row with the wrong number of fields, a JSON line that does
not parse) is quarantined with its line number; a row with a bad value is
quarantined with the column and the value; every valid row lands.
"""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from loopwatch.core.schema import Conformed, Rejection, TableSchema
from loopwatch.core.store import DecisionSource, Kind, RowSink, WriteResult, kind_of
from loopwatch.errors import InputError

__all__ = ["FORMATS", "IngestReport", "Orphans", "ingest_file", "ingest_table", "orphan_outcomes",
           "to_arrow"]

#: File suffixes understood by :func:`ingest_file`, and their format.
FORMATS = {
    ".csv": "csv", ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
}
BATCH_ROWS = 100_000
_log = logging.getLogger("loopwatch.ingest")
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class IngestReport:
    """What an ingest did: rows read, the store's :class:`WriteResult`, and the columns the
    spec declares (features, cohorts, action) that the input lacked, stored as missing."""

    source: str
    rows_read: int
    result: WriteResult
    missing_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Orphans:
    """Stored outcomes whose decision id names no stored decision: how many, and a few ids."""

    count: int
    examples: tuple[str, ...]


def orphan_outcomes(store: DecisionSource, *, examples: int = 3) -> Orphans:
    """The stored outcomes with no stored decision (yet): an outcome may arrive before its
    decision, so this is reported, not refused; one query over the two id columns."""
    con = store.connect()
    decisions = store.table("decisions", con=con)
    outcomes = store.table("outcomes", con=con)
    did, oid = store.spec.columns.decision_id, store.spec.outcomes.decision_id
    ids = outcomes.select(_id=outcomes[oid]).distinct()
    known = decisions.select(_id=decisions[did])
    lone = ids.anti_join(known, "_id")
    count = int(lone.count().to_pyarrow().as_py())
    shown = lone.order_by("_id").limit(examples).to_pyarrow().column("_id").to_pylist() if count else []
    return Orphans(count, tuple(str(x) for x in shown))


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
        names = list(dict.fromkeys(k for r in data for k in r))
        if data:
            _require_columns(schema, names, source)
        conformed = schema.conform_rows(data, source=source, first_row=1)
        return _report(source, len(data), store.write(kind, conformed), schema, names)
    table = to_arrow(data)
    _require_columns(schema, table.column_names, source)
    return _report(source, table.num_rows,
                   store.write(kind, schema.conform(table, source=source, first_row=1)),
                   schema, table.column_names)


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
    names: set[str] = set()
    for conformed, read, done, size in batches(path, schema):
        rows += read
        names.update(conformed.present or ())
        total = total + store.write(kind, conformed)
        if on_progress is not None:
            on_progress(done, size)
    # a file of no valid line says nothing of its columns
    return _report(str(path), rows, total, schema, sorted(names) if names else list(schema.expected))


def _report(source: str, rows: int, result: WriteResult, schema: TableSchema,
            names: list[str]) -> IngestReport:
    missing = tuple(c for c in schema.expected if c not in names)
    if missing:
        _log.warning("%s: no column %s, which the spec declares; stored as missing in every row",
                     source, ", ".join(map(repr, missing)))
    return IngestReport(source, rows, result, missing)


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
        table = pa.Table.from_batches([batch])
        conformed = schema.conform(table, source=str(path), first_row=done + 1)
        done += batch.num_rows
        yield conformed, batch.num_rows, done, total


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


def _require_text(path: Path, what: str) -> None:
    """An :class:`InputError` when the start of ``path`` is not UTF-8 text (a binary file, or
    another encoding), before a parser prints the bytes it could not decode."""
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    problem = None
    nul = head.find(b"\x00")
    if nul >= 0:
        problem = f"it holds a NUL byte at offset {nul}"
    else:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            # a character cut by the end of the block read is not an error
            if exc.start < len(head) - 3 or exc.reason != "unexpected end of data":
                problem = f"byte 0x{head[exc.start]:02x} at offset {exc.start} is not UTF-8"
    if problem is not None:
        raise InputError(f"{path}: not a {what} file: {problem}; expected UTF-8 text "
                         f"(is it another format or encoding?)")


@contextmanager
def _undecodable_lines(path: Path) -> Iterator[list[str]]:
    """Collect what Arrow cannot report itself: a malformed CSV line that is not UTF-8 fails
    inside Arrow's call to our handler, which Python would print as "Exception ignored"."""
    seen: list[str] = []
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, UnicodeDecodeError):
            seen.append(str(unraisable.exc_value))
        else:
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield seen
    finally:
        sys.unraisablehook = previous


def _csv_batches(path: Path, schema: TableSchema) -> _Batches:
    _require_text(path, "CSV")
    with _undecodable_lines(path) as undecodable:
        try:
            yield from _csv_text_batches(path, schema)
        except InputError:
            if undecodable:
                raise InputError(f"{path}: not a readable CSV file: a malformed line is not UTF-8 "
                                 f"text ({undecodable[0]})") from None
            raise


def _csv_text_batches(path: Path, schema: TableSchema) -> _Batches:
    size = path.stat().st_size
    bad: list[Rejection] = []

    def invalid(row: Any) -> str:
        line = f"line {row.number}" if row.number is not None else "a line"
        bad.append(Rejection(
            {"line": row.text}, f"{line}: expected {row.expected_columns} fields; "
            f"got {row.actual_columns}", str(path),
            None if row.number is None else f"line {row.number}"))
        return "skip"

    source = _CountingReader(path)
    try:
        reader = pacsv.open_csv(
            source,
            # one thread: Arrow then knows the line number of a malformed line (parsing
            # 600,000 rows took 0.25-0.36 s either way)
            read_options=pacsv.ReadOptions(block_size=16 << 20, use_threads=False),
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
        # rows are numbered among the well-formed records (a malformed one has its line)
        conformed = schema.conform(pa.Table.from_batches([batch]), source=str(path),
                                   first_row=done + 1)
        done += batch.num_rows
        read = batch.num_rows + len(bad)
        if bad:
            conformed = Conformed(conformed.table, conformed.rejected + tuple(bad),
                                  conformed.unknown_columns, conformed.source, conformed.present)
            bad.clear()
        yield conformed, read, min(source.position, size), size
    source.close()
    if bad:  # malformed lines after the last batch (or every line) are quarantined too
        yield Conformed(schema.empty(), tuple(bad), source=str(path)), len(bad), size, size


def _jsonl_batches(path: Path, schema: TableSchema) -> _Batches:
    _require_text(path, "JSON Lines")
    size = path.stat().st_size
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
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
                                     str(path), f"line {number}"))
                continue
            if not isinstance(value, dict):
                bad.append(Rejection({"line": value}, f"line {number}: expected a JSON object; "
                                     f"got {type(value).__name__}", str(path), f"line {number}"))
                continue
            rows.append(value)
            lines.append(number)
            if len(rows) >= BATCH_ROWS:
                if first:
                    _require_keys(schema, rows, path)
                    first = False
                yield _rows_batch(schema, rows, lines, bad, path), read, handle.tell(), size
                rows, lines, bad, read = [], [], [], 0
    if rows or bad or read:
        if first and rows:
            _require_keys(schema, rows, path)
        yield _rows_batch(schema, rows, lines, bad, path), read, size, size


def _require_keys(schema: TableSchema, rows: list[dict[str, Any]], path: Path) -> None:
    """A JSON Lines file whose first batch never has a required key lacks that column."""
    keys: set[str] = set()
    for row in rows:
        keys.update(row)
    _require_columns(schema, sorted(keys), str(path))


def _rows_batch(schema: TableSchema, rows: list[dict[str, Any]], lines: list[int],
                bad: list[Rejection], path: Path) -> Conformed:
    conformed = schema.conform_rows(rows, source=str(path), lines=lines)
    return Conformed(conformed.table, conformed.rejected + tuple(bad), conformed.unknown_columns,
                     conformed.source, conformed.present)
