"""The outbox on SQLite and PostgreSQL: rows written with the change, routing, leases, states."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from loopwatch.core.alerts import AlertDraft
from loopwatch.core.findings import Severity
from loopwatch.core.sinks import Sink
from loopwatch.storage.control import ControlPlane
from loopwatch.storage.control.outbox import Outbox

DAY0 = datetime(2026, 3, 1, tzinfo=UTC)


def day(n: int) -> datetime:
    return DAY0 + timedelta(days=n)


PAGER = Sink(kind="stdout", name="pager", min_severity="page")
ALL = Sink(kind="stdout", name="all", min_severity="info", owners=("risk-team",))
OTHERS = Sink(kind="stdout", name="others", min_severity="info", owners=("growth",))


def test_rows_follow_severity_owner_and_what_a_sink_already_heard(
        database: str, make_draft: Callable[..., AlertDraft]) -> None:
    with ControlPlane(url=database, sinks=[PAGER, ALL, OTHERS]) as plane:
        plane.apply(model="fraud", run_time=day(1), drafts=[make_draft(severity=Severity.PAGE)])
        plane.apply(model="fraud", run_time=day(2), drafts=[make_draft(severity=Severity.WARNING)])
        plane.apply(model="fraud", run_time=day(3), drafts=[])
        plane.apply(model="fraud", run_time=day(4), drafts=[])
        rows = [(d.sink, d.action) for d in reversed(Outbox(plane.engine).deliveries())]
    # the pager heard the page, so it hears the de-escalation and the resolve of the same alert;
    # the growth team's sink never hears an alert of the risk team
    assert rows == [("pager", "opened"), ("all", "opened"), ("pager", "deescalated"), ("all", "deescalated"),
                    ("pager", "resolved"), ("all", "resolved")]


def test_a_failed_transaction_writes_no_notification(database: str,
                                                     make_draft: Callable[..., AlertDraft]) -> None:
    def fail(*_: object) -> None:
        raise RuntimeError("boom")

    with ControlPlane(url=database, sinks=[ALL]) as plane:
        with pytest.raises(RuntimeError):
            plane.apply(model="fraud", run_time=day(1), drafts=[make_draft()], within=fail)
        assert Outbox(plane.engine).deliveries() == [] and plane.open_alerts("fraud") == []


def test_a_lease_lets_one_worker_send_and_expires_for_the_next(
        database: str, make_draft: Callable[..., AlertDraft]) -> None:
    with ControlPlane(url=database, sinks=[ALL]) as plane:
        plane.apply(model="fraud", run_time=day(1), drafts=[make_draft()])
        box = Outbox(plane.engine)
        head = box.head("all")
        assert head is not None
        now = datetime.now(UTC)
        assert box.claim(head, now=now, lease=timedelta(seconds=60))
        assert not box.claim(head, now=now + timedelta(seconds=30), lease=timedelta(seconds=60))
        assert box.claim(head, now=now + timedelta(seconds=61), lease=timedelta(seconds=60))
        box.retry(head, at=now + timedelta(seconds=120), status=503, error="HTTP 503")
        later = now + timedelta(seconds=90)
        assert not box.claim(head, now=later, lease=timedelta(seconds=60)), "not yet due"
        box.dead(head, status=400, error="HTTP 400")
        assert box.head("all") is None and box.counts() == {("all", "dead"): 1}
