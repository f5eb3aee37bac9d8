"""Alert state across runs, on SQLite and PostgreSQL: open, update, escalate, resolve with hysteresis,
reopen, ack, snooze, manual resolve, idempotent runs and the audit log."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, func, select

from loopwatch.core.alerts import AlertDraft, AlertState
from loopwatch.core.findings import Severity
from loopwatch.errors import InputError
from loopwatch.storage.control import ControlPlane, Transition
from loopwatch.storage.control import database as database_module
from loopwatch.storage.control.tables import alerts, metadata, watch_runs

DAY0 = datetime(2026, 3, 1, tzinfo=UTC)
Draft = Callable[..., AlertDraft]


def day(n: int) -> datetime:
    return DAY0 + timedelta(days=n)


def actions(result: Any) -> list[str]:
    return [t.action for t in result.transitions]


def _head() -> str | None:
    """The newest migration, as Alembic's script directory names it (not pinned here by name)."""
    config = Config()
    config.set_main_option("script_location", str(Path(database_module.__file__).with_name("migrations")))
    return ScriptDirectory.from_config(config).get_current_head()


def test_the_migrated_database_matches_the_tables_the_code_uses(database: str) -> None:
    with ControlPlane(url=database) as plane, plane.engine.connect() as con:
        diff = compare_metadata(MigrationContext.configure(con), metadata)
        assert diff == []
        assert MigrationContext.configure(con).get_current_revision() == _head()
    # opening it again finds it migrated and changes nothing
    with ControlPlane(url=database) as plane:
        assert plane.open_alerts("fraud") == []


def test_a_new_cause_opens_an_alert_with_its_onset_and_the_run_that_raised_it(
        database: str, make_draft: Draft) -> None:
    with ControlPlane(url=database) as plane:
        result = plane.apply(model="fraud", run_time=day(3), drafts=[make_draft(onset=2)])
        assert result.applied and actions(result) == ["opened"]
        (alert,) = plane.open_alerts("fraud")
        assert alert.state is AlertState.OPEN and alert.severity is Severity.PAGE
        assert alert.onset == day(2) and alert.raised_at == day(3) and alert.last_seen == day(3)
        assert alert.owner == "risk-team" and alert.entity == "merchant_category=crypto"
        assert alert.cohorts == ("hour_of_day=0", "hour_of_day=1")
        shown = plane.alert(alert.id)
        assert [f["cohort"] for f in shown.findings] == ["hour_of_day=0", "hour_of_day=1"]
        (entry,) = plane.audit(model="fraud")
        assert (entry.action, entry.from_state, entry.to_state) == ("opened", None, "open")
        assert entry.actor == "watch"
        assert entry.run_time == day(3)


def test_a_cause_seen_again_updates_its_alert_and_severity_moves_both_ways(
        database: str, make_draft: Draft) -> None:
    with ControlPlane(url=database) as plane:
        plane.apply(model="fraud", run_time=day(1), drafts=[make_draft(severity=Severity.WARNING)])
        page = Severity.PAGE
        up = plane.apply(model="fraud", run_time=day(2), drafts=[make_draft(severity=page, onset=1)])
        same = plane.apply(model="fraud", run_time=day(3), drafts=[make_draft(severity=page, onset=2)])
        down = plane.apply(model="fraud", run_time=day(4), drafts=[make_draft(severity=Severity.WARNING)])
        assert actions(up) == ["escalated"] and actions(same) == [] and actions(down) == ["deescalated"]
        (alert,) = plane.alerts(model="fraud", include_resolved=True)
        assert alert.onset == day(0), "the onset is the first window that showed it"
        assert alert.raised_at == day(1) and alert.last_seen == day(4)
        assert alert.severity is Severity.WARNING
        assert plane.seen_runs(alert.id) == [day(1), day(2), day(3), day(4)]


