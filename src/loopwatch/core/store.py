"""What the loops need of a store, declared here and implemented in ``loopwatch.storage``.

The prediction loop writes rows through a :class:`RowSink`; the monitoring and
evaluation loops will read through the same store. Declaring the protocol in
``core`` keeps the loops free of any one storage engine.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal, Protocol

from loopwatch.core.schema import Conformed, TableSchema

__all__ = ["Kind", "RowSink", "WriteResult"]

Kind = Literal["decisions", "outcomes"]


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
