"""The deploy gate: what a registered model version must pass before it serves (``loopwatch gate``).

Checks, each ``pass``, ``fail`` or ``not_evaluated`` (never counted as a pass):

``schema``
    the version's features are features of the spec, of a matching dtype: a
    feature the model encodes as a category is categorical in the spec, and
    every categorical feature it takes has its categories (else its values
    would reach the model as missing); the features registered with the version
    are the artifact's.
``canary_inputs``
    each of the spec's ``gate.canary_inputs`` scores without an error, to a
    number in [0, 1] (failures isolated row by row: :func:`~loopwatch.prediction.models.score_rows`).
``cases``
    each synthetic case gets what it expects (``flagged``, ``approved`` or an
    action); a failing case is named with its score.
``latency``
    the ``quantile`` of ``repeats`` one-row scoring calls is within ``budget_ms``
    (measured on this machine now; the load average is reported with it).
``calibration``
    on the matured window, the calibration slope and intercept (with intervals)
    are not shown outside the spec's ranges; too few labelled positives is
    ``not_evaluated``.
``champion_challenger``
    the spec's champion/challenger rule (:mod:`loopwatch.learning.champion`) against
    the production version, both replaying the logged decisions of the matured
    window: ``blocked`` (a cohort shown worse beyond the margin) and ``not_superior``
    fail, naming the cohorts; labels not matured or too few are ``not_evaluated``.

The gate passes when no check fails (``strict``: and every check was evaluated).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np

from loopwatch.core.gate_spec import ActionExpectation, Calibration, ChampionWindow, Gate, Latency
from loopwatch.core.registry import ModelVersion
from loopwatch.core.spec import Spec, parse_duration
from loopwatch.core.store import DecisionSource
from loopwatch.core.window import Window
from loopwatch.errors import InputError
from loopwatch.evaluation.bins import ScoreBins
from loopwatch.evaluation.calibration import calibration_intercept, calibration_slope
from loopwatch.learning.champion import compare_replay
from loopwatch.prediction.models import Model, score_rows
from loopwatch.storage.views import join_outcomes, latest_outcomes

__all__ = ["GateCheck", "GateReport", "run_gate"]

Status = Literal["pass", "fail", "not_evaluated"]
Bools = np.ndarray[Any, np.dtype[np.bool_]]
Floats = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True)
class GateCheck:
    """One check of the gate: its status, a one-line summary, and each failing item named."""

    name: str
    status: Status
    summary: str
    failures: tuple[str, ...] = ()
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "summary": self.summary,
                "failures": list(self.failures), "detail": dict(self.detail)}


@dataclass(frozen=True)
class GateReport:
    """The gate's verdict on one model version."""

    model: str
    version: str
    checks: tuple[GateCheck, ...]
    strict: bool = False
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def failed(self) -> tuple[GateCheck, ...]:
        return tuple(c for c in self.checks if c.status == "fail")

    @property
    def not_evaluated(self) -> tuple[GateCheck, ...]:
        return tuple(c for c in self.checks if c.status == "not_evaluated")

    @property
    def passed(self) -> bool:
        return not self.failed and not (self.strict and self.not_evaluated)

    @property
    def failing_cases(self) -> tuple[str, ...]:
        """The names of the synthetic cases that did not get what they expect."""
        for c in self.checks:
            if c.name == "cases":
                return tuple(c.detail.get("failing", ()))
        return ()

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "version": self.version, "passed": self.passed, "strict": self.strict,
                "at": self.at.isoformat(), "failing_cases": list(self.failing_cases),
                "not_evaluated": [c.name for c in self.not_evaluated],
                "checks": [c.to_dict() for c in self.checks]}


