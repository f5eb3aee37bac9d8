"""The notification outbox: written with each alert state change, drained by a delivery worker.

:func:`enqueue` runs inside the transaction that changes an alert (the
control plane calls it), so a notification exists if and only if the change was
committed. :class:`Outbox` is the worker's side: for each sink the oldest
pending notification is the only one that may be sent (a sink hears an alert's
changes in the order they happened, even after an hour of failures); a send is
claimed with a lease first, so two workers never send the same row at once, and a
worker killed mid-send leaves a lease that expires, after which the row is sent
again with the same idempotency key.

Delivery contract: **at least once, in order per sink**; a worker killed between
the receiver's acceptance and marking the row delivered causes exactly one
resend of that one notification, carrying the same idempotency key, which the
receiver drops.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, insert, or_, select, update

from loopwatch.core.alerts import AlertState
from loopwatch.core.findings import Severity
from loopwatch.core.sinks import Sink
from loopwatch.storage.control.records import Transition
from loopwatch.storage.control.tables import alert_findings, alerts, notifications

__all__ = ["CHANGE_SINKS", "EVENTS", "Delivery", "Outbox", "enqueue", "enqueue_change",
           "enqueue_model_change"]

#: The event each alert action is announced as (PagerDuty's event actions).
EVENTS: dict[str, str] = {
    "opened": "trigger", "reopened": "trigger", "escalated": "trigger", "deescalated": "trigger",
    "snooze_expired": "trigger", "unsnoozed": "trigger", "acknowledged": "acknowledge",
    "snoozed": "acknowledge", "resolved": "resolve",
}


def enqueue(con: Connection, transitions: Sequence[Transition], sinks: Sequence[Sink], *,
            now: datetime | None = None) -> int:
    """Write one notification per transition per matching sink, in the caller's transaction.

    A sink matches when the transition's severity reaches its ``min_severity``
    and the alert's owner is among its ``owners`` (if it lists any), or when the
    sink already heard of this alert (its resolve must reach whoever was paged).
    Returns the number of rows written.
    """
    if not sinks or not transitions:
        return 0
    at = now or datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for t in transitions:
        alert_id = int(t.alert_id)
        row = con.execute(select(alerts).where(alerts.c.id == alert_id)).mappings().one()
        told = set(con.execute(select(notifications.c.sink).where(notifications.c.alert_id == alert_id)
                               .distinct()).scalars())
        payload = _payload(con, dict(row), t, at)
        for sink in sinks:
            wanted = t.severity >= sink.threshold and (not sink.owners or row["owner"] in sink.owners)
            if not (wanted or sink.key in told):
                continue
            rows.append(_pending(sink, row["model"], alert_id, EVENTS[t.action], t.action, int(t.severity),
                                 payload, at))
    if rows:
        con.execute(insert(notifications), rows)
    return len(rows)


#: The sink kinds that hear of changes (context, never a page): PagerDuty as a Change Event.
CHANGE_SINKS = ("pagerduty", "webhook", "stdout")


def enqueue_change(con: Connection, alert_id: int, change: dict[str, Any], sinks: Sequence[Sink], *,
                   now: datetime | None = None) -> int:
    """A change of the model that serves (a rollback or a switch to the baseline, set because of
    alert ``alert_id``) for the PagerDuty, webhook and stdout sinks: PagerDuty gets it as a Change
    Event, which never pages. Written in the caller's transaction; returns the rows written."""
    at = now or datetime.now(UTC)
    row = con.execute(select(alerts).where(alerts.c.id == alert_id)).mappings().one()
    transition = Transition(alert_id=str(alert_id), fingerprint=row["fingerprint"], action="mitigation_set",
                            from_state=None, to_state=AlertState(row["state"]),
                            severity=Severity(row["severity"]), reason=str(change.get("why", "")))
    payload = {**_payload(con, dict(row), transition, at), "event": "change", "change": change}
    rows = [_pending(s, row["model"], alert_id, "change", "mitigation_set", row["severity"], payload, at)
            for s in sinks if s.kind in CHANGE_SINKS]
    if rows:
        con.execute(insert(notifications), rows)
    return len(rows)


