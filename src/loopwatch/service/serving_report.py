"""The serving report behind ``loopwatch tail``: a window of the decision log, its tail and its cost.

This is the edge where the store is wired in: the analyses themselves
(:func:`~loopwatch.prediction.tail.analyse_tail`,
:func:`~loopwatch.prediction.cost.cost_report`) take an Arrow table of decisions.
Only the columns they read are fetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from loopwatch.core.spec import Spec
from loopwatch.core.window import Window
from loopwatch.errors import InputError
from loopwatch.prediction.cost import CostRow, cost_report
from loopwatch.prediction.loop import DecisionLoop
from loopwatch.prediction.tail import TailReport, analyse_tail

__all__ = ["ServingReport", "serving_report"]

#: The window read when none is given: this long, ending at the latest decision.
DEFAULT_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class ServingReport:
    model: str
    start: datetime
    end: datetime
    tail: TailReport
    costs: tuple[CostRow, ...]
    currency: str

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "start": self.start.isoformat(), "end": self.end.isoformat(),
                "tail": self.tail.to_dict(), "costs": [c.to_dict() for c in self.costs],
                "currency": self.currency}


def serving_report(spec: Spec, store: Any, *, start: datetime | None = None, end: datetime | None = None,
                   loop: DecisionLoop | None = None, tail: float = 0.05) -> ServingReport:
    """Tail analysis and cost per decision of ``[start, end)`` (default: the last 7 days logged).

    Raises
    ------
    InputError
        The window holds no decisions, or the log has no serving columns.
    """
    if end is None or start is None:
        table = store.table("decisions")
        latest = table[spec.columns.timestamp].max().to_pyarrow().as_py()
        if latest is None:
            raise InputError(f"{store.location} holds no decisions of {spec.model!r}")
        end = end or latest + timedelta(microseconds=1)
        start = start or end - DEFAULT_WINDOW
    if start >= end:
        raise InputError(f"--from ({start.isoformat()}) must be before --to ({end.isoformat()})")
    table = store.table("decisions", between=Window(start, end))
    wanted = [spec.columns.latency, spec.columns.cost, spec.columns.model_version,
              *spec.cohorts, *(f.name for f in spec.features)]
    if spec.serving is not None:
        s = spec.serving.columns
        wanted += [s.steps, s.batch_rows, s.cpu_ms]
    present = [c for c in dict.fromkeys(wanted) if c and c in table.columns]
    decisions = table.select(present).to_pyarrow()
    if decisions.num_rows == 0:
        raise InputError(f"no decisions of {spec.model!r} between {start.isoformat()} and "
                         f"{end.isoformat()}")
    try:
        report = analyse_tail(decisions, spec, loop=loop, tail=tail)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    costs = tuple(cost_report(decisions, spec)) if spec.columns.cost in decisions.column_names else ()
    currency = spec.serving.cost.currency if spec.serving else "USD"
    return ServingReport(spec.model, start, end, report, costs, currency)