def run_gate(spec: Spec, version: ModelVersion, model: Model, *, source: DecisionSource | None = None,
             production: tuple[ModelVersion, Model] | None = None, now: datetime | None = None,
             strict: bool = False) -> GateReport:
    """Run every check of the spec's ``gate:`` block on ``model`` (the artifact of ``version``).

    ``source`` holds the logged decisions the calibration and champion/challenger checks score;
    ``production`` is the version in production and its model (the champion).
    """
    gate = spec.gate or Gate()
    at = now or datetime.now(UTC)
    checks = [schema_check(spec, version, model), canary_check(gate, model), case_check(spec, gate, model),
              latency_check(gate, model), calibration_check(spec, gate.calibration, model, source, at),
              champion_check(spec, gate.champion, version, model, production, source, at)]
    return GateReport(model=version.model, version=version.version, checks=tuple(checks), strict=strict,
                      at=at)


def schema_check(spec: Spec, version: ModelVersion, model: Model) -> GateCheck:
    """The version's features against the spec's, with dtypes."""
    dtypes = {f.name: f.dtype for f in spec.features}
    problems: list[str] = []
    for name in model.features:
        if name not in dtypes:
            problems.append(f"{name}: the model takes it; the spec has no such feature")
    categories = model.categories or {}
    for name in categories:
        if dtypes.get(name, "categorical") != "categorical":
            problems.append(f"{name}: the model reads it as a category; the spec says {dtypes[name]}")
    if model.encode is None:
        for name in model.features:
            if dtypes.get(name) == "categorical" and name not in categories:
                problems.append(f"{name}: categorical in the spec, but the model has no categories for it "
                                "(every value would reach it as missing)")
    if version.features and set(version.features) != set(model.features):
        only_registered = sorted(set(version.features) - set(model.features))
        only_model = sorted(set(model.features) - set(version.features))
        problems.append(f"the registered features differ from the artifact's (registered only: "
                        f"{only_registered}; artifact only: {only_model})")
    if problems:
        return GateCheck("schema", "fail", f"{len(problems)} schema problem(s)", tuple(problems))
    return GateCheck("schema", "pass", f"{len(model.features)} features, each a feature of the spec "
                     "with a matching dtype", detail={"features": list(model.features)})


def canary_check(gate: Gate, model: Model) -> GateCheck:
    """Each canary input scores without an error, to a number in [0, 1]."""
    rows = list(gate.canary_inputs)
    if not rows:
        return GateCheck("canary_inputs", "not_evaluated",
                         "not evaluated: the spec has no gate.canary_inputs")
    scored = score_rows(model, rows)
    failures = tuple(f"canary_inputs[{i}]: {scored.errors[i]}" for i in sorted(scored.errors))
    scores = [None if math.isnan(s) else round(float(s), 6) for s in scored.scores]
    if failures:
        return GateCheck("canary_inputs", "fail", f"{len(failures)} of {len(rows)} canary inputs failed",
                         failures, {"scores": scores})
    return GateCheck("canary_inputs", "pass", f"{len(rows)} canary inputs scored", detail={"scores": scores})


def case_check(spec: Spec, gate: Gate, model: Model) -> GateCheck:
    """Each synthetic case gets what it expects."""
    if not gate.cases:
        return GateCheck("cases", "not_evaluated", "not evaluated: the spec has no gate.cases")
    threshold = gate.threshold if gate.threshold is not None else spec.threshold
    if threshold is None and any(isinstance(c.expect, str) for c in gate.cases):
        raise InputError("gate.threshold: a case expects flagged or approved, but neither gate.threshold "
                         "nor the spec's threshold is set")
    scored = score_rows(model, [c.input for c in gate.cases])
    results: list[dict[str, Any]] = []
    failures: list[str] = []
    failing: list[str] = []
    for i, case in enumerate(gate.cases):
        score = float(scored.scores[i])
        error = scored.errors.get(i)
        if error is not None:
            got, ok = f"error: {error}", False
        elif isinstance(case.expect, ActionExpectation):
            action = gate.action_of(score)
            got, ok = f"score {score:.4g}, action {action}", action == case.expect.action
        else:
            assert threshold is not None
            flagged = score >= threshold
            got = f"score {score:.4g} ({'flagged' if flagged else 'approved'} at threshold {threshold:g})"
            ok = flagged == (case.expect == "flagged")
        results.append({"name": case.name, "expected": case.expected, "got": got, "passed": ok,
                        "score": None if math.isnan(score) else round(score, 6)})
        if not ok:
            failing.append(case.name)
            failures.append(f"case {case.name}: expected {case.expected}; got {got}")
    detail = {"threshold": threshold, "cases": results, "failing": failing}
    if failures:
        return GateCheck("cases", "fail", f"{len(failures)} of {len(gate.cases)} cases failed: "
                         f"{', '.join(failing)}", tuple(failures), detail)
    return GateCheck("cases", "pass", f"{len(gate.cases)} cases passed", detail=detail)


