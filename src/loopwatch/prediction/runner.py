"""One batch of prepared rows to decisions: who acts, scoring with fallbacks, flags, rules, actions.

For each row the acting model is chosen in this order: the holdout arm keeps the
model's score but lets the baseline policy act; a ``baseline`` mitigation sends the
row to the baseline model; the canary arm to the challenger; a ``rollback`` to the
named version; a cascade's cheap model takes the rows it is confident about; the
rest go to the model. Each model is called once for its rows (bisecting on
failure); a row its model fails is scored by the baseline model, and a row no model
can score gets the failure action. Then post-processing, the review thresholds of
mitigations (not on the holdout arm, which measures the unmitigated policy), and
the safety rules, which override everything.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from loopwatch.core.flags import FlagSet
from loopwatch.prediction.assignment import Assignment
from loopwatch.prediction.cascade import Cascade
from loopwatch.prediction.decision import Decision, Fallback, Route, input_hash
from loopwatch.prediction.features import FeatureResult
from loopwatch.prediction.models import Model, Scored, score_rows
from loopwatch.prediction.steps import Actions, SafetyRule

__all__ = ["Pending", "Runner"]

HoldoutPolicy = Callable[[Mapping[str, Any]], str]
PostProcess = Callable[[float, Mapping[str, Any]], float]
Price = Callable[[float, Mapping[str, int]], float]


@dataclass(slots=True)
class Pending:
    """A request's row, prepared on the event loop and waiting for its batch."""

    decision_id: str
    inputs: Mapping[str, Any]
    features: FeatureResult
    flags: FlagSet
    assignment: Assignment
    received: float  # perf_counter at arrival
    at: datetime  # wall time at arrival (the decision's timestamp)
    queued: float = 0.0  # perf_counter when submitted to the batcher


@dataclass(slots=True)
class _Row:
    model: str  # key of the acting model
    route: Route
    score: float | None = None
    version: str | None = None
    error: str | None = None
    flags: list[str] = field(default_factory=list)
    fallbacks: list[Fallback] = field(default_factory=list)
    steps: dict[str, float] = field(default_factory=dict)
    cpu_s: float = 0.0
    batch_rows: int = 0


