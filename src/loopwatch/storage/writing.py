"""Writing validated rows into the embedded store: each row once, bad rows to quarantine.

A decision is identified by its ``decision_id`` within the model and the UTC day of
its time; an outcome by its ``decision_id`` and observed time. A write skips keys
already stored in the partitions it touches (read once per partition and process,
kept in a :class:`KeyCache`, and refreshed from the files another process has added
since) and commits one file per partition under the writers' lock. Rejected rows go
to ``quarantine/`` with their reason and source.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from loopwatch.core.schema import Conformed, Rejection, TableSchema
from loopwatch.core.store import Kind, WriteResult
from loopwatch.errors import StoreError
from loopwatch.storage.atomic import write_atomic
from loopwatch.storage.journal import complete_pending
from loopwatch.storage.layout import QUARANTINE_SCHEMA, StoreLayout, data_files
from loopwatch.storage.locks import writing

__all__ = ["KeyCache", "reason_kind", "row_keys", "write_rows"]


def row_keys(kind: Kind, table: pa.Table, schema: TableSchema) -> pa.Array:
    """The identity of each row of ``table`` within its partition, as strings."""
    ids = table.column(schema.key).combine_chunks()
    if kind == "decisions":
        return ids
    micros = pc.cast(table.column(schema.time), pa.int64()).cast(pa.string())
    return pc.binary_join_element_wise(ids, micros.combine_chunks(), "\x1f")


def _key_columns(kind: Kind, schema: TableSchema) -> list[str]:
    return [schema.key] if kind == "decisions" else [schema.key, schema.time]


class KeyCache:
    """Keys already stored, per partition directory, and the files they were read from.

    A decision's key maps to its stored score, so that a resent decision whose score
    differs is caught (an outcome's key maps to ``None``).
    """

    def __init__(self) -> None:
        self._keys: dict[Path, tuple[dict[str, float | None], set[str]]] = {}

    def stored(self, kind: Kind, schema: TableSchema, directory: Path) -> dict[str, float | None]:
        """The keys stored in ``directory`` (with their scores), reading only files not read before."""
        keys, seen = self._keys.setdefault(directory, ({}, set()))
        if directory.exists():
            score = schema.score if kind == "decisions" else None
            for path in data_files(directory):
                if path.name not in seen:
                    columns = _key_columns(kind, schema) + ([score] if score else [])
                    table = pq.read_table(path, columns=columns)
                    values = (table.column(score).to_pylist() if score
                              else [None] * table.num_rows)
                    keys.update(zip(row_keys(kind, table, schema).to_pylist(), values, strict=True))
                    seen.add(path.name)
        return keys

    def written(self, path: Path) -> None:
        """``path`` was just written by this process; its keys are already known."""
        self._keys[path.parent][1].add(path.name)

    def clear(self) -> None:
        self._keys.clear()


def write_rows(layout: StoreLayout, kind: Kind, schema: TableSchema, conformed: Conformed,
               cache: KeyCache) -> WriteResult:
    """Write the good rows of ``conformed`` not stored yet, and quarantine its rejections."""
    table = conformed.table
    written = duplicates = 0
    resent: list[Rejection] = []
    score = schema.score if kind == "decisions" else None
    with writing(layout):
        complete_pending(layout)  # a compaction a crash (or a reader) left half done
        if table.num_rows:
            # the UTC day of each row; formatting only the distinct days is 10x cheaper
            days = pc.cast(pc.floor_temporal(table.column(schema.time), unit="day"),
                           pa.date32()).combine_chunks()
            keys = row_keys(kind, table, schema)
            for day in pc.unique(days).to_pylist():
                mask = pc.equal(days, pa.scalar(day, pa.date32()))
                part_keys = keys.filter(mask).to_pylist()
                scores = (table.column(score).filter(mask).to_pylist() if score
                          else [None] * len(part_keys))
                directory = layout.partition(kind, day)
                stored = cache.stored(kind, schema, directory)
                keep: list[bool] = []
                fresh: list[str] = []
                differ: list[int] = []
                if stored.keys().isdisjoint(part_keys) and len(set(part_keys)) == len(part_keys):
                    # the common case of a logger: every key is new (set operations, no row loop)
                    stored.update(zip(part_keys, scores, strict=True))
                    fresh, keep = part_keys, [True] * len(part_keys)
                else:
                    for i, (key, value) in enumerate(zip(part_keys, scores, strict=True)):
                        new = key not in stored
                        keep.append(new)
                        if new:
                            stored[key] = value
                            fresh.append(key)
                        elif stored[key] != value:
                            differ.append(i)
                duplicates += len(keep) - len(fresh) - len(differ)
                if differ:
                    resent += _resent(table.filter(mask), differ, stored, schema, conformed.source)
                if fresh:
                    part = table.filter(mask)
                    if len(fresh) < len(keep):
                        part = part.filter(pa.array(keep))
                    try:
                        path = write_atomic(part, directory)
                    except StoreError:
                        for key in fresh:
                            stored.pop(key, None)
                        raise
                    cache.written(path)
                    written += part.num_rows
        rejected = conformed.rejected + tuple(resent)
        if rejected:
            _quarantine(layout, kind, rejected)
    return WriteResult(
        written=written,
        duplicates=duplicates,
        quarantined=len(rejected),
        reasons=Counter(reason_kind(r.reason) for r in rejected),
        unknown_columns=conformed.unknown_columns,
    )


def _resent(part: pa.Table, rows: list[int], stored: dict[str, float | None], schema: TableSchema,
            source: str) -> list[Rejection]:
    """A decision resent with another score than the one stored: kept out, with both scores.

    The stored decision stays (the first write wins, so a retry never changes history);
    the resend goes to quarantine rather than being ignored as an exact resend is.
    """
    out = []
    for i in rows:
        row = part.slice(i, 1).to_pylist()[0]
        before = stored[str(row[schema.key])]
        out.append(Rejection(
            {k: v for k, v in row.items() if v is not None},
            f"{schema.score}: a resent decision differs from the one stored under its id; "
            f"stored {before!r}, resent {row[schema.score]!r} (the stored decision is kept)",
            source))
    return out


def _quarantine(layout: StoreLayout, kind: Kind, rejected: tuple[Rejection, ...]) -> None:
    now = datetime.now(UTC)
    table = pa.table({
        "kind": [kind] * len(rejected),
        "source": [r.source for r in rejected],
        "reason": [r.reason for r in rejected],
        "row": [r.row_json() for r in rejected],
        "received_at": pa.array([now] * len(rejected), pa.timestamp("us", tz="UTC")),
        "position": [r.position for r in rejected],
    }, schema=QUARANTINE_SCHEMA)
    write_atomic(table, layout.partition("quarantine", now))


def reason_kind(reason: str) -> str:
    """The reason without the offending value, for summaries: ``x: expected a number``."""
    return reason.split(";")[0]