def latency_check(gate: Gate, model: Model) -> GateCheck:
    """The ``quantile`` of one-row scoring times against the budget."""
    budget: Latency | None = gate.latency
    if budget is None:
        return GateCheck("latency", "not_evaluated", "not evaluated: the spec has no gate.latency")
    row = (gate.cases[0].input if gate.cases else gate.canary_inputs[0] if gate.canary_inputs
           else dict.fromkeys(model.features))
    model.score([row])  # warm-up: the first call may load code and fill caches
    times = []
    for _ in range(budget.repeats):
        start = time.perf_counter()
        model.score([row])
        times.append((time.perf_counter() - start) * 1000)
    measured = float(np.quantile(times, budget.quantile))
    load = os.getloadavg()[0]
    detail = {"quantile": budget.quantile, "ms": round(measured, 3),
              "median_ms": round(float(np.median(times)), 3), "budget_ms": budget.budget_ms,
              "repeats": budget.repeats, "load_average_1m": round(load, 2)}
    line = (f"p{budget.quantile * 100:g} of one-row scoring {measured:.2f} ms "
            f"(budget {budget.budget_ms:g} ms, {budget.repeats} calls, load average {load:.1f})")
    if measured > budget.budget_ms:
        return GateCheck("latency", "fail", line, (f"latency: {line}",), detail)
    return GateCheck("latency", "pass", line, detail=detail)


def calibration_check(spec: Spec, rule: Calibration | None, model: Model, source: DecisionSource | None,
                      now: datetime) -> GateCheck:
    """Calibration slope and intercept of the version's scores on the matured window."""
    if rule is None:
        return GateCheck("calibration", "not_evaluated", "not evaluated: the spec has no gate.calibration")
    end = now - parse_duration(rule.label_delay)
    start = end - parse_duration(rule.window)
    span = f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}"
    if source is None:
        return GateCheck("calibration", "not_evaluated", f"not evaluated: no decision source to read {span}")
    rows, labels = matured_rows(spec, source, model.features, start, end, as_of=now, limit=rule.max_rows)
    positives = int(labels.sum())
    if positives < rule.min_positives or positives == labels.size:
        return GateCheck("calibration", "not_evaluated",
                         f"not evaluated: not enough data: {labels.size} labelled decisions with {positives} "
                         f"positives in {span} (needs {rule.min_positives} positives)",
                         detail={"window": span, "n": int(labels.size), "positives": positives})
    scored = score_rows(model, rows)
    ok = ~np.isnan(scored.scores)
    by_label, bins = _binned(scored.scores[ok], labels[ok])
    slope = calibration_slope(by_label, bins=bins)
    intercept = calibration_intercept(by_label, bins=bins)
    detail = {"window": span, "n": int(ok.sum()), "positives": int(labels[ok].sum()),
              "scoring_errors": len(scored.errors), "slope": slope.to_dict(),
              "intercept": intercept.to_dict(),
              "slope_range": list(rule.slope), "intercept_range": list(rule.intercept)}
    failures = []
    for metric, (low, high) in ((slope, rule.slope), (intercept, rule.intercept)):
        if metric.status != "ok":
            return GateCheck("calibration", "not_evaluated",
                             f"not evaluated: {metric.name}: {metric.reason or metric.status}", detail=detail)
        if metric.high < low or metric.low > high:
            failures.append(f"{metric.name} {metric.value:.3f} (95% interval {metric.low:.3f} to "
                            f"{metric.high:.3f}) is outside [{low:g}, {high:g}]")
    line = (f"slope {slope.value:.3f} [{slope.low:.3f}, {slope.high:.3f}], intercept {intercept.value:.3f} "
            f"[{intercept.low:.3f}, {intercept.high:.3f}] on {int(ok.sum())} decisions of {span}")
    if failures:
        return GateCheck("calibration", "fail", line, tuple(failures), detail)
    return GateCheck("calibration", "pass", line, detail=detail)


