"""What the loops need of a store, declared here and implemented in ``loopwatch.storage``.

Two halves, so that a source which is only ever read (a warehouse table) needs only one:

* :class:`RowSink` — where validated rows go. The prediction loop's logger and the
  ingest functions write through it.
* :class:`DecisionSource` — what the evaluation and monitoring loops read: decisions,
  outcomes and quarantine as engine tables (Ibis), one outcome per decision, a
  version of each day's rows (so profiles of unchanged days are reused), and counts of
  rejected rows. Nothing in it writes.

Declaring both in ``core`` keeps the loops free of any one storage engine; the
embedded store (:class:`loopwatch.storage.parquet_store.ParquetStore`) implements both.
"""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol, cast, get_args

from loopwatch.core.schema import Conformed, TableSchema
from loopwatch.core.spec import Spec
from loopwatch.core.window import Window
from loopwatch.errors import InputError

__all__ = ["KINDS", "TABLES", "DecisionSource", "Kind", "RowSink", "TableName", "WriteResult",
           "kind_of", "table_of"]

#: What rows a store keeps and validates: decisions and their outcomes.
Kind = Literal["decisions", "outcomes"]
#: Every table a source can be read as: the kinds, and the rows that were rejected.
TableName = Literal["decisions", "outcomes", "quarantine"]
KINDS: tuple[Kind, ...] = get_args(Kind)
TABLES: tuple[TableName, ...] = get_args(TableName)


def kind_of(value: object) -> Kind:
    """``value`` if it is a :data:`Kind`; an :class:`InputError` naming the kinds if not.

    Examples
    --------
    >>> kind_of("decisions")
    'decisions'
    >>> kind_of("decision")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    loopwatch.errors.InputError: unknown kind 'decision'; did you mean 'decisions'? expected one of...
    """
    return cast(Kind, _one_of(value, KINDS, "kind"))


def table_of(value: object) -> TableName:
    """``value`` if it is a :data:`TableName`; an :class:`InputError` naming the tables if not."""
    return cast(TableName, _one_of(value, TABLES, "table"))


def _one_of(value: object, known: tuple[str, ...], what: str) -> str:
    if isinstance(value, str) and value in known:
        return value
    close = difflib.get_close_matches(str(value), known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ";"
    raise InputError(f"unknown {what} {value!r}{hint} expected one of: {', '.join(known)}")


@dataclass(frozen=True)
class WriteResult:
    """What one write did: rows written, resent rows ignored, rows sent to quarantine."""

    written: int = 0
    duplicates: int = 0
    quarantined: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    unknown_columns: tuple[str, ...] = ()

    def __add__(self, other: WriteResult) -> WriteResult:
        return WriteResult(
            self.written + other.written,
            self.duplicates + other.duplicates,
            self.quarantined + other.quarantined,
            self.reasons + other.reasons,
            tuple(dict.fromkeys(self.unknown_columns + other.unknown_columns)),
        )


class RowSink(Protocol):
    """Where validated rows go: idempotent on the row key, atomic per file."""

    def schema(self, kind: Kind) -> TableSchema:
        """The validator and stored schema of ``kind``."""
        ...

    def write(self, kind: Kind, conformed: Conformed) -> WriteResult:
        """Write the good rows of ``conformed`` and quarantine its rejections."""
        ...


class DecisionSource(Protocol):
    """Where the loops read decisions and outcomes from; never written through.

    Tables are Ibis expressions on the source's engine, so that every aggregate runs
    where the rows are. ``between=Window(start, end)`` keeps the rows whose time (decision
    time, observed time, or the time a row was rejected) is in ``[start, end)``, and
    should read no more than those days. A source that does not exist is a
    :class:`~loopwatch.errors.StoreError` naming where it was looked for; one that
    exists and holds no rows reads as empty tables.
    """

    @property
    def spec(self) -> Spec:
        """The model whose rows these are."""
        ...

    @property
    def location(self) -> str:
        """Where the rows are, for messages (a directory, a table's URL)."""
        ...

    @property
    def root(self) -> Path:
        """The local directory where derived state of this source (profiles) is kept."""
        ...

    def connect(self) -> Any:
        """A new Ibis connection on which this source's tables can be read and joined."""
        ...

    def table(self, kind: TableName, *, con: Any = None,
              between: Window | None = None) -> Any:
        """``kind`` as an Ibis table (an empty table with the stored columns if none)."""
        ...

    def outcomes_latest(self, *, con: Any = None) -> Any:
        """Outcomes, one per decision: the latest observed."""
        ...

    def joined(self, *, con: Any = None) -> Any:
        """Decisions with their latest outcome (null label until it arrives)."""
        ...

    def count(self, kind: TableName) -> int:
        """Number of rows of ``kind``."""
        ...

    def versions(self, kind: Kind) -> dict[str, str]:
        """Each UTC day (``YYYY-MM-DD``) holding rows of ``kind``, with a token that
        changes whenever that day's rows change (and only then, as far as it can tell)."""
        ...

    def quarantine_counts(self, *, between: Window
                          ) -> dict[tuple[datetime, str], int]:
        """Rows rejected in ``[start, end)``: per UTC day they arrived, and per subject of
        the reason (the text before its first ``:``: a column, or ``line N``)."""
        ...
