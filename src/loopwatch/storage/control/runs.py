"""The watch runs a control plane has applied, and what the latest one found.

The dashboard's health page reads these: when the last run of a model was, which
check families it covered, and the findings it grouped under each alert (the
findings of a run that raised nothing are not kept: such a run was healthy).

Examples
--------
>>> from datetime import UTC, datetime
>>> from loopwatch.storage.control import ControlPlane
>>> plane = ControlPlane(url="sqlite://")
>>> latest_run(plane.engine, "fraud") is None
True
>>> _ = plane.apply(model="fraud", run_time=datetime(2026, 3, 2, tzinfo=UTC), drafts=[])
>>> run = latest_run(plane.engine, "fraud")
>>> run.run_time.date(), run.drafts, run.findings
(datetime.date(2026, 3, 2), 0, ())
>>> models(plane.engine)[0].model
'fraud'
>>> plane.close()
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from loopwatch.storage.control.tables import alert_findings, alerts, model_cursor, model_versions, watch_runs

__all__ = ["ModelState", "RunFindings", "latest_run", "models"]


@dataclass(frozen=True)
class RunFindings:
    """One applied run: when, by whom, what it covered, and the findings it grouped under alerts.

    ``kinds`` is ``None`` when the run covered every check family. Each finding is
    the stored dictionary with ``alert_id``, ``suppressed`` and ``alert_state`` added.
    """

    model: str
    run_time: datetime
    applied_at: datetime
    actor: str
    kinds: tuple[str, ...] | None
    drafts: int
    findings: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class ModelState:
    """A model the control plane knows: its latest run and its alerts by state."""

    model: str
    last_run: datetime | None
    alerts: dict[str, int]


def latest_run(engine: Engine, model: str) -> RunFindings | None:
    """The latest run applied for ``model`` with its findings, or ``None`` before the first."""
    with engine.connect() as con:
        row = con.execute(select(watch_runs).where(watch_runs.c.model == model)
                          .order_by(watch_runs.c.run_time.desc()).limit(1)).mappings().first()
        if row is None:
            return None
        found = con.execute(
            select(alert_findings.c.alert_id, alert_findings.c.suppressed, alert_findings.c.finding,
                   alerts.c.state)
            .join(alerts, alerts.c.id == alert_findings.c.alert_id)
            .where(alerts.c.model == model, alert_findings.c.run_time == row["run_time"])
            .order_by(alert_findings.c.alert_id, alert_findings.c.id)).mappings().all()
    kinds = row["kinds"]
    return RunFindings(model=model, run_time=row["run_time"], applied_at=row["applied_at"],
                       actor=row["actor"],
                       kinds=None if kinds is None else tuple(kinds), drafts=row["drafts"],
                       findings=tuple({**f["finding"], "alert_id": str(f["alert_id"]),
                                       "suppressed": f["suppressed"], "alert_state": f["state"]}
                                      for f in found))


def models(engine: Engine) -> list[ModelState]:
    """Every model with a run, an alert or a registered version in this control plane, by name."""
    with engine.connect() as con:
        runs = {m: last for m, last in con.execute(select(model_cursor.c.model, model_cursor.c.last_run))}
        counts: dict[str, dict[str, int]] = {}
        for model, state, n in con.execute(select(alerts.c.model, alerts.c.state, func.count())
                                           .group_by(alerts.c.model, alerts.c.state)):
            counts.setdefault(model, {})[state] = n
        registered = set(con.execute(select(model_versions.c.model).distinct()).scalars())
    names = sorted(set(runs) | set(counts) | registered)
    return [ModelState(model=m, last_run=runs.get(m), alerts=counts.get(m, {})) for m in names]
