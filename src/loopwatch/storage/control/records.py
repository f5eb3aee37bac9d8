"""What the control plane hands out: alerts, state changes and audit entries as plain data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from loopwatch.core.alerts import Alert, AlertState
from loopwatch.core.findings import Severity

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Action", "AlertList", "ApplyResult", "AuditEntry", "Transition", "alert_from_row"]

#: What a state change did, as the audit log and :class:`Transition` name it.
Action = Literal["opened", "reopened", "escalated", "deescalated", "resolved", "acknowledged",
                 "snoozed", "unsnoozed", "snooze_expired", "mitigation_set", "mitigation_reverted",
                 "mitigation_skipped"]


class AlertList(tuple[Alert, ...]):
    """Alerts as a tuple, with a table for a notebook (:meth:`to_frame`) and JSON (:meth:`to_dict`)."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """``{"alerts": [...]}``, each alert as :meth:`Alert.to_dict` gives it."""
        return {"alerts": [a.to_dict() for a in self]}

    def to_frame(self) -> pd.DataFrame:
        """One row per alert (findings as a count), times as UTC timestamps.

        Examples
        --------
        >>> AlertList().to_frame().columns[:4].tolist()
        ['id', 'fingerprint', 'model', 'kind']
        """
        import pandas as pd

        columns = list(Alert.__dataclass_fields__)
        rows = []
        for a in self:
            row = a.to_dict()
            row.update(severity=str(a.severity), state=a.state.value, onset=a.onset, raised_at=a.raised_at,
                       last_seen=a.last_seen, resolved_at=a.resolved_at, snoozed_until=a.snoozed_until,
                       findings=len(a.findings), cohorts=", ".join(a.cohorts))
            rows.append({c: row[c] for c in columns})
        frame = pd.DataFrame(rows, columns=columns)
        for c in ("onset", "raised_at", "last_seen", "resolved_at", "snoozed_until"):
            frame[c] = pd.to_datetime(frame[c], utc=True)
        return frame


@dataclass(frozen=True)
class Transition:
    """One state change of one alert made by :meth:`~.ControlPlane.apply` or by a person.

    Every transition is also a row of the audit log, written in the same
    transaction; a notification outbox can be written there too (the ``within``
    callback of ``apply``).
    """

    alert_id: str
    fingerprint: str
    action: Action
    from_state: AlertState | None
    to_state: AlertState
    severity: Severity
    reason: str


@dataclass(frozen=True)
class ApplyResult:
    """What one run did to the alert state of one model.

    ``applied`` is ``False`` when the run (or a later one) had already been
    applied: a scheduler catching up, or a second process, changed nothing.
    ``alerts`` are the model's alerts that are not resolved after the run.
    """

    model: str
    run_time: datetime
    applied: bool
    transitions: tuple[Transition, ...] = ()
    alerts: tuple[Alert, ...] = ()


@dataclass(frozen=True)
class AuditEntry:
    """One row of the append-only audit log: who did what to which alert, why and when."""

    id: int
    at: datetime
    model: str
    alert_id: str | None
    actor: str
    action: str
    from_state: str | None
    to_state: str | None
    reason: str
    run_time: datetime | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "at": self.at.isoformat(), "model": self.model, "alert_id": self.alert_id,
            "actor": self.actor, "action": self.action, "from_state": self.from_state,
            "to_state": self.to_state, "reason": self.reason,
            "run_time": None if self.run_time is None else self.run_time.isoformat(),
            "detail": self.detail,
        }


def alert_from_row(row: Mapping[Any, Any], findings: tuple[dict[str, Any], ...] = ()) -> Alert:
    """An :class:`Alert` from a row of the ``alerts`` table."""
    return Alert(
        id=str(row["id"]), fingerprint=row["fingerprint"], model=row["model"], kind=row["kind"],
        severity=Severity(row["severity"]), state=AlertState(row["state"]), onset=row["onset"],
        raised_at=row["raised_at"], last_seen=row["last_seen"], headline=row["headline"],
        feature=row["feature"], cohort=row["cohort"], entity=row["entity"], source=row["source"],
        metric=row["metric"], owner=row["owner"], runbook=row["runbook"],
        resolved_at=row["resolved_at"], acknowledged_by=row["acknowledged_by"],
        snoozed_until=row["snoozed_until"], healthy_runs=row["healthy_runs"], findings=findings,
        cohorts=tuple(row["cohorts"] or ()), risk=row["risk"],
    )