@pytest.mark.parametrize("resolve_after", [1, 2, 3])
def test_an_alert_resolves_after_resolve_after_runs_without_its_cause(
        database: str, make_draft: Draft, resolve_after: int) -> None:
    with ControlPlane(url=database, resolve_after=resolve_after) as plane:
        plane.apply(model="fraud", run_time=day(0), drafts=[make_draft()])
        for n in range(1, resolve_after):
            assert actions(plane.apply(model="fraud", run_time=day(n), drafts=[])) == []
            assert plane.open_alerts("fraud")[0].healthy_runs == n
        last = plane.apply(model="fraud", run_time=day(resolve_after), drafts=[])
        assert actions(last) == ["resolved"]
        assert plane.open_alerts("fraud") == []
        (alert,) = plane.alerts(include_resolved=True)
        assert alert.resolved_at == day(resolve_after) and alert.state is AlertState.RESOLVED


def test_a_subject_that_flaps_every_other_run_keeps_one_open_alert(database: str, make_draft: Draft) -> None:
    with ControlPlane(url=database, resolve_after=2) as plane:
        for n in range(12):
            plane.apply(model="fraud", run_time=day(n), drafts=[make_draft()] if n % 2 == 0 else [])
        every = plane.alerts(include_resolved=True)
        assert len(every) == 1 and every[0].state is AlertState.OPEN
        assert [e.action for e in plane.audit()] == ["opened"]


def test_a_cause_back_soon_after_resolving_reopens_its_alert_later_one_raises_a_new_one(
        database: str, make_draft: Draft) -> None:
    with ControlPlane(url=database, resolve_after=1, reopen_within=timedelta(days=3)) as plane:
        plane.apply(model="fraud", run_time=day(0), drafts=[make_draft()])
        plane.apply(model="fraud", run_time=day(1), drafts=[])  # resolved on day 1
        back = plane.apply(model="fraud", run_time=day(3), drafts=[make_draft(onset=3)])
        assert actions(back) == ["reopened"]
        first = plane.open_alerts("fraud")[0]
        assert first.resolved_at is None and first.raised_at == day(0)
        plane.apply(model="fraud", run_time=day(4), drafts=[])  # resolved on day 4
        later = plane.apply(model="fraud", run_time=day(9), drafts=[make_draft(onset=9)])
        assert actions(later) == ["opened"]
        ids = sorted(int(a.id) for a in plane.alerts(include_resolved=True))
        assert len(ids) == 2 and later.transitions[0].alert_id == str(ids[1])


def test_a_run_applied_twice_or_out_of_order_changes_nothing(database: str, make_draft: Draft) -> None:
    with ControlPlane(url=database, resolve_after=1) as plane:
        plane.apply(model="fraud", run_time=day(5), drafts=[make_draft()])
        again = plane.apply(model="fraud", run_time=day(5), drafts=[make_draft()])
        earlier = plane.apply(model="fraud", run_time=day(4), drafts=[])
        assert not again.applied and not earlier.applied and again.transitions == ()
        assert len(plane.open_alerts("fraud")) == 1 and plane.last_run("fraud") == day(5)
        with plane.engine.connect() as con:
            assert con.execute(select(func.count()).select_from(watch_runs)).scalar_one() == 1
        # another model keeps its own runs
        assert plane.apply(model="churn", run_time=day(4), drafts=[]).applied


def test_a_run_that_did_not_cover_a_family_does_not_count_against_its_alerts(
        database: str, make_draft: Draft) -> None:
    with ControlPlane(url=database, resolve_after=1) as plane:
        plane.apply(model="fraud", run_time=day(0), drafts=[make_draft("coverage"), make_draft("volume",
                                                                                              entity=None)])
        result = plane.apply(model="fraud", run_time=day(1), drafts=[], kinds=["volume"])
        assert actions(result) == ["resolved"]
        (left,) = plane.open_alerts("fraud")
        assert left.kind == "coverage" and left.healthy_runs == 0


def test_two_drafts_of_one_cause_in_one_run_are_one_alert(database: str, make_draft: Draft) -> None:
    with ControlPlane(url=database) as plane:
        result = plane.apply(model="fraud", run_time=day(2), drafts=[
            make_draft(severity=Severity.WARNING, onset=1), make_draft(severity=Severity.PAGE, onset=2)])
        (alert,) = plane.open_alerts("fraud")
        assert actions(result) == ["opened"] and alert.severity is Severity.PAGE and alert.onset == day(1)
        assert len(plane.alert(alert.id).findings) == 4