class Runner:
    """Turns a batch of :class:`Pending` rows into decisions (on the batch thread)."""

    def __init__(self, *, model: Model, actions: Actions, baseline: Model | None,
                 versions: Mapping[str, Model], challenger: Model | None, cascade: Cascade | None,
                 rules: Sequence[SafetyRule], post_process: PostProcess | None,
                 holdout_policy: str | HoldoutPolicy, price: Price) -> None:
        self.models: dict[str, Model] = {"primary": model, **{f"version:{v}": m for v, m in versions.items()}}
        if baseline is not None:
            self.models["baseline"] = baseline
        if challenger is not None:
            self.models["challenger"] = challenger
        if cascade is not None:
            self.models["cheap"] = cascade.cheap
        self.model, self.baseline, self.challenger, self.cascade = model, baseline, challenger, cascade
        self.actions, self.rules, self.post_process = actions, rules, post_process
        self.holdout_policy = holdout_policy
        self.price = price

    # --- who acts -------------------------------------------------------------------

    def _plan(self, item: Pending) -> _Row:
        flags = item.flags
        arm = item.assignment.arm
        if arm == "holdout":
            return _Row("primary", "holdout")
        if flags and flags.baseline is not None and self.baseline is not None:
            return _Row("baseline", "baseline", flags=[flags.baseline.id])
        if arm == "canary" and self.challenger is not None:
            return _Row("challenger", "canary")
        row = _Row("primary", "primary")
        rollback = flags.rollback if flags else None
        if rollback is not None and f"version:{rollback.version}" in self.models:
            row.model = f"version:{rollback.version}"
            row.flags.append(rollback.id)
        if self.cascade is not None:
            row.route = "cheap"  # tentatively: escalated rows go back to their model
        return row

    def _score(self, key: str, indices: list[int], items: Sequence[Pending],
               rows: list[_Row]) -> Scored:
        model = self.models[key]
        scored = score_rows(model, [items[i].features.values for i in indices])
        share = scored.cpu_s / max(1, len(indices))
        step = "model" if key in ("primary", "challenger") or key.startswith("version:") else key
        for offset, i in enumerate(indices):
            rows[i].steps[step] = round(rows[i].steps.get(step, 0.0) + scored.wall_s * 1e3, 4)
            rows[i].cpu_s += share
            rows[i].batch_rows = max(rows[i].batch_rows, len(indices))
            if offset not in scored.errors:
                rows[i].score = float(scored.scores[offset])
                rows[i].version = model.version
        return scored

    # --- the batch ------------------------------------------------------------------

    def run(self, items: Sequence[Pending]) -> list[tuple[Decision, _Row]]:
        started = time.perf_counter()
        rows = [self._plan(item) for item in items]
        for item, row in zip(items, rows, strict=True):
            row.steps["queue"] = round(max(0.0, started - (item.queued or started)) * 1e3, 4)
        if self.cascade is not None:
            cheap = [i for i, r in enumerate(rows) if r.route == "cheap"]
            if cheap:
                scored = self._score("cheap", cheap, items, rows)
                confident = self.cascade.confident(scored.scores)
                for offset, i in enumerate(cheap):
                    if not confident[offset]:
                        rows[i].route, rows[i].score, rows[i].version = "primary", None, None
        groups: dict[str, list[int]] = {}
        for i, row in enumerate(rows):
            if row.score is None:
                groups.setdefault(row.model, []).append(i)
        failed: list[int] = []
        for key, indices in groups.items():
            scored = self._score(key, indices, items, rows)
            for offset, why in scored.errors.items():
                i = indices[offset]
                digest = input_hash(items[i].features.values)
                rows[i].error = f"model_error: {why} (input {digest})"
                failed.append(i)
        retry = [i for i in failed if rows[i].model != "baseline" and self.baseline is not None]
        for i in retry:
            rows[i].fallbacks.append(Fallback(step="model", served="baseline", reason="model_error",
                                              detail=f"input {input_hash(items[i].features.values)}"))
            if rows[i].route != "holdout":
                rows[i].route = "baseline"
        if retry:
            scored = self._score("baseline", retry, items, rows)
            for offset in scored.errors:
                failed.append(retry[offset])
        decisions = []
        for item, row in zip(items, rows, strict=True):
            if row.score is None:
                row.fallbacks.append(Fallback(step="model", served="default", reason="model_error"))
                if row.route != "holdout":
                    row.route = "default"
            decisions.append((self._decide(item, row), row))
        return decisions

    def _decide(self, item: Pending, row: _Row) -> Decision:
        post0, cpu0 = time.perf_counter(), time.thread_time()
        features = item.features
        context = {**item.inputs, **features.values}
        score, threshold = row.score, None
        if score is not None and self.post_process is not None:
            try:
                score = float(self.post_process(score, context))
            except Exception as exc:
                row.fallbacks.append(Fallback(step="post_process", served="default", reason="error",
                                              detail=type(exc).__name__))
        if score is not None and not math.isfinite(score):
            row.fallbacks.append(Fallback(step="post_process", served="default", reason="invalid"))
            score = None
        if row.route == "holdout":
            action, reason = self._holdout_action(item, context, row)
        elif score is None:
            action = self.actions.on_failure
            reason = f"no score ({row.error or 'the model did not answer'}): failure action"
        else:
            action, threshold = self.actions.decide(score)
            reason = (f"score {score:.4f} >= {action} threshold {threshold}" if threshold is not None
                      else f"score {score:.4f} below every threshold")
            for flag in (item.flags.review_thresholds if item.flags else ()):
                if flag.applies(context):
                    row.flags.append(flag.id)
                    if action == self.actions.default and score >= flag.threshold:
                        action, threshold = self.actions.review, flag.threshold
                        reason = (f"score {score:.4f} >= review threshold {flag.threshold} set for "
                                  f"{flag.cohort or 'all'} by mitigation {flag.id}")
        rule = None
        for candidate in self.rules:
            try:
                holds = bool(candidate.when(context))
            except Exception as exc:
                holds = True
                row.fallbacks.append(Fallback(step=f"rule.{candidate.name}", served="rule",
                                              reason="error", detail=type(exc).__name__))
            if holds:
                rule, action = candidate.name, candidate.action
                reason = f"safety rule {candidate.name}"
                break
        row.steps["post"] = round((time.perf_counter() - post0) * 1e3, 4)
        row.cpu_s += time.thread_time() - cpu0
        cpu_s = features.cpu_s + row.cpu_s
        return Decision(
            decision_id=item.decision_id, action=action, reason=reason, route=row.route,
            score=score, model_version=row.version, threshold=threshold,
            features=features.values,
            fallbacks=tuple(features.fallbacks + row.fallbacks),
            flags=tuple(dict.fromkeys(features.flags + row.flags)), rule=rule, error=row.error,
            holdout=row.route == "holdout",
            holdout_probability=item.assignment.holdout_probability,
            latency_ms=(time.perf_counter() - item.received) * 1e3, cpu_ms=cpu_s * 1e3,
            cost=self.price(cpu_s, features.calls), batch_rows=row.batch_rows,
            steps_ms={**features.steps_ms, **row.steps},
        )

    def _holdout_action(self, item: Pending, context: Mapping[str, Any], row: _Row) -> tuple[str, str]:
        p = item.assignment.holdout_probability
        policy = self.holdout_policy
        if callable(policy):
            try:
                return str(policy(context)), f"holdout ({p:.2%}): baseline policy"
            except Exception as exc:
                row.fallbacks.append(Fallback(step="holdout_policy", served="default", reason="error",
                                              detail=type(exc).__name__))
        elif policy == "baseline" and self.baseline is not None:
            scored = score_rows(self.baseline, [item.features.values])
            if not scored.errors:
                action, _ = self.actions.decide(float(scored.scores[0]))
                return action, f"holdout ({p:.2%}): baseline model"
        return self.actions.default, f"holdout ({p:.2%}): default action"

    # --- after the decisions are out --------------------------------------------------

    def shadow(self, items: Sequence[Pending], decided: Sequence[tuple[Decision, _Row]]
               ) -> list[tuple[float | None, str | None]]:
        """The other model's score for each row: the challenger's, or the model's on canary rows."""
        out: list[tuple[float | None, str | None]] = [(None, None)] * len(items)
        if self.challenger is None:
            return out
        for key, wanted in (("challenger", [i for i, (d, _) in enumerate(decided) if d.route != "canary"]),
                            ("primary", [i for i, (d, _) in enumerate(decided) if d.route == "canary"])):
            if not wanted:
                continue
            wall0 = time.perf_counter()
            scored = score_rows(self.models[key], [items[i].features.values for i in wanted])
            ms = round((time.perf_counter() - wall0) * 1e3, 4)
            for offset, i in enumerate(wanted):
                decided[i][1].steps["shadow"] = ms
                if offset not in scored.errors:
                    out[i] = (float(scored.scores[offset]), self.models[key].version)
        return out
