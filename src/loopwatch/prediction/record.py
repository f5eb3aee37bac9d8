"""The row a decision is logged as: the spec's decision columns, and the serving columns.

Serving columns (``spec.serving.columns``) are written only when the spec has a
``serving`` block; structured values (steps, fallback chain, flags) are JSON text,
which every engine stores and reads (``json_extract`` on DuckDB, ``::json`` on
PostgreSQL, ``from_json`` on Spark) and which the validator already takes.

A :class:`RowBuilder` resolves the column names once per spec. The serving path
builds a whole batch as columns (:meth:`RowBuilder.columns`, one list per column,
logged with :meth:`~loopwatch.prediction.logger.DecisionLogger.log_columns`): it runs
on the batch thread and competes with serving for the GIL, and a list comprehension
per column costs a fraction of a dict per decision.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from operator import attrgetter, itemgetter
from typing import Any

from loopwatch.core.spec import Spec
from loopwatch.prediction.decision import Decision
from loopwatch.prediction.runner import Pending

__all__ = ["RowBuilder", "decision_row"]

_dumps = json.JSONEncoder(separators=(",", ":")).encode


def _times(steps: Mapping[str, float]) -> str:
    """A flat ``{step: ms}`` as JSON; step names are identifiers with dots, values finite floats
    (a third of ``json.dumps``'s time, which matters once per decision)."""
    return "{" + ",".join([f'"{k}":{v!r}' for k, v in steps.items()]) + "}"


class RowBuilder:
    """``builder(item, decision, shadow=..., shadow_ms=...)``: the logged row, in the spec's column names.

    ``builder.columns(items, decisions, shadows, shadow_ms)`` builds the same rows for
    a batch, as columns.
    """

    def __init__(self, spec: Spec) -> None:
        c = spec.columns
        self.id, self.time, self.score = c.decision_id, c.timestamp, c.score
        self.cohorts = spec.cohort_only_columns
        self.optional = [(name, field) for name, field in (
            (c.model_version, "model_version"), (c.action, "action"), (c.threshold, "threshold"),
            (c.cost, "cost"), (c.error, "error")) if name]
        self.latency = c.latency
        self.source = c.source
        self.serving = spec.serving.columns if spec.serving is not None else None

    def __call__(self, item: Pending, decision: Decision, *,
                 shadow: tuple[float | None, str | None] = (None, None),
                 shadow_ms: float | None = None) -> dict[str, Any]:
        row: dict[str, Any] = dict(decision.features)
        row[self.id] = decision.decision_id
        row[self.time] = item.at
        inputs = item.inputs
        for name in self.cohorts:
            row[name] = inputs.get(name)
        row[self.score] = decision.score
        for name, field in self.optional:
            row[name] = getattr(decision, field)
        if self.latency:
            row[self.latency] = round(decision.latency_ms, 4)
        if self.source and self.source in inputs:
            row[self.source] = inputs[self.source]
        s = self.serving
        if s is not None:
            steps = decision.steps_ms
            if shadow_ms is not None:
                steps = {**steps, "shadow": shadow_ms}
            row[s.route] = decision.route
            row[s.batch_rows] = decision.batch_rows or None
            row[s.steps] = _times(steps) if steps else None
            row[s.cpu_ms] = round(decision.cpu_ms, 6)
            fallbacks = decision.fallbacks
            row[s.fallbacks] = _dumps([f.to_dict() for f in fallbacks]) if fallbacks else None
            row[s.flags] = _dumps(list(decision.flags)) if decision.flags else None
            row[s.shadow_score], row[s.shadow_version] = shadow
            row[s.holdout] = decision.holdout
            row[s.holdout_probability] = decision.holdout_probability
            row[s.rule] = decision.rule
        return row

    def columns(self, items: Sequence[Pending], decisions: Sequence[Decision],
                shadows: Sequence[tuple[float | None, str | None]],
                shadow_ms: Sequence[float | None]) -> dict[str, list[Any]]:
        """The logged rows of a batch as columns: ``out[name][i]`` is decision ``i``'s value."""
        out = _feature_columns([d.features for d in decisions])
        out[self.id] = [d.decision_id for d in decisions]
        out[self.time] = [item.at for item in items]
        for name in self.cohorts:
            out[name] = [item.inputs.get(name) for item in items]
        out[self.score] = [d.score for d in decisions]
        for name, field in self.optional:
            get = attrgetter(field)
            out[name] = [get(d) for d in decisions]
        if self.latency:
            out[self.latency] = [round(d.latency_ms, 4) for d in decisions]
        if self.source:
            source = self.source
            out[source] = [item.inputs.get(source) for item in items]
        s = self.serving
        if s is not None:
            out[s.route] = [d.route for d in decisions]
            out[s.batch_rows] = [d.batch_rows or None for d in decisions]
            out[s.steps] = [_steps(d.steps_ms, ms) for d, ms in zip(decisions, shadow_ms, strict=True)]
            out[s.cpu_ms] = [round(d.cpu_ms, 6) for d in decisions]
            out[s.fallbacks] = [_dumps([f.to_dict() for f in d.fallbacks]) if d.fallbacks else None
                                for d in decisions]
            out[s.flags] = [_dumps(list(d.flags)) if d.flags else None for d in decisions]
            out[s.shadow_score] = [score for score, _ in shadows]
            out[s.shadow_version] = [version for _, version in shadows]
            out[s.holdout] = [d.holdout for d in decisions]
            out[s.holdout_probability] = [d.holdout_probability for d in decisions]
            out[s.rule] = [d.rule for d in decisions]
        return out


def decision_row(spec: Spec, item: Pending, decision: Decision, *,
                 shadow: tuple[float | None, str | None] = (None, None),
                 shadow_ms: float | None = None) -> dict[str, Any]:
    """The logged row of ``decision`` (made for ``item``) in the spec's column names."""
    return RowBuilder(spec)(item, decision, shadow=shadow, shadow_ms=shadow_ms)


def _feature_columns(features: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Feature values as columns; every decision of a batch usually has the same features."""
    if not features:
        return {}
    names = list(features[0])
    keys = features[0].keys()
    if len(names) > 1 and all(f.keys() == keys for f in features):
        get = itemgetter(*names)  # one C call a decision, and a C transpose
        return dict(zip(names, map(list, zip(*[get(f) for f in features], strict=True)), strict=True))
    union: dict[str, None] = {}
    for f in features:
        union.update(dict.fromkeys(f))
    return {name: [f.get(name) for f in features] for name in union}


def _steps(steps: Mapping[str, float], shadow_ms: float | None) -> str | None:
    if shadow_ms is not None:
        steps = {**steps, "shadow": shadow_ms}
    return _times(steps) if steps else None