def test_ack_snooze_and_resolve_by_hand_are_audited_with_who_and_why(
        database: str, make_draft: Draft, audit_chain_breaks: Callable[[list[Any]], list[str]]) -> None:
    with ControlPlane(url=database, resolve_after=3) as plane:
        plane.apply(model="fraud", run_time=day(0), drafts=[make_draft()])
        alert_id = plane.open_alerts("fraud")[0].id
        acked = plane.acknowledge(alert_id, actor="ana", reason="looking at the scoring path", at=day(0))
        assert acked.state is AlertState.ACKNOWLEDGED and acked.acknowledged_by == "ana"
        snoozed = plane.snooze(alert_id, until=day(2) + timedelta(hours=1), actor="ana",
                               reason="fix deploys tomorrow", at=day(0) + timedelta(hours=2))
        assert snoozed.state is AlertState.SNOOZED
        # still snoozed on day 2 (before the hour), open again on day 3 when the cause persists
        assert actions(plane.apply(model="fraud", run_time=day(2), drafts=[make_draft()])) == []
        expired = plane.apply(model="fraud", run_time=day(3), drafts=[make_draft()])
        assert actions(expired) == ["snooze_expired"]
        assert plane.open_alerts("fraud")[0].state is AlertState.OPEN
        resolved = plane.resolve(alert_id, actor="ben", reason="category added to scoring", at=day(3))
        assert resolved.state is AlertState.RESOLVED and resolved.resolved_at == day(3)
        # the cause is still there the next day: the same alert reopens
        assert actions(plane.apply(model="fraud", run_time=day(4), drafts=[make_draft()])) == ["reopened"]
        log = plane.audit(alert_id=alert_id)
        assert [(e.action, e.actor) for e in log] == [
            ("opened", "watch"), ("acknowledged", "ana"), ("snoozed", "ana"), ("snooze_expired", "watch"),
            ("resolved", "ben"), ("reopened", "watch")]
        assert log[2].reason == "fix deploys tomorrow" and log[4].reason == "category added to scoring"
        assert audit_chain_breaks(log) == []


def test_acting_on_a_missing_or_resolved_alert_or_snoozing_into_the_past_is_an_input_error(
        database: str, make_draft: Draft) -> None:
    with ControlPlane(url=database, resolve_after=1) as plane:
        plane.apply(model="fraud", run_time=day(0), drafts=[make_draft()])
        alert_id = plane.open_alerts("fraud")[0].id
        with pytest.raises(InputError, match="not in the future"):
            plane.snooze(alert_id, until=day(0), actor="ana", at=day(1))
        with pytest.raises(InputError, match="alert 999: no such alert"):
            plane.acknowledge("999", actor="ana")
        with pytest.raises(InputError, match="expected a number"):
            plane.acknowledge("abc", actor="ana")
        with pytest.raises(InputError, match="must be named"):
            plane.acknowledge(alert_id, actor=" ")
        plane.apply(model="fraud", run_time=day(1), drafts=[])
        with pytest.raises(InputError, match="is resolved"):
            plane.acknowledge(alert_id, actor="ana")
        assert [e.action for e in plane.audit()] == ["opened", "resolved"]


def test_work_done_within_the_transaction_rolls_back_with_it(database: str, make_draft: Draft) -> None:
    seen: list[Sequence[Transition]] = []

    def outbox(con: Connection, transitions: Sequence[Transition]) -> None:
        assert con.execute(select(func.count()).select_from(alerts)).scalar_one() == 1  # inside it
        seen.append(transitions)
        raise RuntimeError("the outbox could not be written")

    with ControlPlane(url=database) as plane:
        with pytest.raises(RuntimeError, match="outbox"):
            plane.apply(model="fraud", run_time=day(0), drafts=[make_draft()], within=outbox)
        assert [t.action for t in seen[0]] == ["opened"]
        assert list(plane.alerts(include_resolved=True)) == [] and plane.audit() == []
        assert plane.last_run("fraud") is None
        assert plane.apply(model="fraud", run_time=day(0), drafts=[make_draft()]).applied


def test_times_without_a_zone_are_refused(database: str, make_draft: Draft) -> None:
    with ControlPlane(url=database) as plane, pytest.raises(InputError, match="time zone"):
        plane.apply(model="fraud", run_time=datetime(2026, 3, 1), drafts=[make_draft()])