def enqueue_model_change(con: Connection, model: str, change: dict[str, Any], sinks: Sequence[Sink], *,
                         action: str, reason: str, now: datetime | None = None) -> int:
    """A change of a model version that belongs to no alert (a stage change, a rollout step) for the
    PagerDuty, webhook and stdout sinks, as a change event (PagerDuty: a Change Event, never a page).
    ``change`` holds at least ``summary``, ``who`` and ``why``. Written in the caller's transaction."""
    at = now or datetime.now(UTC)
    payload = {"alert": None, "model": model, "action": action, "event": "change", "reason": reason,
               "at": at.isoformat(), "severity": str(Severity.INFO), "figures": None, "change": change}
    rows = [_pending(s, model, None, "change", action, int(Severity.INFO), payload, at)
            for s in sinks if s.kind in CHANGE_SINKS and (not s.owners or change.get("owner") in s.owners)]
    if rows:
        con.execute(insert(notifications), rows)
    return len(rows)


def _pending(sink: Sink, model: str, alert_id: int | None, event: str, action: str, severity: int,
             payload: dict[str, Any], at: datetime) -> dict[str, Any]:
    """A notification row to send to ``sink``, pending from ``at`` (a fresh idempotency key)."""
    return {"sink": sink.key, "idempotency_key": f"{sink.key}:{uuid.uuid4().hex}", "model": model,
            "alert_id": alert_id, "event": event, "action": action, "severity": severity,
            "payload": payload, "state": "pending", "attempts": 0, "created_at": at, "next_attempt_at": at}


