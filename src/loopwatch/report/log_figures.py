"""The figures profiles do not keep: cost per decision and model versions, by one aggregate query.

Profiles hold no cost and no model version, so these come from one
``GROUP BY day, model_version`` pushed down to the engine that holds the
decisions; only one row per day and version comes back, never a decision.
A cost column that is absent or empty is reported as "not logged".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from loopwatch.core.store import DecisionSource
from loopwatch.core.window import Window

__all__ = ["VersionDay", "version_days"]


@dataclass(frozen=True)
class VersionDay:
    """Decisions of one model version on one day, and the cost logged for them."""

    day: datetime
    version: str
    n: int
    cost_n: int
    cost_sum: float

    @property
    def cost_per_decision(self) -> float:
        return self.cost_sum / self.cost_n if self.cost_n else math.nan


def version_days(store: DecisionSource, window: Window) -> list[VersionDay]:
    """Per day of ``window`` and model version: decisions, decisions with a cost, and their summed cost."""
    spec = store.spec
    columns = spec.columns
    table = store.table("decisions", between=window)
    present = set(table.columns)
    day = table[columns.timestamp].date().name("day")
    version = (table[columns.model_version].fill_null("(none)") if columns.model_version
               and columns.model_version in present else None)
    keys = [day] if version is None else [day, version.name("version")]
    metrics = {"n": table.count()}
    if columns.cost and columns.cost in present:
        cost = table[columns.cost].cast("float64")
        metrics["cost_n"] = cost.count()
        metrics["cost_sum"] = cost.sum()
    rows = table.group_by(keys).aggregate(**metrics).to_pyarrow().to_pylist()
    out = []
    for row in rows:
        found = row["day"]
        when = datetime(found.year, found.month, found.day, tzinfo=UTC)
        out.append(VersionDay(when, str(row.get("version", "(none)")), int(row["n"]),
                              int(row.get("cost_n") or 0), float(row.get("cost_sum") or 0.0)))
    return sorted(out, key=lambda v: (v.day, v.version))
