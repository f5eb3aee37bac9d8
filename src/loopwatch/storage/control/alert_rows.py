"""One alert's rows: open, update, findings and the audit entry of each change.

The writes :class:`~loopwatch.storage.control.plane.ControlPlane` makes inside its
transactions, each on a connection the caller holds (and has locked); kept apart
from the plane so that the plane reads as the state machine and this as its rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from loopwatch.core.alerts import AlertDraft, AlertState
from loopwatch.core.findings import Severity
from loopwatch.storage.control.records import Action, Transition
from loopwatch.storage.control.tables import alert_findings, alerts, audit_log, model_cursor

__all__ = ["audit_change", "draft_values", "latest_findings", "lock_model", "open_alert", "store_findings",
           "update_alert"]


def lock_model(con: Connection, model: str) -> datetime | None:
    """Lock ``model``'s cursor row (created on first use) and return its latest run."""
    dialect = {"postgresql": postgresql, "sqlite": sqlite}.get(con.dialect.name)
    if dialect is not None:
        con.execute(dialect.insert(model_cursor).values(model=model, last_run=None)
                    .on_conflict_do_nothing(index_elements=["model"]))
    elif con.execute(select(model_cursor.c.model).where(model_cursor.c.model == model)).first() is None:
        con.execute(insert(model_cursor).values(model=model, last_run=None))
    last: datetime | None = con.execute(select(model_cursor.c.last_run).where(model_cursor.c.model == model)
                                        .with_for_update()).scalar_one()
    return last


def open_alert(con: Connection, draft: AlertDraft, run_time: datetime, actor: str) -> Transition:
    values = draft_values(draft)
    new_id = con.execute(insert(alerts).values(
        model=draft.model, fingerprint=draft.fingerprint, kind=draft.kind, state=AlertState.OPEN.value,
        peak_severity=int(draft.severity), onset=draft.onset, raised_at=run_time, last_seen=run_time,
        resolved_at=None, acknowledged_by=None, snoozed_until=None, healthy_runs=0, runs_seen=1,
        reopened=0, **values)).inserted_primary_key
    assert new_id is not None
    row = {"id": new_id[0], "model": draft.model, "fingerprint": draft.fingerprint,
           "severity": int(draft.severity)}
    return audit_change(con, row, "opened", None, AlertState.OPEN, actor, run_time, draft.headline,
                  detail={"onset": draft.onset.isoformat(), "findings": len(draft.findings)})


def update_alert(con: Connection, row: dict[str, Any], draft: AlertDraft, run_time: datetime,
            actor: str) -> list[Transition]:
    state = AlertState(row["state"])
    out: list[Transition] = []
    values: dict[str, Any] = {**draft_values(draft), "last_seen": run_time, "healthy_runs": 0,
                              "runs_seen": row["runs_seen"] + 1,
                              "peak_severity": max(row["peak_severity"], int(draft.severity))}
    if state is AlertState.RESOLVED:
        out.append(audit_change(con, row, "reopened", state, AlertState.OPEN, actor, run_time,
                          f"seen again {run_time - row['resolved_at']} after it resolved: {draft.headline}"))
        values.update(state=AlertState.OPEN.value, resolved_at=None, acknowledged_by=None,
                      reopened=row["reopened"] + 1)
        state = AlertState.OPEN
    elif (state is AlertState.SNOOZED and row["snoozed_until"] is not None
          and row["snoozed_until"] <= run_time):
        out.append(audit_change(con, row, "snooze_expired", state, AlertState.OPEN, actor, run_time,
                          f"the snooze ended at {row['snoozed_until']:%Y-%m-%d %H:%M} UTC"))
        values.update(state=AlertState.OPEN.value, snoozed_until=None)
        state = AlertState.OPEN
    if int(draft.severity) != row["severity"]:
        action: Action = "escalated" if int(draft.severity) > row["severity"] else "deescalated"
        out.append(audit_change(con, {**row, "severity": int(draft.severity)}, action, state, state, actor,
                          run_time, f"{Severity(row['severity'])} → {draft.severity}: {draft.headline}"))
    con.execute(update(alerts).where(alerts.c.id == row["id"]).values(**values))
    return out


def draft_values(draft: AlertDraft) -> dict[str, Any]:
    return {"severity": int(draft.severity), "headline": draft.headline, "feature": draft.feature,
            "cohort": draft.cohort, "cohorts": list(draft.cohorts), "entity": draft.entity,
            "source": draft.source, "metric": draft.metric, "owner": draft.owner, "runbook": draft.runbook,
            "risk": draft.risk}


def store_findings(con: Connection, alert_id: int, draft: AlertDraft, run_time: datetime) -> None:
    rows = [{"alert_id": alert_id, "run_time": run_time, "suppressed": False, "finding": f.to_dict()}
            for f in draft.findings]
    rows += [{"alert_id": alert_id, "run_time": run_time, "suppressed": True, "finding": f.to_dict()}
             for f in draft.suppressed]
    if rows:
        con.execute(insert(alert_findings), rows)


def latest_findings(con: Connection, ids: Sequence[int]) -> dict[int, tuple[dict[str, Any], ...]]:
    """The findings of the latest run that saw each alert, each marked ``suppressed`` or not."""
    out: dict[int, list[dict[str, Any]]] = {}
    latest: dict[int, datetime] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows = con.execute(select(alert_findings).where(alert_findings.c.alert_id.in_(chunk))
                           .order_by(alert_findings.c.alert_id, alert_findings.c.run_time.desc(),
                                     alert_findings.c.id)).mappings()
        for r in rows:
            key = r["alert_id"]
            if latest.setdefault(key, r["run_time"]) != r["run_time"]:
                continue
            out.setdefault(key, []).append({**r["finding"], "suppressed": r["suppressed"]})
    return {k: tuple(v) for k, v in out.items()}


def audit_change(con: Connection, row: dict[str, Any], action: Action, from_state: AlertState | None,
           to_state: AlertState, actor: str, run_time: datetime | None, reason: str, *,
           at: datetime | None = None, detail: dict[str, Any] | None = None) -> Transition:
    con.execute(insert(audit_log).values(
        at=at or datetime.now(UTC), model=row["model"], alert_id=row["id"], actor=actor, action=action,
        from_state=None if from_state is None else from_state.value, to_state=to_state.value,
        reason=reason, run_time=run_time, detail=detail or {}))
    return Transition(alert_id=str(row["id"]), fingerprint=row["fingerprint"], action=action,
                      from_state=from_state, to_state=to_state, severity=Severity(row["severity"]),
                      reason=reason)
