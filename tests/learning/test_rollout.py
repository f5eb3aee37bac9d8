"""Rollout with a real decision loop, decision log and control plane: the loop serves the canary share a
flag holds; a challenger that behaves like the model goes shadow → canary 20% → 50% → production; a
challenger that flags far more is rolled back at its first canary step; every step audited and sent to
the sinks as a change event."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from loopwatch.cli.main import app
from loopwatch.core.alerts import AlertDraft
from loopwatch.core.findings import Severity
from loopwatch.core.intervals import newcombe
from loopwatch.core.spec import Spec, spec_from_mapping
from loopwatch.delivery import deliver
from loopwatch.learning.rollout import apply, plan
from loopwatch.prediction.decision import DecisionRequest
from loopwatch.prediction.logger import DecisionLogger
from loopwatch.prediction.loop import DecisionLoop
from loopwatch.prediction.models import Model
from loopwatch.prediction.steps import Actions
from loopwatch.storage.control import ControlPlane, Flags
from loopwatch.storage.control.outbox import Outbox
from loopwatch.storage.control.registry import ModelRegistry, new_version
from loopwatch.storage.sources import open_source

ACTIONS = Actions(thresholds={"block": 0.8, "review": 0.5})
LATER = timedelta(hours=2)  # the policy is asked two hours on: each step's min_duration (1h) has passed


def spec_at(tmp_path: Path) -> Spec:
    return spec_from_mapping({
        "model": "fraud", "store": str(tmp_path / "store"), "threshold": 0.5,
        "features": [{"name": "amount", "dtype": "numeric"}],
        "serving": {"salt": "rollout-test"},
        "rollout": {"shares": [0.2, 0.5], "min_decisions": 60, "min_duration": "1h"},
        "alerts": {"sinks": [{"kind": "stdout", "path": str(tmp_path / "changes.jsonl")}]},
    })


def linear(version: str, weight: float) -> Model:
    return Model(predictor=lambda x: np.clip(weight * x[:, 0] / 1000, 0, 1), version=version,
                 features=["amount"])


class Serving:
    """The loop of one phase: a fresh logger (closed at the end, so the log is complete)."""

    def __init__(self, spec: Spec, plane: ControlPlane, challenger: Model) -> None:
        self.spec, self.plane, self.challenger = spec, plane, challenger
        self.flags = Flags(engine=plane.engine, ttl=0)
        self.n = 0

    def decide(self, count: int) -> list[Any]:
        logger = DecisionLogger(self.spec, flush_interval=0.05)
        loop = DecisionLoop(self.spec, model=linear("v2", 1.0), challenger=self.challenger, actions=ACTIONS,
                            logger=logger, flags=self.flags)
        rng = np.random.default_rng(self.n)
        requests = [DecisionRequest({"amount": float(a)}, decision_id=f"d{self.n + i}")
                    for i, a in enumerate(rng.uniform(0, 1000, count))]
        self.n += count
        decisions = loop.decide_now(requests)
        logger.close()
        return list(decisions)


def _postgres() -> Iterator[str]:
    """A fresh database on the PostgreSQL at 127.0.0.1:5432; skipped without one, failed under CI=true."""
    try:
        import psycopg

        admin = psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres",
                                autocommit=True, connect_timeout=5)
    except Exception as exc:
        reason = f"PostgreSQL is not available at postgres@127.0.0.1:5432: {type(exc).__name__}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: the control plane's tests must run on PostgreSQL)",
                        pytrace=False)
        pytest.skip(reason)
    name = f"loopwatch_rollout_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def plane(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ControlPlane]:
    """The control plane, on SQLite (in the store) and on PostgreSQL, with v2 in production and v3 in
    shadow."""
    spec = spec_at(tmp_path)
    urls = _postgres() if request.param == "postgresql" else iter([None])
    url = next(urls)
    with ControlPlane.for_spec(spec, url=url) as plane:
        registry = ModelRegistry(plane.engine, sinks=spec.alerts.sinks)
        for v in ("v2", "v3"):
            registry.register(new_version(model="fraud", version=v, artifact=f"/models/{v}.joblib"),
                              actor="ana")
        registry.move("fraud", "v2", "production", actor="ana", reason="the model in service")
        registry.move("fraud", "v3", "shadow", actor="ana", reason="gate passed")
        yield plane
    for _ in urls:  # drop the PostgreSQL database
        pass


def step(spec: Spec, plane: ControlPlane) -> Any:
    return apply(spec, plane, plan(spec, plane, open_source(spec), now=datetime.now(UTC) + LATER),
                 actor="rollout")


def test_a_challenger_like_the_model_is_rolled_out_step_by_step(tmp_path: Path, plane: ControlPlane) -> None:
    spec = spec_at(tmp_path)
    serving = Serving(spec, plane, linear("v3", 1.02))
    registry = ModelRegistry(plane.engine)

    # shadow: every decision is the model's, carrying the challenger's shadow score
    decisions = serving.decide(120)
    assert {d.route for d in decisions} == {"primary"}
    early = plan(spec, plane, open_source(spec))
    assert early.verdict == "hold" and "at least 1h" in early.reasons[0]
    first = step(spec, plane)
    assert first.verdict == "advance" and first.challenger_arm.decisions == 120, first
    assert registry.get("fraud", "v3").stage == "canary"

    # canary at 20%: the loop reads the flag and serves the challenger to a fifth of the decisions
    decisions = serving.decide(600)
    share = sum(d.route == "canary" for d in decisions) / len(decisions)
    assert 0.14 < share < 0.26 and all(d.model_version == "v3" for d in decisions if d.route == "canary")
    second = step(spec, plane)
    assert (second.verdict, second.share, second.next_share) == ("advance", 0.2, 0.5), second
    decisions = serving.decide(300)
    assert 0.4 < sum(d.route == "canary" for d in decisions) / len(decisions) < 0.6

    third = step(spec, plane)
    assert third.verdict == "advance" and third.next_share is None, third
    assert registry.get("fraud", "v3").stage == "production"
    assert registry.get("fraud", "v2").stage == "archived"
    assert plan(spec, plane, open_source(spec)).verdict == "idle"
    assert {d.route for d in serving.decide(50)} == {"primary"}, "no canary flag is left in force"

    moves = [(e.action, e.from_state, e.to_state) for e in plane.audit(model="fraud")
             if e.detail.get("version") == "v3" and e.action in ("stage_changed", "rollout_step")]
    assert moves == [("stage_changed", "candidate", "shadow"), ("stage_changed", "shadow", "canary"),
                     ("rollout_step", "canary", "canary"), ("stage_changed", "canary", "production")]
    sent = [d for d in reversed(Outbox(plane.engine).deliveries()) if d.event == "change"]
    assert [d.payload["change"]["summary"] for d in sent][-4:] == [
        "version v3: shadow → canary", "version v3: canary 20% → 50%", "version v2: production → archived",
        "version v3: canary → production"]


def test_a_canary_that_flags_far_more_is_rolled_back_at_its_first_step(
        tmp_path: Path, plane: ControlPlane) -> None:
    spec = spec_at(tmp_path)
    serving = Serving(spec, plane, linear("v3", 5.0))  # five times the score: most decisions flagged
    serving.decide(100)
    assert step(spec, plane).verdict == "advance"
    decisions = serving.decide(1000)
    canary = [d for d in decisions if d.route == "canary"]
    primary = [d for d in decisions if d.route == "primary"]
    flagged = [sum(d.action in ("block", "review") for d in arm) for arm in (canary, primary)]
    verdict = step(spec, plane)
    assert verdict.verdict == "rollback", verdict
    assert "rate of positive decisions" in verdict.reasons[0]
    # the figures are the decision log's: the same counts and interval as the loop's own decisions
    assert (verdict.challenger_arm.decisions, verdict.challenger_arm.positives) == (len(canary), flagged[0])
    assert verdict.figures["positive_rate_difference"] == list(
        newcombe(flagged[0], len(canary), flagged[1], len(primary)))
    registry = ModelRegistry(plane.engine)
    assert registry.get("fraud", "v3").stage == "archived"
    assert registry.get("fraud", "v2").stage == "production"
    assert {d.route for d in serving.decide(50)} == {"primary"}
    (last,) = [e for e in plane.audit(model="fraud") if e.to_state == "archived"]
    assert last.reason.startswith("rolled back: the challenger's rate of positive decisions")
    # the delivery worker sends the changes to the sink: the last is the rollback, a change, not a page
    deliver(Outbox(plane.engine), spec.alerts, within=10)
    lines = [json.loads(x) for x in (tmp_path / "changes.jsonl").read_text().splitlines()]
    assert (lines[-1]["event"], lines[-1]["change"]["summary"]) == ("change", "version v3: canary → archived")
    assert lines[-1]["alert"] is None and lines[-1]["severity"] == "info"


@pytest.mark.parametrize("plane", ["sqlite"], indirect=True)
def test_a_page_since_the_step_began_rolls_the_canary_back(tmp_path: Path, plane: ControlPlane) -> None:
    spec = spec_at(tmp_path)
    serving = Serving(spec, plane, linear("v3", 1.0))
    serving.decide(100)
    step(spec, plane)
    serving.decide(300)
    draft = AlertDraft(fingerprint="errors|fraud", model="fraud", kind="system", severity=Severity.PAGE,
                       onset=datetime.now(UTC), headline="errors tripled", findings=())
    plane.apply(model="fraud", run_time=datetime.now(UTC), drafts=[draft])
    verdict = step(spec, plane)
    assert verdict.verdict == "rollback" and "the monitors paged" in verdict.reasons[0]
    assert "errors tripled" in verdict.reasons[0]


@pytest.mark.parametrize("plane", ["sqlite"], indirect=True)
def test_rollout_on_the_command_line_reports_then_takes_the_step(tmp_path: Path, plane: ControlPlane) -> None:
    spec = spec_at(tmp_path)
    path = tmp_path / "loopwatch.yaml"
    path.write_text(spec.to_yaml())
    Serving(spec, plane, linear("v3", 1.0)).decide(100)
    later = (datetime.now(UTC) + LATER).isoformat()
    runner = CliRunner()
    shown = runner.invoke(app, ["rollout", "--spec", str(path), "--as-of", later, "--format", "json"])
    assert shown.exit_code == 0, shown.output
    status = json.loads(shown.output)
    assert (status["verdict"], status["applied"], status["stage"]) == ("advance", False, "shadow")
    assert ModelRegistry(plane.engine).get("fraud", "v3").stage == "shadow", "status changes nothing"
    done = runner.invoke(app, ["rollout", "advance", "--spec", str(path), "--as-of", later, "--by", "ana"])
    assert done.exit_code == 0 and "advanced" in done.output, done.output
    assert ModelRegistry(plane.engine).get("fraud", "v3").stage == "canary"
    (entry,) = [e for e in plane.audit(model="fraud") if e.to_state == "canary"]
    assert entry.actor == "ana" and entry.reason.startswith("rollout: no page since the step began")


@pytest.mark.parametrize("plane", ["sqlite"], indirect=True)
def test_watch_takes_the_step_after_its_run_only_with_rollout_automatic(tmp_path: Path,
                                                                       plane: ControlPlane) -> None:
    from loopwatch.cli.commands.watch import _rollout

    spec = spec_at(tmp_path)
    Serving(spec, plane, linear("v3", 1.0)).decide(100)
    quick = spec.model_copy(update={"rollout": spec.rollout.model_copy(update={"min_duration": "1s"})})
    time.sleep(1.1)
    _rollout(quick, plane, open_source(spec))
    assert ModelRegistry(plane.engine).get("fraud", "v3").stage == "shadow", "automatic is off by default"
    automatic = quick.model_copy(update={"rollout": quick.rollout.model_copy(update={"automatic": True})})
    _rollout(automatic, plane, open_source(spec))
    assert ModelRegistry(plane.engine).get("fraud", "v3").stage == "canary"
    (entry,) = [e for e in plane.audit(model="fraud") if e.to_state == "canary"]
    assert entry.actor == "watch"
