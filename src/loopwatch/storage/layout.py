"""Where the embedded store keeps what: one directory, partitioned by model and UTC day.

::

    decisions/model=<model>/date=<YYYY-MM-DD>/part-<uuid>.parquet   (day of the decision)
    outcomes/model=<model>/date=<YYYY-MM-DD>/part-<uuid>.parquet    (day it was observed)
    quarantine/model=<model>/date=<YYYY-MM-DD>/part-<uuid>.parquet  (day it was rejected)
    profiles/model=<model>/...                                      (profile history)
    _journal/<uuid>.json                                            (compactions in flight)
    .lock                                                           (one writer at a time)
    .compacting                                                     (one compaction at a time)
    .readers                                                        (readers, shared)

Only ``*.parquet`` files are data; a temporary ``.part-*.parquet.tmp`` never is.
This module names paths and lists partitions; it opens no file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

import pyarrow as pa

from loopwatch.core.spec import MODEL_COLUMN
from loopwatch.core.store import TABLES, TableName
from loopwatch.core.window import Window

__all__ = ["QUARANTINE_SCHEMA", "StoreLayout", "data_files", "day_key", "day_start", "partition_day"]

QUARANTINE_SCHEMA = pa.schema([
    pa.field("kind", pa.string()),
    pa.field("source", pa.string()),
    pa.field("reason", pa.string()),
    pa.field("row", pa.string()),
    pa.field("received_at", pa.timestamp("us", tz="UTC")),
    # where in its source the row was (``line 17``, ``row 4``); null in files written before
    pa.field("position", pa.string()),
])
LOCK_FILES = {"writers": ".lock", "compaction": ".compacting", "readers": ".readers"}
#: A committed data file (the store names its own ``part-<uuid>.parquet``); a temporary
#: file ends in ``.tmp`` and is never one.
DATA_FILES = "*.parquet"


def partition_day(path: Path) -> str:
    """The UTC day (``YYYY-MM-DD``) of a data file, from its partition directory."""
    return path.parent.name.removeprefix("date=")


def day_start(day: str) -> datetime:
    """The UTC midnight that starts the day ``YYYY-MM-DD`` (a partition's, or a profile's)."""
    return datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)


def day_key(epoch_day: int) -> str:
    """The day ``YYYY-MM-DD`` that is ``epoch_day`` UTC days after 1970-01-01.

    >>> day_key(0), day_start(day_key(20514)).isoformat()
    ('1970-01-01', '2026-03-02T00:00:00+00:00')
    """
    return datetime.fromtimestamp(epoch_day * 86400, UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class StoreLayout:
    """The paths of one model's tables in the store at ``root``."""

    root: Path
    model: str

    @property
    def journal_dir(self) -> Path:
        return self.root / "_journal"

    def lock(self, which: Literal["writers", "compaction", "readers"]) -> Path:
        """The file of one of the store's locks (see :mod:`loopwatch.storage.locks`)."""
        return self.root / LOCK_FILES[which]

    def table_dir(self, kind: TableName) -> Path:
        return self.root / kind / f"{MODEL_COLUMN}={self.model}"

    def partition(self, kind: TableName, day: date) -> Path:
        return self.table_dir(kind) / f"date={day:%Y-%m-%d}"

    def partitions(self, kind: TableName,
                   between: Window | None = None) -> list[Path]:
        """The day directories of ``kind``, sorted; with ``between=Window(start, end)`` only
        those of the UTC days that ``[start, end)`` touches (no other is listed)."""
        found = sorted(d for d in self.table_dir(kind).glob("date=*") if d.is_dir())
        if between is None:
            return found
        start, end = between.start, between.end
        first = f"date={start:%Y-%m-%d}"
        last = f"date={end - timedelta(microseconds=1):%Y-%m-%d}"
        return [d for d in found if first <= d.name <= last]

    def is_store(self) -> bool:
        """Has a writer ever opened this directory as a store (of any model)?"""
        return self.lock("writers").exists() or bool(self.models())

    def models(self) -> list[str]:
        """The models that have rows of any kind in this store."""
        return sorted({d.name.removeprefix(f"{MODEL_COLUMN}=")
                       for kind in TABLES for d in (self.root / kind).glob(f"{MODEL_COLUMN}=*")})


def data_files(directory: Path) -> list[Path]:
    """The committed data files of one partition directory, sorted."""
    return sorted(directory.glob(DATA_FILES))
