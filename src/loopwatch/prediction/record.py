"""The row a decision is logged as: the spec's decision columns, and the serving columns.

Serving columns (``spec.serving.columns``) are written only when the spec has a
``serving`` block; structured values (steps, fallback chain, flags) are JSON text,
which every engine stores and reads (``json_extract`` on DuckDB, ``::json`` on
PostgreSQL, ``from_json`` on Spark) and which the validator already takes.
"""

from __future__ import annotations

import json
from typing import Any

from loopwatch.core.spec import Spec
from loopwatch.prediction.decision import Decision
from loopwatch.prediction.runner import Pending

__all__ = ["decision_row"]


def _json(value: Any) -> str | None:
    return json.dumps(value, separators=(",", ":"), sort_keys=True) if value else None


def decision_row(spec: Spec, item: Pending, decision: Decision, *,
                 shadow: tuple[float | None, str | None] = (None, None),
                 shadow_ms: float | None = None) -> dict[str, Any]:
    """The logged row of ``decision`` (made for ``item``) in the spec's column names."""
    c = spec.columns
    row: dict[str, Any] = {c.decision_id: decision.decision_id, c.timestamp: item.at}
    for name in spec.cohort_only_columns:
        row[name] = item.inputs.get(name)
    row.update(decision.features)
    row[c.score] = decision.score
    optional: tuple[tuple[str | None, Any], ...] = (
                (c.model_version, decision.model_version), (c.action, decision.action),
                (c.threshold, decision.threshold), (c.latency, round(decision.latency_ms, 4)),
                (c.cost, decision.cost), (c.error, decision.error))
    for column, value in optional:
        if column:
            row[column] = value
    if c.source and c.source in item.inputs:
        row[c.source] = item.inputs[c.source]
    serving = spec.serving
    if serving is not None:
        s = serving.columns
        steps = dict(decision.steps_ms)
        if shadow_ms is not None:
            steps["shadow"] = shadow_ms
        row.update({
            s.route: decision.route, s.batch_rows: decision.batch_rows or None,
            s.steps: _json(steps), s.cpu_ms: round(decision.cpu_ms, 6),
            s.fallbacks: _json([f.to_dict() for f in decision.fallbacks]),
            s.flags: _json(list(decision.flags)), s.shadow_score: shadow[0],
            s.shadow_version: shadow[1], s.holdout: decision.holdout,
            s.holdout_probability: decision.holdout_probability, s.rule: decision.rule,
        })
    return row
