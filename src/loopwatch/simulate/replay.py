"""Replay a simulated run into a store day by day, as production would have written it.

Decisions land on the day they were made and outcomes on the day they were
observed, so a check run "as of" a day sees exactly what it would have seen
then: no label from the future.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from loopwatch.core.findings import Finding
from loopwatch.core.spec import Spec
from loopwatch.core.window import Window
from loopwatch.simulate.fraud import SimulationResult
from loopwatch.storage.parquet_store import ParquetStore

__all__ = ["Replay", "replay"]


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


class Replay:
    """A simulated run replayed into a Parquet store as production would have written it.

    :meth:`times` writes the decisions made and the outcomes observed before each
    "as of" time it yields (:func:`loopwatch.simulate.replay.replay`);
    :meth:`check` runs the monitoring job's checks as of that time.
    """

    def __init__(self, result: SimulationResult, spec: Spec, root: Path) -> None:
        self.result = result
        self.spec = spec
        self.store = ParquetStore(root, spec=spec)

    def times(self, *, first: datetime, step: timedelta = timedelta(days=1),
              last: datetime | None = None) -> Iterator[datetime]:
        for now in replay(self.result, self.store, first=first, step=step):
            if last is not None and now > last:
                return
            yield now

    def check(self, as_of: datetime, checks: Sequence[str] = ("performance",)) -> list[Finding]:
        from loopwatch.monitoring.job import run_checks  # registers the built-in checks

        return list(run_checks(self.spec, as_of=as_of, store=self.store, checks=list(checks)).findings)

    def mature_window(self, as_of: datetime) -> Window | None:
        """The window the performance check compares as of ``as_of`` (after ``check``)."""
        from loopwatch.monitoring.checks import CheckContext
        from loopwatch.monitoring.performance import PerformanceCheck
        from loopwatch.storage.profile_history import ProfileHistory

        history = ProfileHistory(self.store)
        day = timedelta(days=1)
        context = CheckContext(spec=self.spec, binning=history.binning(), parts=history.parts(),
                               as_of=as_of, current=Window(as_of - day, as_of),
                               trend=Window(as_of - 7 * day, as_of),
                               baseline=Window(as_of - 31 * day, as_of - day),
                               reference=history.reference_window())
        found = PerformanceCheck().mature_window(context)
        return None if found is None else found[0]
