"""The embedded store: decisions and outcomes as Parquet files, read through DuckDB via Ibis.

:class:`ParquetStore` is the reading half (:class:`~loopwatch.storage.parquet_source.ParquetSource`)
with the writing half added. Each concept lives in a module of its own:

* :mod:`~loopwatch.storage.layout` — where each table's files are (by model and UTC day);
* :mod:`~loopwatch.storage.atomic` — the commit protocol (temporary file, fsync, rename);
* :mod:`~loopwatch.storage.locks` — one writer at a time; readers that never wait on writers;
* :mod:`~loopwatch.storage.writing` — each row once (keys per partition), bad rows to quarantine;
* :mod:`~loopwatch.storage.compaction` and :mod:`~loopwatch.storage.journal` — merging a
  partition's files through a journalled swap that a crash or a reader cannot break;
* :mod:`~loopwatch.storage.parquet_source` and :mod:`~loopwatch.storage.views` — reading.

Guarantees:

* **Atomic files.** A file is written under a temporary name, fsynced and renamed;
  readers only ever list ``*.parquet``, so they never see a partial file.
* **Idempotent rows.** A decision is identified by its ``decision_id`` (within the
  model and the day of its timestamp); an outcome by its ``decision_id`` and
  observed time. A resent row is counted as a duplicate and not written again.
* **Nothing lost.** A rejected row goes to quarantine with its reason and source.
* **Readers never wait.** They take no exclusive lock and write nothing; a compaction
  never removes a file that an open reader listed.
* **Compaction** merges the files of a partition into one and changes no query's
  result; a journal makes it safe against a crash at any point.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from loopwatch.core.schema import Conformed
from loopwatch.core.spec import Spec
from loopwatch.core.store import Kind, WriteResult, kind_of
from loopwatch.storage.compaction import CompactionResult, compact
from loopwatch.storage.duckdb_engine import DEFAULT_ENGINE_MEMORY
from loopwatch.storage.parquet_source import ParquetSource
from loopwatch.storage.writing import KeyCache, write_rows

__all__ = ["CompactionResult", "ParquetStore"]

#: How long :meth:`ParquetStore.compact` waits for open readers before it leaves a swap
#: for the next write to complete.
COMPACTION_WAIT_SECONDS = 10.0


class ParquetStore(ParquetSource):
    """Decisions, outcomes and quarantine of one model, as a partitioned Parquet dataset.

    Parameters
    ----------
    root
        Directory of the store; created on first write.
    spec
        The model's spec: it gives the model id and the schemas.
    pii_key
        Secret for ``pii: hash`` features (see ``LOOPWATCH_PII_KEY``).
    engine_memory
        Memory DuckDB may use before it spills to disk (``'512MB'``).

    Examples
    --------
    >>> import tempfile
    >>> from loopwatch.core.spec import spec_from_mapping
    >>> spec = spec_from_mapping({"model": "m", "features": [{"name": "x", "dtype": "numeric"}]})
    >>> store = ParquetStore(tempfile.mkdtemp(), spec=spec)
    >>> rows = [{"decision_id": "a", "timestamp": "2026-03-01T10:00:00Z", "score": 0.9, "x": 1.0}]
    >>> store.ingest("decisions", pa.Table.from_pylist(rows), source="doctest").written
    1
    >>> store.ingest("decisions", pa.Table.from_pylist(rows), source="doctest").duplicates
    1
    >>> store.count("decisions")
    1
    """

    def __init__(self, root: str | Path, *, spec: Spec, pii_key: bytes | None = None,
                 engine_memory: str = DEFAULT_ENGINE_MEMORY) -> None:
        super().__init__(root, spec=spec, pii_key=pii_key, engine_memory=engine_memory)
        self._keys = KeyCache()

    def ingest(self, kind: Kind, data: pa.Table, *, source: str) -> WriteResult:
        """Validate ``data`` (any Arrow table) and write it; bad rows go to quarantine."""
        return self.write(kind, self.schema(kind).conform(data, source=source))

    def write(self, kind: Kind, conformed: Conformed) -> WriteResult:
        """Write validated rows, skipping keys already stored, and quarantine rejections."""
        kind = kind_of(kind)
        return write_rows(self.layout, kind, self.schema(kind), conformed, self._keys)

    def compact(self, *, wait: float = COMPACTION_WAIT_SECONDS) -> CompactionResult:
        """Merge each partition's files into one, dropping duplicate keys.

        Safe against a crash at any point: a journal records each partition's swap,
        and the next write completes it. A swap waits for open readers (up to
        ``wait`` seconds, then for the next write), so no reader loses a file.
        """
        self.require()
        try:
            return compact(self.layout, self._schemas, wait=wait)
        finally:
            self._keys.clear()  # the files the keys were read from may be gone
