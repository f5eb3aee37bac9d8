"""Rollout: a challenger goes shadow → canary shares → production, or is rolled back, by policy.

The state lives in the control plane: the challenger is the model's version in
``shadow`` or ``canary`` (:mod:`loopwatch.storage.control.registry`), and its canary
share is a :class:`~loopwatch.core.flags.Canary` flag, which the prediction loop reads
(``loopwatch.Flags``) and serves by its stable hash assignment. :func:`plan` judges
the current step from the monitors (page-level alerts raised since the step began)
and from the decision log (the challenger's decisions against the model's of the same
step: error rate and rate of positive decisions with 95% intervals of the difference,
Newcombe's; p95 latency), and says ``hold``, ``advance`` or ``rollback``, with why.
:func:`apply` carries it out in one transaction of the control plane: the canary flag
changes, the stage moves (shadow → canary on the first share, canary → production
after the last, canary/shadow → archived on a rollback), each step is audited and
sent to the sinks as a change event (context, never a page). When the challenger was
imported from an MLflow registry, its new stage is then written there as an alias, as
``loopwatch models promote`` does (:mod:`loopwatch.learning.mlflow_aliases`, the URI from
``MLFLOW_TRACKING_URI``); the control plane is the record, so a failed write is told in
``alias`` and the step stands.

Labels of a canary's decisions mature in weeks, a step lasts hours: the rule uses what
the log shows at once; the champion/challenger rule on matured labels belongs to the
gate (``loopwatch gate``) before the rollout starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from loopwatch.core.findings import Severity
from loopwatch.core.flags import Canary
from loopwatch.core.intervals import newcombe
from loopwatch.core.registry import ModelVersion, Stage
from loopwatch.core.spec import Spec, parse_duration
from loopwatch.core.store import DecisionSource
from loopwatch.errors import InputError
from loopwatch.storage.control import ControlFlags, ControlPlane
from loopwatch.storage.control.flags import revert_flag, set_flag
from loopwatch.storage.control.registry import ModelRegistry

__all__ = ["ArmStats", "RolloutPlan", "apply", "plan"]

Verdict = Literal["hold", "advance", "rollback", "idle"]


@dataclass(frozen=True)
class ArmStats:
    """What the log shows of one arm of a step: decisions, errors, positive decisions, p95 latency."""

    decisions: int
    errors: int
    positives: int
    p95_latency_ms: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"decisions": self.decisions, "errors": self.errors, "positives": self.positives,
                "p95_latency_ms": self.p95_latency_ms}


@dataclass(frozen=True)
class RolloutPlan:
    """Where a rollout stands and what the policy does next."""

    model: str
    verdict: Verdict
    reasons: tuple[str, ...]
    challenger: str | None = None
    stage: str | None = None
    share: float = 0.0
    next_share: float | None = None
    step_started: datetime | None = None
    challenger_arm: ArmStats | None = None
    model_arm: ArmStats | None = None
    alerts: tuple[str, ...] = ()
    figures: dict[str, Any] = field(default_factory=dict)
    alias: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "verdict": self.verdict, "reasons": list(self.reasons),
                "challenger": self.challenger, "stage": self.stage, "share": self.share,
                "next_share": self.next_share,
                "step_started": None if self.step_started is None else self.step_started.isoformat(),
                "challenger_arm": None if self.challenger_arm is None else self.challenger_arm.to_dict(),
                "model_arm": None if self.model_arm is None else self.model_arm.to_dict(),
                "alerts": list(self.alerts), "figures": self.figures, "alias": self.alias}


def _challenger(registry: ModelRegistry, model: str) -> ModelVersion | None:
    found = registry.versions(model, stages=["shadow", "canary"])
    return found[-1] if found else None


def _current(flags: ControlFlags, model: str, version: str) -> tuple[str | None, float]:
    for m in reversed(flags.active(model)):
        if isinstance(m, Canary) and m.version == version:
            return m.id, m.share
    return None, 0.0


def _step_start(plane: ControlPlane, v: ModelVersion) -> datetime:
    steps = [e.at for e in plane.audit(model=v.model) if e.detail.get("version") == v.version
             and e.action in ("stage_changed", "rollout_step")]
    return max([v.stage_changed_at, *steps])


def arm_stats(spec: Spec, source: DecisionSource, start: datetime, end: datetime, *,
              shadow_of: str | None = None) -> tuple[ArmStats, ArmStats]:
    """The challenger's and the model's decisions logged in ``[start, end)``.

    On canary, the challenger's arm is the decisions routed ``canary``; the model's
    those routed ``primary``. In shadow (``shadow_of``: the challenger's version) the
    challenger decides nothing: its arm counts the primary decisions that carry its
    shadow score (errors and positives are the model's there, so only the count is read).
    """
    if spec.serving is None:
        raise InputError("a rollout reads the serving columns of the decision log: the spec needs a "
                         "'serving:' block")
    c, s = spec.columns, spec.serving.columns
    table = source.table("decisions")
    if s.route not in table.columns:
        raise InputError(f"the decision log has no {s.route!r} column (serving.columns.route)")
    table = table.filter((table[c.timestamp] >= start) & (table[c.timestamp] < end))

    def stats(rows: Any) -> ArmStats:
        # only the aggregates leave the engine
        measures: dict[str, Any] = {"n": rows.count()}
        if c.error is not None and c.error in rows.columns:
            measures["errors"] = (rows[c.error].notnull() & (rows[c.error] != "")).sum()
        if c.action is not None and c.action in rows.columns:
            measures["positives"] = rows[c.action].isin(list(spec.positive_actions)).sum()
        if c.latency is not None and c.latency in rows.columns:
            measures["p95"] = rows[c.latency].quantile(0.95)
        (r,) = rows.aggregate(**measures).to_pyarrow().to_pylist()
        p95 = r.get("p95")
        return ArmStats(int(r.get("n") or 0), int(r.get("errors") or 0), int(r.get("positives") or 0),
                        None if p95 is None else float(p95))

    primary = table.filter(table[s.route] == "primary")
    if shadow_of is None:
        return stats(table.filter(table[s.route] == "canary")), stats(primary)
    if s.shadow_version not in table.columns:
        return ArmStats(0, 0, 0, None), stats(primary)
    return stats(primary.filter(primary[s.shadow_version] == shadow_of)), stats(primary)


def plan(spec: Spec, plane: ControlPlane, source: DecisionSource, *,
         now: datetime | None = None) -> RolloutPlan:
    """Judge the current step of the spec's model's rollout (changes nothing)."""
    at = now or datetime.now(UTC)
    rule = spec.rollout
    registry = ModelRegistry(plane.engine)
    v = _challenger(registry, spec.model)
    if v is None:
        return RolloutPlan(spec.model, "idle", ("no version in shadow or canary: nothing to roll out "
                                                "(`loopwatch models promote VERSION --to shadow`)",))
    _, share = _current(ControlFlags(plane.engine), spec.model, v.version)
    started = _step_start(plane, v)
    in_shadow = v.stage == "shadow"
    later = [s for s in rule.shares if s > share]
    next_share = later[0] if later else None
    paged = tuple(f"alert #{a.id} ({a.kind}, page): {a.headline}"
                  for a in plane.alerts(model=spec.model, include_resolved=True, raised_from=started)
                  if a.severity >= Severity.PAGE)
    ours, theirs = arm_stats(spec, source, started, at, shadow_of=v.version if in_shadow else None)
    figures: dict[str, Any] = {}
    reasons: list[str] = []
    if paged:
        reasons.append(f"the monitors paged since the step began ({started:%Y-%m-%d %H:%M} UTC): "
                       + "; ".join(paged))
    if not in_shadow and ours.decisions and theirs.decisions:
        low, high = newcombe(ours.errors, ours.decisions, theirs.errors, theirs.decisions)
        figures["error_rate_difference"] = [low, high]
        if low > rule.max_error_rise:
            reasons.append(f"the challenger's error rate {ours.errors / ours.decisions:.2%} is above the "
                           f"model's {theirs.errors / theirs.decisions:.2%} by {low:.2%} to {high:.2%} "
                           f"(95% interval; allowed {rule.max_error_rise:.2%})")
        low, high = newcombe(ours.positives, ours.decisions, theirs.positives, theirs.decisions)
        allowed = rule.max_decision_shift * theirs.positives / theirs.decisions
        figures["positive_rate_difference"] = [low, high]
        if theirs.positives and (low > allowed or high < -allowed):
            reasons.append("the challenger's rate of positive decisions "
                           f"{ours.positives / ours.decisions:.2%} differs from the model's "
                           f"{theirs.positives / theirs.decisions:.2%} by "
                           f"{low:+.2%} to {high:+.2%} (95% interval; allowed ±{allowed:.2%})")
        if ours.p95_latency_ms is not None and theirs.p95_latency_ms:
            ratio = ours.p95_latency_ms / theirs.p95_latency_ms
            figures["p95_latency_ratio"] = ratio
            if ratio > rule.max_latency_ratio and ours.decisions >= 100:
                reasons.append(f"the challenger's p95 latency {ours.p95_latency_ms:.1f} ms is {ratio:.2f}× "
                               f"the model's (allowed {rule.max_latency_ratio:g}×)")

    def made(verdict: Verdict, why: list[str]) -> RolloutPlan:
        return RolloutPlan(spec.model, verdict, tuple(why), challenger=v.version, stage=v.stage, share=share,
                           next_share=next_share, step_started=started, challenger_arm=ours, model_arm=theirs,
                           alerts=paged, figures=figures)

    if reasons:
        return made("rollback", reasons)
    waiting = []
    if at - started < parse_duration(rule.min_duration):
        waiting.append(f"the step began {started:%Y-%m-%d %H:%M} UTC; each step lasts at least "
                       f"{rule.min_duration}")
    if ours.decisions < rule.min_decisions:
        what = "decisions carry its shadow score" if in_shadow else "canary decisions"
        waiting.append(f"{ours.decisions} {what} in this step; {rule.min_decisions} are needed")
    if waiting:
        return made("hold", waiting)
    target = "production" if next_share is None else f"canary at {next_share:.0%}"
    return made("advance", [f"no page since the step began and no guard crossed over {ours.decisions} "
                            f"decisions: on to {target}"])


def apply(spec: Spec, plane: ControlPlane, step: RolloutPlan, *, actor: str,
          mlflow_uri: str | None = None) -> RolloutPlan:
    """Carry out ``step`` (an ``advance`` or a ``rollback``) in one transaction; ``hold`` and ``idle``
    change nothing. A stage that moved is then written to the MLflow registry the version came from
    (``mlflow_uri``, default ``MLFLOW_TRACKING_URI``). Returns ``step``, with ``alias`` saying what
    was written there, or why not."""
    if step.verdict in ("hold", "idle") or step.challenger is None:
        return step
    registry = ModelRegistry(plane.engine, sinks=spec.alerts.sinks)
    flags = ControlFlags(plane.engine)
    version = step.challenger
    flag_id, _ = _current(flags, spec.model, version)
    why = "; ".join(step.reasons)
    # the stage it moves to; None: a step from one canary share to the next
    target: Stage | None = ("archived" if step.verdict == "rollback"
                            else "production" if step.next_share is None
                            else "canary" if step.stage == "shadow" else None)
    with plane.engine.begin() as con:
        if flag_id is not None:
            revert_flag(con, flag_id, actor=actor, reason=f"rollout {step.verdict}: {why}")
        if step.verdict != "rollback" and step.next_share is not None:  # the next canary share's flag
            now = datetime.now(UTC)
            set_flag(con, Canary(id=f"canary-{version}-{now:%Y%m%dT%H%M%S%f}", model=spec.model, who=actor,
                                 why=f"rollout: canary at {step.next_share:.0%}", when=now, version=version,
                                 share=step.next_share))
        if target is None:
            registry.step_within(con, spec.model, version, action="rollout_step", actor=actor,
                                 reason=f"rollout: {why}",
                                 summary=f"version {version}: canary {step.share:.0%} → "
                                         f"{step.next_share:.0%}",
                                 detail=_detail(step))
        else:
            registry.move_within(con, spec.model, version, target, actor=actor,
                                 reason=f"{'rolled back' if target == 'archived' else 'rollout'}: {why}",
                                 detail=_detail(step))
    return step if target is None else _alias(registry, step, mlflow_uri)


def _alias(registry: ModelRegistry, step: RolloutPlan, uri: str | None) -> RolloutPlan:
    """Write the challenger's new stage as an MLflow alias, after the transaction (module docstring)."""
    from loopwatch.learning.mlflow_aliases import write_alias

    assert step.challenger is not None  # apply returned early otherwise
    try:
        done = write_alias(registry.get(step.model, step.challenger), tracking_uri=uri)
    except InputError as exc:
        return replace(step, alias=str(exc))
    return step if done is None else replace(step, alias=done)


def _detail(step: RolloutPlan) -> dict[str, Any]:
    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return {"share": step.share, "next_share": step.next_share,
            "challenger_arm": None if step.challenger_arm is None else step.challenger_arm.to_dict(),
            "model_arm": None if step.model_arm is None else step.model_arm.to_dict(),
            "figures": {k: clean(v) for k, v in step.figures.items()}}
