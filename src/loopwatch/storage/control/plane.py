"""The control plane: alert state across runs, kept in one database with an append-only audit log.

:meth:`ControlPlane.apply` takes one run's :class:`~loopwatch.core.alerts.AlertDraft` s
for one model and, in one transaction:

- a fingerprint with no live alert **opens** one (``onset`` from the draft,
  ``raised_at`` the run time), or **reopens** the same alert when it resolved
  less than ``reopen_within`` ago;
- a fingerprint with a live alert **updates** it (``last_seen``, the findings of
  this run, the headline); a change of severity is an ``escalated`` or
  ``deescalated`` transition, never a new alert;
- a live alert the run did not see counts one healthy run; after
  ``resolve_after`` healthy runs in a row it **resolves** (hysteresis: a subject
  that flaps every other day keeps one alert open);
- a snooze whose time has passed ends.

Every transition is written to the audit log in the same transaction. A run is
applied once: applying it (or an earlier run) again changes nothing, so a
scheduler that catches up after downtime, or two schedulers at once, never raise
twice. Writers of one model are serialized by a lock on its ``model_cursor`` row
(``SELECT ... FOR UPDATE`` on PostgreSQL; ``BEGIN IMMEDIATE`` on SQLite).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, or_, select, update

from loopwatch.core.alerts import Alert, AlertDraft, AlertState
from loopwatch.core.automations import AutoMitigation
from loopwatch.core.findings import Kind
from loopwatch.core.sinks import Sink
from loopwatch.core.spec import Spec, parse_duration
from loopwatch.errors import InputError
from loopwatch.storage.control.alert_rows import (
    audit_change,
    latest_findings,
    lock_model,
    open_alert,
    store_findings,
    update_alert,
)
from loopwatch.storage.control.database import control_url, open_engine
from loopwatch.storage.control.flags import auto_mitigate
from loopwatch.storage.control.outbox import enqueue
from loopwatch.storage.control.records import (
    Action,
    AlertList,
    ApplyResult,
    AuditEntry,
    Transition,
    alert_from_row,
)
from loopwatch.storage.control.tables import alert_findings, alerts, audit_log, model_cursor, watch_runs

__all__ = ["ControlPlane"]

_LIVE = (AlertState.OPEN.value, AlertState.ACKNOWLEDGED.value, AlertState.SNOOZED.value)
Within = Callable[[Connection, Sequence[Transition]], None]


class ControlPlane:
    """Alert state and audit log of the models that share one database.

    Parameters
    ----------
    url
        SQLAlchemy URL: ``sqlite:///path`` or ``postgresql+psycopg://...``. The
        database is created and migrated when it is opened.
    resolve_after
        Consecutive runs without a cause before its alert resolves.
    reopen_within
        A cause that comes back this soon after its alert resolved reopens it.
    mitigations, mitigation_interval
        The mitigations a page may set by itself, at most one per model per
        interval (:func:`.flags.auto_mitigate`).
    sinks
        Where notifications go: every transition writes one outbox row per
        matching sink in its own transaction (:mod:`.outbox`).

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> from loopwatch.core.alerts import AlertDraft
    >>> from loopwatch.core.findings import Severity
    >>> plane = ControlPlane(url="sqlite://", resolve_after=2)
    >>> draft = AlertDraft(fingerprint="volume|fraud|-|-|-|-|decisions", model="fraud", kind="volume",
    ...                    severity=Severity.PAGE, onset=datetime(2026, 3, 1, tzinfo=UTC),
    ...                    headline="decisions fell by half", findings=())
    >>> day = lambda d: datetime(2026, 3, d, tzinfo=UTC)
    >>> [t.action for t in plane.apply(model="fraud", run_time=day(2), drafts=[draft]).transitions]
    ['opened']
    >>> plane.apply(model="fraud", run_time=day(3), drafts=[]).transitions
    ()
    >>> [t.action for t in plane.apply(model="fraud", run_time=day(4), drafts=[]).transitions]
    ['resolved']
    >>> plane.close()
    """

    def __init__(self, *, url: str, resolve_after: int = 2,
                 reopen_within: timedelta = timedelta(days=7), sinks: Sequence[Sink] = (),
                 mitigations: Sequence[AutoMitigation] = (), mitigation_interval: str = "1d") -> None:
        if resolve_after < 1:
            raise ValueError(f"resolve_after must be >= 1; got {resolve_after}")
        if reopen_within < timedelta(0):
            raise ValueError(f"reopen_within must not be negative; got {reopen_within}")
        self.resolve_after = resolve_after
        self.reopen_within = reopen_within
        self.sinks = tuple(sinks)
        self.mitigations = tuple(mitigations)
        self.mitigation_interval = mitigation_interval
        parse_duration(mitigation_interval)
        self.engine: Engine = open_engine(url)

    @classmethod
    def for_spec(cls, spec: Spec, *, url: str | None = None, store: str | None = None) -> ControlPlane:
        """The control plane of ``spec``: its database (:func:`.control_url`) and hysteresis."""
        return cls(url=control_url(spec, url=url, store=store), resolve_after=spec.control.resolve_after,
                   reopen_within=parse_duration(spec.control.reopen_within), sinks=spec.alerts.sinks,
                   mitigations=spec.alerts.mitigations, mitigation_interval=spec.alerts.mitigation_interval)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> ControlPlane:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs --------------------------------------------------------------------------------

    def apply(self, *, model: str, run_time: datetime, drafts: Iterable[AlertDraft],
              kinds: Iterable[Kind] | None = None, actor: str = "watch",
              within: Within | None = None) -> ApplyResult:
        """Apply one run's drafts for ``model`` to its alerts, in one transaction.

        ``kinds`` are the check families the run covered (default: all); a live
        alert of another family neither counts a healthy run nor resolves.
        ``within(connection, transitions)`` runs inside the transaction before it
        commits (a notification outbox is written there). A run at or before the
        model's latest applied run changes nothing (``applied=False``).
        """
        _aware(run_time, "run_time")
        covered = None if kinds is None else set(kinds)
        by_fingerprint = _merge([d for d in drafts if d.model == model], model)
        with self.engine.begin() as con:
            last = lock_model(con, model)
            if last is not None and run_time <= last:
                return ApplyResult(model=model, run_time=run_time, applied=False,
                                   alerts=tuple(self._live(con, model)))
            live = {r["fingerprint"]: dict(r) for r in con.execute(
                select(alerts).where(alerts.c.model == model, alerts.c.state.in_(_LIVE))
                .with_for_update()).mappings()}
            out: list[Transition] = []
            for fingerprint, draft in by_fingerprint.items():
                row = (live.pop(fingerprint, None)
                       or self._recently_resolved(con, model, fingerprint, run_time))
                if row is None:
                    out.append(open_alert(con, draft, run_time, actor))
                else:
                    out += update_alert(con, row, draft, run_time, actor)
                store_findings(con, int(out[-1].alert_id) if row is None else row["id"], draft, run_time)
            for row in live.values():
                out += self._unseen(con, row, run_time, actor, covered)
            con.execute(insert(watch_runs).values(
                model=model, run_time=run_time, applied_at=datetime.now(UTC), actor=actor,
                kinds=None if covered is None else sorted(covered), drafts=len(by_fingerprint)))
            con.execute(update(model_cursor).where(model_cursor.c.model == model).values(last_run=run_time))
            enqueue(con, out, self.sinks)
            auto_mitigate(con, out, self.mitigations, run_time=run_time, interval=self.mitigation_interval,
                          actor=actor, sinks=self.sinks)
            if within is not None:
                within(con, out)
            return ApplyResult(model=model, run_time=run_time, applied=True, transitions=tuple(out),
                               alerts=tuple(self._live(con, model)))

    def _recently_resolved(self, con: Connection, model: str, fingerprint: str,
                           run_time: datetime) -> dict[str, Any] | None:
        found = con.execute(
            select(alerts).where(alerts.c.model == model, alerts.c.fingerprint == fingerprint,
                                 alerts.c.state == AlertState.RESOLVED.value,
                                 alerts.c.resolved_at >= run_time - self.reopen_within)
            .order_by(alerts.c.resolved_at.desc()).limit(1).with_for_update()).mappings().first()
        return None if found is None else dict(found)

    def _unseen(self, con: Connection, row: dict[str, Any], run_time: datetime, actor: str,
                covered: set[Kind] | None) -> list[Transition]:
        out: list[Transition] = []
        values: dict[str, Any] = {}
        state = AlertState(row["state"])
        until = row["snoozed_until"]
        if state is AlertState.SNOOZED and until is not None and until <= run_time:
            out.append(audit_change(con, row, "snooze_expired", state, AlertState.OPEN, actor, run_time,
                              f"the snooze ended at {row['snoozed_until']:%Y-%m-%d %H:%M} UTC"))
            values.update(state=AlertState.OPEN.value, snoozed_until=None)
            state = AlertState.OPEN
        if covered is None or row["kind"] in covered:
            healthy = row["healthy_runs"] + 1
            values["healthy_runs"] = healthy
            if healthy >= self.resolve_after:
                out.append(audit_change(con, row, "resolved", state, AlertState.RESOLVED, actor, run_time,
                                  f"not seen in {healthy} consecutive runs"))
                values.update(state=AlertState.RESOLVED.value, resolved_at=run_time, snoozed_until=None)
        if values:
            con.execute(update(alerts).where(alerts.c.id == row["id"]).values(**values))
        return out

    # -- people ------------------------------------------------------------------------------

    def acknowledge(self, alert_id: str, *, actor: str, reason: str = "",
                    at: datetime | None = None) -> Alert:
        """Someone is on it: an open or snoozed alert becomes ``acknowledged``."""
        return self._act(alert_id, "acknowledged", AlertState.ACKNOWLEDGED, actor=actor,
                         reason=reason or "acknowledged", at=at, values={"acknowledged_by": actor,
                                                                         "snoozed_until": None})

    def snooze(self, alert_id: str, *, until: datetime, actor: str, reason: str = "",
               at: datetime | None = None) -> Alert:
        """Hide a live alert until ``until``; the first run after that opens it again if it persists."""
        now = at or datetime.now(UTC)
        _aware(until, "until")
        if until <= now:
            raise InputError(f"snooze until {until.isoformat()}: that is not in the future "
                             f"(now {now.isoformat()})")
        return self._act(alert_id, "snoozed", AlertState.SNOOZED, actor=actor,
                         reason=reason or f"snoozed until {until.isoformat()}", at=now,
                         values={"snoozed_until": until}, detail={"until": until.isoformat()})

    def resolve(self, alert_id: str, *, actor: str, reason: str = "", at: datetime | None = None) -> Alert:
        """Resolve a live alert by hand; if its cause is seen again, the next run reopens it."""
        now = at or datetime.now(UTC)
        return self._act(alert_id, "resolved", AlertState.RESOLVED, actor=actor,
                         reason=reason or "resolved by hand", at=now,
                         values={"resolved_at": now, "snoozed_until": None})

    def _act(self, alert_id: str, action: Action, to: AlertState, *, actor: str, reason: str,
             at: datetime | None, values: dict[str, Any], detail: dict[str, Any] | None = None) -> Alert:
        key = _alert_key(alert_id)
        if not actor.strip():
            raise InputError("who acts on an alert must be named (--by); got an empty name")
        with self.engine.begin() as con:
            row = con.execute(select(alerts).where(alerts.c.id == key).with_for_update()).mappings().first()
            if row is None:
                raise InputError(f"alert {alert_id}: no such alert")
            state = AlertState(row["state"])
            if state is AlertState.RESOLVED:
                raise InputError(f"alert {alert_id} is resolved; only a live alert can be {action}")
            con.execute(update(alerts).where(alerts.c.id == key).values(state=to.value, **values))
            change = audit_change(con, dict(row), action, state, to, actor, None, reason,
                                  at=at, detail=detail)
            enqueue(con, [change], self.sinks)
            fresh = con.execute(select(alerts).where(alerts.c.id == key)).mappings().one()
            return alert_from_row(fresh)

    # -- reading -----------------------------------------------------------------------------

    def open_alerts(self, model: str) -> list[Alert]:
        """The live alerts of ``model`` (open, acknowledged or snoozed), oldest first, each with the
        findings of the latest run that saw it (what the checks need to keep its subjects' baselines
        clear of the incident)."""
        with self.engine.connect() as con:
            return self._live(con, model)

    def _live(self, con: Connection, model: str) -> list[Alert]:
        rows = con.execute(select(alerts).where(alerts.c.model == model, alerts.c.state.in_(_LIVE))
                           .order_by(alerts.c.id)).mappings().all()
        latest = latest_findings(con, [r["id"] for r in rows])
        return [alert_from_row(r, latest.get(r["id"], ())) for r in rows]

    def alerts(self, *, model: str | None = None, include_resolved: bool = False,
               raised_from: datetime | None = None, raised_to: datetime | None = None,
               resolved_since: datetime | None = None) -> AlertList:
        """Alerts, most severe and newest first; live ones only unless ``include_resolved``
        (all resolved ones, or those resolved at or after ``resolved_since``)."""
        query = select(alerts)
        if model is not None:
            query = query.where(alerts.c.model == model)
        if resolved_since is not None:
            query = query.where(or_(alerts.c.state.in_(_LIVE), alerts.c.resolved_at >= resolved_since))
        elif not include_resolved:
            query = query.where(alerts.c.state.in_(_LIVE))
        if raised_from is not None:
            query = query.where(alerts.c.raised_at >= raised_from)
        if raised_to is not None:
            query = query.where(alerts.c.raised_at < raised_to)
        with self.engine.connect() as con:
            rows = con.execute(query.order_by(alerts.c.severity.desc(), alerts.c.raised_at.desc(),
                                              alerts.c.id.desc())).mappings().all()
            latest = latest_findings(con, [r["id"] for r in rows])
        return AlertList(alert_from_row(r, latest.get(r["id"], ())) for r in rows)

    def alert(self, alert_id: str) -> Alert:
        """One alert with the findings of the latest run that saw it."""
        key = _alert_key(alert_id)
        with self.engine.connect() as con:
            row = con.execute(select(alerts).where(alerts.c.id == key)).mappings().first()
            if row is None:
                raise InputError(f"alert {alert_id}: no such alert")
            return alert_from_row(row, latest_findings(con, [key]).get(key, ()))

    def seen_runs(self, alert_id: str) -> list[datetime]:
        """The run times whose findings held this alert, in order."""
        with self.engine.connect() as con:
            rows = con.execute(select(alert_findings.c.run_time).distinct()
                               .where(alert_findings.c.alert_id == _alert_key(alert_id))
                               .order_by(alert_findings.c.run_time))
            return [r[0] for r in rows]

    def audit(self, *, model: str | None = None, alert_id: str | None = None,
              since: datetime | None = None, until: datetime | None = None) -> list[AuditEntry]:
        """The audit log, oldest first."""
        query = select(audit_log)
        if model is not None:
            query = query.where(audit_log.c.model == model)
        if alert_id is not None:
            query = query.where(audit_log.c.alert_id == _alert_key(alert_id))
        if since is not None:
            query = query.where(audit_log.c.at >= since)
        if until is not None:
            query = query.where(audit_log.c.at < until)
        with self.engine.connect() as con:
            rows = con.execute(query.order_by(audit_log.c.id)).mappings().all()
        return [AuditEntry(id=r["id"], at=r["at"], model=r["model"],
                           alert_id=None if r["alert_id"] is None else str(r["alert_id"]),
                           actor=r["actor"], action=r["action"], from_state=r["from_state"],
                           to_state=r["to_state"], reason=r["reason"], run_time=r["run_time"],
                           detail=dict(r["detail"] or {})) for r in rows]

    def last_run(self, model: str) -> datetime | None:
        """The latest run applied for ``model`` (``None`` before the first)."""
        with self.engine.connect() as con:
            return con.execute(select(model_cursor.c.last_run)
                               .where(model_cursor.c.model == model)).scalar_one_or_none()


def _aware(value: datetime, name: str) -> None:
    if value.tzinfo is None:
        raise InputError(f"{name} must carry a time zone (UTC); got {value.isoformat()}")


def _alert_key(alert_id: str) -> int:
    try:
        return int(alert_id)
    except ValueError:
        raise InputError(f"alert id: expected a number such as 12; got {alert_id!r}") from None


def _merge(drafts: Sequence[AlertDraft], model: str) -> dict[str, AlertDraft]:
    """One draft per fingerprint: two of the same cause in one run are one (the more severe leads)."""
    out: dict[str, AlertDraft] = {}
    for d in drafts:
        seen = out.get(d.fingerprint)
        if seen is None:
            out[d.fingerprint] = d
            continue
        lead, other = (d, seen) if d.severity > seen.severity else (seen, d)
        out[d.fingerprint] = replace(lead, onset=min(d.onset, seen.onset),
                                     findings=lead.findings + other.findings,
                                     suppressed=lead.suppressed + other.suppressed)
    for d in out.values():
        _aware(d.onset, f"onset of {d.fingerprint}")
    return out
