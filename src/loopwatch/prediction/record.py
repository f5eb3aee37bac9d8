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
# one C call an element (``map``) rather than a comprehension's bytecode
_FEATURES, _ID, _SCORE, _ROUTE = (attrgetter("features"), attrgetter("decision_id"),
                                  attrgetter("score"), attrgetter("route"))
_LATENCY, _CPU, _HOLDOUT, _HOLDOUT_P, _RULE = (
    attrgetter("latency_ms"), attrgetter("cpu_ms"), attrgetter("holdout"),
    attrgetter("holdout_probability"), attrgetter("rule"))
_AT, _INPUTS = attrgetter("at"), attrgetter("inputs")


def _times(steps: Mapping[str, float], memo: dict[float, str] | None = None) -> str:
    """A flat ``{step: ms}`` as JSON; step names are identifiers with dots, values finite floats
    (a third of ``json.dumps``'s time, which matters once per decision).

    ``memo`` keeps the text of each float already written: a batch's rows share their model
    call's time, and a float's ``repr`` is most of this function's cost.
    """
    if memo is None:
        return "{" + ",".join([f'"{k}":{v!r}' for k, v in steps.items()]) + "}"
    parts = []
    for k, v in steps.items():
        text = memo.get(v) if type(v) is float and v else None  # 0.0 == -0.0, 1 == 1.0: not memoized
        if text is None:
            text = repr(v)
            if type(v) is float and v:
                memo[v] = text
        parts.append(f'"{k}":{text}')
    return "{" + ",".join(parts) + "}"


def _rounded(value: float, digits: int) -> float:
    """``value`` to ``digits`` decimals, by scaling: five times cheaper than ``round(value, digits)``
    (which rounds through the decimal digits) and the same to within the last digit kept."""
    scale = 10.0 ** digits
    try:
        return round(value * scale) / scale
    except (OverflowError, ValueError):  # not finite: as it is
        return value


def _rounded_all(values: list[float], digits: int) -> list[float]:
    """:func:`_rounded` of each value, in one comprehension (the batch path)."""
    scale = 10.0 ** digits
    try:
        return [round(v * scale) / scale for v in values]
    except (OverflowError, ValueError):
        return [_rounded(v, digits) for v in values]


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
            row[self.latency] = _rounded(decision.latency_ms, 4)
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
            row[s.cpu_ms] = _rounded(decision.cpu_ms, 6)
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
        out = _feature_columns(list(map(_FEATURES, decisions)))
        out[self.id] = list(map(_ID, decisions))
        out[self.time] = list(map(_AT, items))
        inputs = list(map(_INPUTS, items))
        for name in self.cohorts:
            out[name] = [i.get(name) for i in inputs]
        out[self.score] = list(map(_SCORE, decisions))
        for name, field in self.optional:
            out[name] = list(map(attrgetter(field), decisions))
        if self.latency:
            out[self.latency] = _rounded_all(list(map(_LATENCY, decisions)), 4)
        if self.source:
            source = self.source
            out[source] = [i.get(source) for i in inputs]
        s = self.serving
        if s is not None:
            memo: dict[float, str] = {}
            out[s.route] = list(map(_ROUTE, decisions))
            out[s.batch_rows] = [d.batch_rows or None for d in decisions]
            out[s.steps] = [_steps(d.steps_ms, ms, memo) for d, ms in zip(decisions, shadow_ms, strict=True)]
            out[s.cpu_ms] = _rounded_all(list(map(_CPU, decisions)), 6)
            out[s.fallbacks] = [_dumps([f.to_dict() for f in d.fallbacks]) if d.fallbacks else None
                                for d in decisions]
            out[s.flags] = [_dumps(list(d.flags)) if d.flags else None for d in decisions]
            out[s.shadow_score] = [score for score, _ in shadows]
            out[s.shadow_version] = [version for _, version in shadows]
            out[s.holdout] = list(map(_HOLDOUT, decisions))
            out[s.holdout_probability] = list(map(_HOLDOUT_P, decisions))
            out[s.rule] = list(map(_RULE, decisions))
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


def _steps(steps: Mapping[str, float], shadow_ms: float | None, memo: dict[float, str]) -> str | None:
    if shadow_ms is not None:
        steps = {**steps, "shadow": shadow_ms}
    return _times(steps, memo) if steps else None
