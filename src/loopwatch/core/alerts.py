"""Alerts: the findings of one run that share a cause, and their state across runs.

The alert policy (``loopwatch.monitoring``) turns one run's findings into
:class:`AlertDraft` s — one per cause, each holding the findings it groups and
the findings it suppressed, so that nothing is silently dropped. The control
plane (``loopwatch.storage``) keeps an :class:`Alert` per fingerprint across
runs: opened once, updated while the cause persists, resolved after enough
healthy runs. Both sides meet on these plain types, which is why they live in
core: the policy never touches a database and the control plane never groups.

Examples
--------
>>> from datetime import UTC, datetime
>>> fingerprint_of(model="card-fraud", kind="coverage", entity="merchant_category=crypto")
'coverage|card-fraud|-|-|merchant_category=crypto|-|-'
>>> AlertState.OPEN.value, str(AlertState.RESOLVED)
('open', 'resolved')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from loopwatch.core.findings import Finding, Kind, Severity

__all__ = ["Alert", "AlertDraft", "AlertState", "fingerprint_of"]


def fingerprint_of(*, model: str, kind: Kind, feature: str | None = None, cohort: str | None = None,
                   entity: str | None = None, source: str | None = None,
                   metric: str | None = None) -> str:
    """The stable identity of a cause: model, check family and subject.

    The same cause seen on another day, in another window length or at another
    severity has the same fingerprint, so the control plane updates one alert
    instead of opening a new one. ``cohort`` is ``None`` when the alert spans
    several cohorts of one subject (they are listed in the alert instead).
    """
    parts = (kind, model, feature, cohort, entity, source, metric)
    return "|".join("-" if p is None else str(p) for p in parts)


@dataclass(frozen=True)
class AlertDraft:
    """What one run says about one cause: the policy's output, not yet stateful.

    ``severity`` is the highest severity the policy grants the group (a group
    may be graded down when its evidence is thin); ``onset`` the start of the
    earliest window among its findings; ``headline`` one sentence a person on
    call understands; ``findings`` what it groups (one per cohort, window
    length...) and ``suppressed`` the findings of other subjects it inhibited
    as symptoms of this cause.
    """

    fingerprint: str
    model: str
    kind: Kind
    severity: Severity
    onset: datetime
    headline: str
    findings: tuple[Finding, ...]
    feature: str | None = None
    cohort: str | None = None
    entity: str | None = None
    source: str | None = None
    metric: str | None = None
    cohorts: tuple[str, ...] = ()
    owner: str | None = None
    runbook: str | None = None
    suppressed: tuple[Finding, ...] = ()
    risk: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON keys; times in ISO 8601; the findings it groups and suppressed."""
        return {
            "fingerprint": self.fingerprint, "model": self.model, "kind": self.kind,
            "severity": str(self.severity), "onset": self.onset.isoformat(),
            "headline": self.headline, "feature": self.feature, "cohort": self.cohort,
            "cohorts": list(self.cohorts), "entity": self.entity, "source": self.source,
            "metric": self.metric, "owner": self.owner, "runbook": self.runbook, "risk": self.risk,
            "findings": [f.to_dict() for f in self.findings],
            "suppressed": [f.to_dict() for f in self.suppressed],
        }


class AlertState(StrEnum):
    """Where an alert is in its life: open → (acknowledged) → resolved; snoozed hides it until expiry."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Alert:
    """One cause across runs, as the control plane keeps it.

    ``onset`` is the start of the first window that showed it, ``raised_at`` the
    run time that opened it, ``last_seen`` the last run whose findings held it,
    ``healthy_runs`` how many runs in a row have not seen it since (the
    hysteresis that resolves it), ``resolved_at`` when it was resolved.
    """

    id: str
    fingerprint: str
    model: str
    kind: Kind
    severity: Severity
    state: AlertState
    onset: datetime
    raised_at: datetime
    last_seen: datetime
    headline: str
    feature: str | None = None
    cohort: str | None = None
    entity: str | None = None
    source: str | None = None
    metric: str | None = None
    owner: str | None = None
    runbook: str | None = None
    resolved_at: datetime | None = None
    acknowledged_by: str | None = None
    snoozed_until: datetime | None = None
    healthy_runs: int = 0
    findings: tuple[dict[str, Any], ...] = field(default=())
    cohorts: tuple[str, ...] = ()
    risk: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON keys; times in ISO 8601; ``findings`` as the control plane stored them."""
        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "id": self.id, "fingerprint": self.fingerprint, "model": self.model, "kind": self.kind,
            "feature": self.feature, "cohort": self.cohort, "cohorts": list(self.cohorts),
            "entity": self.entity, "source": self.source, "metric": self.metric,
            "severity": str(self.severity), "state": self.state.value, "onset": iso(self.onset),
            "raised_at": iso(self.raised_at), "last_seen": iso(self.last_seen),
            "resolved_at": iso(self.resolved_at), "acknowledged_by": self.acknowledged_by,
            "snoozed_until": iso(self.snoozed_until), "healthy_runs": self.healthy_runs,
            "owner": self.owner, "headline": self.headline, "runbook": self.runbook, "risk": self.risk,
            "findings": list(self.findings),
        }
