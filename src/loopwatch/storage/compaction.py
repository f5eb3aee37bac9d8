"""Compaction: each partition's files merged into one, duplicate keys dropped, no result changed.

One compaction runs at a time (``.compacting``). It merges a partition's files
without the writers' lock (they never change, and ingest only adds files beside them),
and takes it only to record and complete the swap, so an ingest waits milliseconds,
never for a merge. Each merge ends in a journalled swap (:mod:`loopwatch.storage.journal`)
that completes at once when no reader holds the store, or else after readers have
closed: ``compact`` waits up to ``wait`` seconds for them, and a swap still pending then
is completed by the next write or compaction. Until a swap completes readers see the
old files, which stay where they were listed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from loopwatch.core.schema import TableSchema
from loopwatch.core.store import TABLES, Kind, TableName
from loopwatch.storage.atomic import write_temp
from loopwatch.storage.journal import (
    complete,
    complete_pending,
    pending_swaps,
    record_swap,
    superseded,
)
from loopwatch.storage.layout import QUARANTINE_SCHEMA, StoreLayout, data_files
from loopwatch.storage.locks import compacting, readers_absent, writing
from loopwatch.storage.writing import row_keys

__all__ = ["CompactionResult", "compact"]

#: How often a compaction waiting for readers tries its pending swaps again.
_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class CompactionResult:
    """What a compaction did.

    ``files_after`` counts the files readers see when it returns: a partition whose
    swap is still ``pending`` (readers were open throughout ``wait``) still shows its
    old files, and its merged file appears when the swap completes.
    """

    partitions: int
    files_before: int
    files_after: int
    duplicates_removed: int
    pending: int = 0


def compact(layout: StoreLayout, schemas: Mapping[Kind, TableSchema], *,
            wait: float) -> CompactionResult:
    """Merge every partition of more than one file; see the module's description."""
    partitions = files_before = removed = 0
    with compacting(layout):
        with writing(layout):
            complete_pending(layout)
        for kind in TABLES:
            for directory in layout.partitions(kind):
                old = _claim(layout, directory)
                files_before += len(old)
                if len(old) <= 1:
                    continue
                # the old files never change, and ingest only adds files beside them:
                # merging needs no lock, so writers wait for none of it
                merged, dropped = _merge(kind, schemas, old)
                tmp, new = write_temp(merged, directory)
                with writing(layout):
                    swap = record_swap(layout, tmp, new, old)
                    with readers_absent(layout) as alone:
                        if alone:
                            complete(layout, swap)
                partitions += 1
                removed += dropped
        pending = _wait_for_readers(layout, wait)
    return CompactionResult(partitions, files_before, _visible_files(layout), removed, pending)


def _claim(layout: StoreLayout, directory: Path) -> list[Path]:
    """The files of ``directory`` to merge (none while a swap of it is pending), once
    temporary files that dead writers left there are removed."""
    with writing(layout):  # no write is half done while the lock is held
        swaps = [s for s in pending_swaps(layout) if s.new.parent == directory]
        kept = {s.tmp for s in swaps}
        for stale in directory.glob(".*.tmp"):
            if stale not in kept:
                stale.unlink()
        hidden = superseded(layout)
        old = [p for p in data_files(directory) if p not in hidden]
    return [] if swaps else old


def _merge(kind: TableName, schemas: Mapping[Kind, TableSchema],
           files: list[Path]) -> tuple[pa.Table, int]:
    """The rows of ``files`` in one table, the first of each key kept; and how many were dropped."""
    schema = QUARANTINE_SCHEMA if kind == "quarantine" else schemas[kind].arrow
    merged = ds.dataset([str(p) for p in files], schema=schema, format="parquet").to_table()
    if kind == "quarantine":
        return merged, 0
    before = merged.num_rows
    keys = row_keys(kind, merged, schemas[kind])
    first = pa.table({"k": keys, "i": pa.array(range(before), pa.int64())}) \
        .group_by("k", use_threads=False).aggregate([("i", "min")]).column("i_min")
    merged = merged.take(pc.take(first, pc.sort_indices(first)))
    return merged, int(before - merged.num_rows)


def _wait_for_readers(layout: StoreLayout, wait: float) -> int:
    """Complete the pending swaps, trying for up to ``wait`` seconds; how many are left."""
    deadline = time.monotonic() + wait
    while True:
        # the writer lock is let go between tries: ingest goes on while readers finish
        with writing(layout):
            left = complete_pending(layout)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(_POLL_SECONDS)


def _visible_files(layout: StoreLayout) -> int:
    hidden = superseded(layout)
    return sum(1 for kind in TABLES for d in layout.partitions(kind) for p in data_files(d)
               if p not in hidden)
