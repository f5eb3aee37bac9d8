"""Reading quarantine: the rows that did not land, where they came from and why.

Every entry point sends a rejected row here with its reason (the column and the
value), its source (a file, ``python``, the logger) and its position in that source
(``line 17`` of a text file, ``row 4`` of a table). :func:`quarantined` lists them,
newest first, filtered by when they arrived and by the words of their reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loopwatch.core.store import DecisionSource
from loopwatch.core.window import Window

__all__ = ["Quarantined", "QuarantinedRow", "quarantined"]


@dataclass(frozen=True)
class QuarantinedRow:
    """One rejected row: when it arrived, what it was meant to be, from where, and why."""

    received_at: datetime
    kind: str
    source: str
    position: str | None
    reason: str
    row: str

    def to_dict(self) -> dict[str, Any]:
        return {"received_at": self.received_at.isoformat(), "kind": self.kind, "source": self.source,
                "position": self.position, "reason": self.reason, "row": self.row}


@dataclass(frozen=True)
class Quarantined:
    """The rows listed (at most the limit asked for) and how many matched in all."""

    rows: tuple[QuarantinedRow, ...]
    total: int


def quarantined(store: DecisionSource, *, start: datetime | None = None, end: datetime | None = None,
                reason: str | None = None, limit: int | None = None) -> Quarantined:
    """Rows rejected in ``[start, end)`` (by arrival), whose reason contains ``reason``
    (case-insensitive), newest first; at most ``limit`` of them.

    Examples
    --------
    >>> import tempfile
    >>> import pyarrow as pa
    >>> from loopwatch.core.spec import spec_from_mapping
    >>> from loopwatch.storage.ingest import ingest_table
    >>> from loopwatch.storage.parquet_store import ParquetStore
    >>> spec = spec_from_mapping({"model": "m", "features": [{"name": "x", "dtype": "numeric"}]})
    >>> store = ParquetStore(tempfile.mkdtemp(), spec=spec)
    >>> rows = [{"decision_id": "a", "timestamp": "2026-03-01T10:00:00Z", "score": 0.9, "x": 1.0},
    ...         {"decision_id": "b", "timestamp": "2026-03-01T10:00:00Z", "score": 7.5, "x": 1.0}]
    >>> _ = ingest_table(store, "decisions", rows, source="doctest")
    >>> found = quarantined(store, reason="score")
    >>> found.total, found.rows[0].source, found.rows[0].position
    (1, 'doctest', 'row 2')
    """
    import ibis

    if start is not None and end is not None:
        table = store.table("quarantine", between=Window(start, end))
    else:
        table = store.table("quarantine")
        if start is not None:
            table = table.filter(table.received_at >= ibis.literal(start))
        if end is not None:
            table = table.filter(table.received_at < ibis.literal(end))
    if reason:
        table = table.filter(table.reason.lower().contains(reason.lower()))
    if "position" not in table.columns:  # every file written before positions were kept
        table = table.mutate(position=ibis.null("string"))
    total = int(table.count().to_pyarrow().as_py())
    # rows of one write in source order: 'row 10' after 'row 9', not after 'row 1'
    number = table.position.re_extract(r"(\d+)$", 1).nullif("").cast("int64")
    ordered = table.order_by([ibis.desc("received_at"), "source", number])
    if limit is not None:
        ordered = ordered.limit(limit)
    rows = ordered.select("received_at", "kind", "source", "position", "reason", "row").to_pyarrow()
    return Quarantined(tuple(QuarantinedRow(**r) for r in rows.to_pylist()), total)
