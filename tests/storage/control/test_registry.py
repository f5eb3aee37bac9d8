"""The model registry on SQLite and PostgreSQL: registration, stage rules across versions, the audit
log and the change events each stage change sends to the sinks."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from loopwatch.core.registry import NewVersion
from loopwatch.core.sinks import Sink
from loopwatch.delivery import messages
from loopwatch.errors import InputError
from loopwatch.storage.control import ControlPlane
from loopwatch.storage.control.outbox import Outbox
from loopwatch.storage.control.registry import ModelRegistry, new_version

WEBHOOK = Sink(kind="webhook", name="hook", url="http://127.0.0.1:9/hook", secret_env="X")
PAGER = Sink(kind="pagerduty", name="pd", url="http://127.0.0.1:9/v2/enqueue", routing_key_env="Y")
SLACK = Sink(kind="slack", name="chat", url="http://127.0.0.1:9/slack")
GROWTH = Sink(kind="stdout", name="growth", owners=("growth",))


def version(v: str) -> NewVersion:
    return new_version(model="fraud", version=v, artifact=f"models/fraud-{v}.joblib", owner="risk-team",
                       training_start=datetime(2026, 1, 1, tzinfo=UTC),
                       training_end=datetime(2026, 2, 1, tzinfo=UTC), data_fingerprint=f"sha256:{v}",
                       features=["amount", "merchant_category"], spec_version="7",
                       metrics={"all": {"auc": 0.91}, "region=eu": {"auc": 0.87}})


def test_a_registered_version_keeps_its_lineage_and_metrics(database: str) -> None:
    with ControlPlane(url=database) as plane:
        registry = ModelRegistry(plane.engine)
        registry.register(version("1.0"), actor="ana", reason="weekly retrain")
        got = registry.get("fraud", "1.0")
        assert got.stage == "candidate" and got.registered_by == "ana" and got.owner == "risk-team"
        assert got.training_start == datetime(2026, 1, 1, tzinfo=UTC)
        assert got.features == ("amount", "merchant_category")
        assert got.metrics == {"all": {"auc": 0.91}, "region=eu": {"auc": 0.87}}
        assert json.loads(json.dumps(got.to_dict()))["alias"] == "candidate"
        with pytest.raises(InputError, match="registered already"):
            registry.register(version("1.0"), actor="ana")
        (entry,) = plane.audit(model="fraud")
        assert (entry.action, entry.actor, entry.to_state, entry.reason) == \
            ("model_registered", "ana", "candidate", "weekly retrain")


def test_one_production_and_one_challenger_per_model_every_change_audited(database: str) -> None:
    with ControlPlane(url=database) as plane:
        registry = ModelRegistry(plane.engine)
        for v in ("1", "2", "3"):
            registry.register(version(v), actor="ana")
        registry.move("fraud", "1", "production", actor="ana", reason="first")
        registry.move("fraud", "2", "shadow", actor="ana", reason="shadow it")
        with pytest.raises(InputError, match="already has a challenger: version 2 is in shadow"):
            registry.move("fraud", "3", "canary", actor="ana", reason="too")
        registry.move("fraud", "2", "canary", actor="ben", reason="shadow looked fine")
        registry.move("fraud", "2", "production", actor="ben", reason="canary held")
        assert registry.get("fraud", "1").stage == "archived"
        assert [v.version for v in registry.versions("fraud", stages=["production"])] == ["2"]
        with pytest.raises(InputError, match="archived is final"):
            registry.move("fraud", "1", "production", actor="ana", reason="back")
        with pytest.raises(InputError, match="cannot move to shadow"):
            registry.move("fraud", "2", "shadow", actor="ana", reason="back")
        with pytest.raises(InputError, match="has no version 9"):
            registry.move("fraud", "9", "shadow", actor="ana", reason="x")
        with pytest.raises(InputError, match="needs a reason"):
            registry.move("fraud", "3", "shadow", actor="ana", reason=" ")
        changes = [(e.action, e.detail.get("version"), e.from_state, e.to_state, e.actor)
                   for e in plane.audit(model="fraud") if e.action == "stage_changed"]
        assert changes == [
            ("stage_changed", "1", "candidate", "production", "ana"),
            ("stage_changed", "2", "candidate", "shadow", "ana"),
            ("stage_changed", "2", "shadow", "canary", "ben"),
            ("stage_changed", "1", "production", "archived", "ben"),
            ("stage_changed", "2", "canary", "production", "ben")]
        assert [v.stage for v in registry.versions("fraud")] == ["archived", "production", "candidate"]


def test_a_stage_change_is_a_change_event_for_the_sinks_never_a_page(database: str) -> None:
    with ControlPlane(url=database) as plane:
        registry = ModelRegistry(plane.engine, sinks=[WEBHOOK, PAGER, SLACK, GROWTH])
        registry.register(version("1"), actor="ana")
        registry.move("fraud", "1", "canary", actor="ana", reason="gate passed")
        sent = list(reversed(Outbox(plane.engine).deliveries()))
        # Slack and the other team's sink hear nothing; registering is not announced, the move is
        assert [(d.sink, d.event, d.action, d.alert_id) for d in sent] == [
            ("hook", "change", "stage_changed", None), ("pd", "change", "stage_changed", None)]
        event = messages.pagerduty(sent[1].payload, "key")
        assert "event_action" not in event, "a Change Event has no event action: it cannot page"
        assert event["payload"]["summary"] == "[fraud] version 1: candidate → canary"
        assert event["payload"]["custom_details"]["why"] == "gate passed"
        assert messages.webhook(sent[0].payload, "k")["change"]["to"] == "canary"


def test_a_bad_version_is_an_input_error_naming_the_field() -> None:
    with pytest.raises(InputError, match="version: expected letters"):
        new_version(model="fraud", version="1 0", artifact="a")
    with pytest.raises(InputError, match=r"ends .* before it starts"):
        new_version(model="fraud", version="1", artifact="a", training_start=datetime(2026, 2, 1, tzinfo=UTC),
                    training_end=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(InputError, match=r"metrics\.all\.auc"):
        new_version(model="fraud", version="1", artifact="a", metrics={"all": {"auc": "high"}})