def champion_check(spec: Spec, rule: ChampionWindow | None, version: ModelVersion, model: Model,
                   production: tuple[ModelVersion, Model] | None, source: DecisionSource | None,
                   now: datetime) -> GateCheck:
    """The champion/challenger rule: the version against the production version on a matured window."""
    name = "champion_challenger"
    if rule is None:
        return GateCheck(name, "not_evaluated", "not evaluated: the spec has no gate.champion")
    if production is None or production[0].version == version.version:
        return GateCheck(name, "not_evaluated",
                         "not evaluated: no other version of the model is in production")
    end = now - parse_duration(rule.label_delay)
    window = Window(end - parse_duration(rule.window), end)
    if source is None:
        return GateCheck(name, "not_evaluated", f"not evaluated: no decision source to read {window}")
    champion = production[1]

    def scorer(m: Model) -> Callable[[Any], Any]:
        def score(rows: Any) -> Any:
            names = [f for f in m.features if f in rows.column_names]
            return score_rows(m, rows.select(names).to_pylist()).scores
        return score

    result = compare_replay(spec, window, challenger=scorer(model), champion=scorer(champion),
                            champion_version=production[0].version, challenger_version=version.version,
                            store=source, as_of=now)
    detail = result.to_dict()
    line = f"against production version {production[0].version} on {window}: {result.verdict}"
    if result.reason:
        line += f" ({result.reason})"
    if result.passed:
        return GateCheck(name, "pass", line, detail=detail)
    if result.verdict in ("blocked", "not_superior"):
        failures = tuple(f"cohort {c}: not shown within the margin of the production version"
                         for c in result.blocked_cohorts) or (line,)
        return GateCheck(name, "fail", line, failures, detail)
    return GateCheck(name, "not_evaluated", f"not evaluated: {line}", detail=detail)


def matured_rows(spec: Spec, source: DecisionSource, features: Sequence[str], start: datetime, end: datetime,
                 *, as_of: datetime, limit: int) -> tuple[list[dict[str, Any]], Bools]:
    """The logged features and labels of the decisions made in ``[start, end)`` whose label was
    observed before ``as_of`` (the latest such label of each: none that arrived later leaks in),
    at most ``limit``: the most recent (by decision time, then id), so two runs read the same rows."""
    con = source.connect()
    outcomes = source.table("outcomes", con=con)
    outcomes = outcomes.filter(outcomes[spec.outcomes.observed_at] < as_of)
    decisions = source.table("decisions", con=con)
    ts, label = spec.columns.timestamp, spec.outcomes.label
    decisions = decisions.filter((decisions[ts] >= start) & (decisions[ts] < end))
    table = join_outcomes(decisions, latest_outcomes(outcomes, spec), spec)
    names = [f for f in features if f in table.columns]
    picked = table.filter(table[label].notnull())
    newest = picked.order_by([picked[ts].desc(), picked[spec.columns.decision_id]])
    data = newest.select(*names, label).limit(limit).to_pyarrow()
    labels = np.asarray(data.column(label).to_numpy(zero_copy_only=False), dtype=np.bool_)
    return data.drop_columns([label]).to_pylist(), labels


def _binned(scores: Floats, labels: Bools) -> tuple[Floats, ScoreBins]:
    """Counts of negatives and positives per distinct score (to 1e-4), and those scores as exact bins."""
    rounded = np.clip(np.round(scores, 4), 0.0, 1.0)
    values, index = np.unique(rounded, return_inverse=True)
    by_label = np.zeros((2, values.size))
    np.add.at(by_label, (labels.astype(np.int64), index), 1.0)
    return by_label, ScoreBins.from_edges(values[1:].tolist(), lowest=float(values[0]))