def _payload(con: Connection, row: dict[str, Any], t: Transition, at: datetime) -> dict[str, Any]:
    """What every sink's message is built from: the alert as it is after the change, and its figures."""
    finding = con.execute(
        select(alert_findings.c.finding).where(alert_findings.c.alert_id == row["id"],
                                               alert_findings.c.suppressed.is_(False))
        .order_by(alert_findings.c.run_time.desc(), alert_findings.c.id).limit(1)).scalar()

    def iso(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    figures = None
    if finding:
        figures = {k: finding.get(k) for k in ("statistic", "value", "interval", "threshold", "n",
                                               "impact", "window", "message") if k in finding}
    return {
        "alert": {"id": str(row["id"]), "fingerprint": row["fingerprint"], "model": row["model"],
                  "kind": row["kind"], "severity": str(Severity(row["severity"])), "state": row["state"],
                  "headline": row["headline"], "feature": row["feature"], "cohort": row["cohort"],
                  "entity": row["entity"], "source": row["source"], "metric": row["metric"],
                  "owner": row["owner"], "runbook": row["runbook"], "risk": row["risk"],
                  "onset": iso(row["onset"]),
                  "raised_at": iso(row["raised_at"]), "last_seen": iso(row["last_seen"]),
                  "resolved_at": iso(row["resolved_at"])},
        "action": t.action, "event": EVENTS.get(t.action, "change"), "reason": t.reason, "at": at.isoformat(),
        "severity": str(t.severity), "figures": figures,
    }


@dataclass(frozen=True)
class Delivery:
    """One outbox row: a notification to one sink and where its delivery stands."""

    id: int
    sink: str
    idempotency_key: str
    model: str
    alert_id: str | None  # empty for a change event of no alert
    event: str
    action: str
    severity: Severity
    state: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    payload: dict[str, Any]
    delivered_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON keys; times in ISO 8601; without the payload."""
        return {"id": self.id, "sink": self.sink, "idempotency_key": self.idempotency_key,
                "model": self.model, "alert_id": self.alert_id, "event": self.event, "action": self.action,
                "severity": str(self.severity), "state": self.state, "attempts": self.attempts,
                "created_at": self.created_at.isoformat(),
                "next_attempt_at": self.next_attempt_at.isoformat(),
                "delivered_at": None if self.delivered_at is None else self.delivered_at.isoformat(),
                "last_status": self.last_status, "last_error": self.last_error}


def _delivery(row: Any) -> Delivery:
    return Delivery(id=row["id"], sink=row["sink"], idempotency_key=row["idempotency_key"],
                    model=row["model"],
                    alert_id=None if row["alert_id"] is None else str(row["alert_id"]),
                    event=row["event"], action=row["action"],
                    severity=Severity(row["severity"]), state=row["state"], attempts=row["attempts"],
                    created_at=row["created_at"], next_attempt_at=row["next_attempt_at"],
                    payload=row["payload"], delivered_at=row["delivered_at"], last_status=row["last_status"],
                    last_error=row["last_error"])


class Outbox:
    """The worker's view of the outbox on one control-plane engine.

    Examples
    --------
    >>> from loopwatch.storage.control import ControlPlane
    >>> plane = ControlPlane(url="sqlite://")
    >>> box = Outbox(plane.engine)
    >>> box.head("webhook") is None, box.counts()
    (True, {})
    >>> plane.close()
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def head(self, sink: str) -> Delivery | None:
        """The oldest pending notification of ``sink``: the only one it may be sent next."""
        with self.engine.connect() as con:
            row = con.execute(select(notifications).where(notifications.c.sink == sink,
                                                          notifications.c.state == "pending")
                              .order_by(notifications.c.id).limit(1)).mappings().first()
        return None if row is None else _delivery(row)

    def claim(self, delivery: Delivery, *, now: datetime, lease: timedelta) -> bool:
        """Take ``delivery`` for one send, unless another worker holds it or it is not yet due."""
        with self.engine.begin() as con:
            done = con.execute(update(notifications).where(
                notifications.c.id == delivery.id, notifications.c.state == "pending",
                notifications.c.next_attempt_at <= now,
                or_(notifications.c.lease_until.is_(None), notifications.c.lease_until < now))
                .values(lease_until=now + lease))
            return done.rowcount == 1

    def delivered(self, delivery: Delivery, *, now: datetime, status: int | None) -> None:
        """The receiver accepted it."""
        self._set(delivery, state="delivered", attempts=delivery.attempts + 1, delivered_at=now,
                  last_status=status, last_error=None, lease_until=None)

    def retry(self, delivery: Delivery, *, at: datetime, status: int | None, error: str) -> None:
        """It failed in a way a later attempt may fix: try again at ``at``."""
        self._set(delivery, attempts=delivery.attempts + 1, next_attempt_at=at, last_status=status,
                  last_error=error[:2000], lease_until=None)

    def dead(self, delivery: Delivery, *, status: int | None, error: str) -> None:
        """Give up: the receiver rejected it as malformed, or it is too old (the dead-letter state)."""
        self._set(delivery, state="dead", attempts=delivery.attempts + 1, last_status=status,
                  last_error=error[:2000], lease_until=None)

    def _set(self, delivery: Delivery, **values: Any) -> None:
        with self.engine.begin() as con:
            con.execute(update(notifications).where(notifications.c.id == delivery.id).values(**values))

    def sinks_pending(self) -> list[str]:
        """The sinks with at least one pending notification."""
        with self.engine.connect() as con:
            return sorted(con.execute(select(notifications.c.sink).where(notifications.c.state == "pending")
                                      .distinct()).scalars())

    def counts(self, model: str | None = None) -> dict[tuple[str, str], int]:
        """Notifications per (sink, state)."""
        query = select(notifications.c.sink, notifications.c.state, func.count())
        if model is not None:
            query = query.where(notifications.c.model == model)
        with self.engine.connect() as con:
            rows = con.execute(query.group_by(notifications.c.sink, notifications.c.state)).all()
        return {(r[0], r[1]): int(r[2]) for r in rows}

    def deliveries(self, *, model: str | None = None, states: Sequence[str] | None = None,
                   limit: int = 200) -> list[Delivery]:
        """The latest notifications (newest first), of ``model`` and in ``states`` if given."""
        query = select(notifications)
        conditions = []
        if model is not None:
            conditions.append(notifications.c.model == model)
        if states:
            conditions.append(notifications.c.state.in_(list(states)))
        if conditions:
            query = query.where(and_(*conditions))
        with self.engine.connect() as con:
            rows = con.execute(query.order_by(notifications.c.id.desc()).limit(limit)).mappings().all()
        return [_delivery(r) for r in rows]
