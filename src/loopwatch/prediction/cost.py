"""Cost per decision: measured work priced by the spec's cost model, and reported by version and cohort.

A decision's cost is the CPU time of the loop's steps (its feature functions, its
share of each batched model call, post-processing) times ``cpu_second``, plus one
``calls[source]`` per call made to a feature source (a cache hit or a fallback
makes none). The HTTP server's own work is not a step and is not priced; shadow
scoring is logged in ``steps`` but not charged to the decision (it is the
experiment's cost, not the decision's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from loopwatch.core.serving import CostModel
from loopwatch.core.spec import Spec

__all__ = ["CostRow", "Pricing", "cost_report"]


class Pricing:
    """``pricing(cpu_s, calls)``: the cost of a decision under ``model``.

    Examples
    --------
    >>> price = Pricing(CostModel(cpu_second=0.5, calls={"geo": 0.01}))
    >>> round(price(0.002, {"geo": 2, "unpriced": 5}), 6)
    0.021
    """

    def __init__(self, model: CostModel) -> None:
        self.model = model

    def __call__(self, cpu_s: float, calls: Mapping[str, int]) -> float:
        total = cpu_s * self.model.cpu_second
        for source, count in calls.items():
            total += count * self.model.calls.get(source, 0.0)
        return total


@dataclass(frozen=True)
class CostRow:
    """Cost of the decisions of one model version in one cohort (``all`` for every decision)."""

    model_version: str | None
    cohort: str
    decisions: int
    cost_per_decision: float
    total_cost: float
    cpu_ms_per_decision: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"model_version": self.model_version, "cohort": self.cohort,
                "decisions": self.decisions, "cost_per_decision": self.cost_per_decision,
                "total_cost": self.total_cost, "cpu_ms_per_decision": self.cpu_ms_per_decision}


def cost_report(decisions: pa.Table, spec: Spec, *, cohorts: Sequence[str] | None = None
                ) -> list[CostRow]:
    """Cost per decision by model version, globally and for each value of each cohort column.

    Raises
    ------
    ValueError
        The spec logs no cost column.
    """
    c = spec.columns
    if not c.cost:
        raise ValueError("the spec logs no cost column (columns.cost is null)")
    names = set(decisions.column_names)
    version = c.model_version if c.model_version in names else None
    cpu = spec.serving.columns.cpu_ms if spec.serving is not None else None
    cpu = cpu if cpu in names else None
    keys = [version] if version else []
    out: list[CostRow] = []
    for column in ("all", *[n for n in (cohorts if cohorts is not None else spec.cohorts) if n in names]):
        by = keys + ([] if column == "all" else [column])
        aggregates = [(c.cost, "sum"), (c.cost, "count")]
        if cpu:
            aggregates.append((cpu, "mean"))
        table = decisions.select(list(dict.fromkeys([*by, c.cost] + ([cpu] if cpu else []))))
        table = table.filter(pc.is_valid(table.column(c.cost)))
        grouped = table.group_by(by, use_threads=False).aggregate(aggregates).to_pylist()
        for g in sorted(grouped, key=lambda g: tuple(str(g.get(k)) for k in by)):
            n = int(g[f"{c.cost}_count"])
            out.append(CostRow(
                model_version=g.get(version) if version else None,
                cohort="all" if column == "all" else f"{column}={g.get(column)}",
                decisions=n, cost_per_decision=g[f"{c.cost}_sum"] / n if n else 0.0,
                total_cost=g[f"{c.cost}_sum"], cpu_ms_per_decision=g.get(f"{cpu}_mean") if cpu else None,
            ))
    return out
