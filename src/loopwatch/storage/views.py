"""Views every decision source shares: the latest outcome of each decision, and the join.

They are Ibis expressions over a source's ``decisions`` and ``outcomes`` tables, so the
embedded store and a warehouse table get the same semantics from the same code.
"""

from __future__ import annotations

from typing import Any

from loopwatch.core.spec import MODEL_COLUMN, Spec

__all__ = ["join_outcomes", "latest_outcomes"]


def latest_outcomes(outcomes: Any, spec: Spec) -> Any:
    """One outcome per decision: the latest observed (a correction replaces a label)."""
    import ibis

    o = spec.outcomes
    rank = ibis.row_number().over(group_by=outcomes[o.decision_id],
                                  order_by=ibis.desc(outcomes[o.observed_at]))
    return outcomes.mutate(_rank=rank).filter(lambda t: t._rank == 0).drop("_rank", MODEL_COLUMN)


def join_outcomes(decisions: Any, latest: Any, spec: Spec) -> Any:
    """``decisions`` with their latest outcome (null label until it arrives).

    Outcomes may arrive before, with, or long after their decision: the join is done
    at read time, so arrival order does not matter.
    """
    outcomes = latest.rename({"_outcome_id": spec.outcomes.decision_id})
    joined = decisions.left_join(
        outcomes, decisions[spec.columns.decision_id] == outcomes["_outcome_id"])
    return joined.drop("_outcome_id")
