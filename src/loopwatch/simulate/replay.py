"""Replay a simulated run into a store day by day, as production would have written it.

Decisions land on the day they were made and outcomes on the day they were
observed, so a check run "as of" a day sees exactly what it would have seen
then: no label from the future.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from loopwatch.simulate.fraud import SimulationResult
from loopwatch.storage.parquet_store import ParquetStore

__all__ = ["replay"]


def _between(table: pa.Table, column: str, start: datetime | None, end: datetime) -> pa.Table:
    times = table.column(column)
    mask = pc.less(times, pa.scalar(end, times.type))
    if start is not None:
        mask = pc.and_(mask, pc.greater_equal(times, pa.scalar(start, times.type)))
    return table.filter(mask)


def replay(result: SimulationResult, store: ParquetStore, *, first: datetime,
           step: timedelta = timedelta(days=1)) -> Iterator[datetime]:
    """Write everything before ``first``, then one ``step`` at a time; yield each "as of" time.

    After each yield the store holds the decisions made and the outcomes observed
    before the time yielded.
    """
    end = datetime.fromisoformat(result.ground_truth["end"])
    d, o = result.spec.columns.timestamp, result.spec.outcomes.observed_at
    previous: datetime | None = None
    now = first
    while now <= end:
        store.ingest("decisions", _between(result.decisions, d, previous, now), source="replay")
        store.ingest("outcomes", _between(result.outcomes, o, previous, now), source="replay")
        yield now
        previous, now = now, now + step
