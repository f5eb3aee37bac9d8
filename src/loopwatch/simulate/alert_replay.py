"""Replaying a simulated run day by day through the monitoring loop with memory, scored per incident.

:func:`replay_alerts` writes a simulation into a fresh store one day at a time
(:func:`~loopwatch.simulate.replay.replay`) and runs
:func:`~loopwatch.monitoring.watch.watch_once` after each day, as a daily cron
job would. :func:`reapply` feeds the drafts recorded on each day to another
control plane (another hysteresis) without running the checks again.
:func:`score` compares the alerts with the ground truth: for each incident the
alert that first named it (its feature, cohort, entity or source), when it was
raised and resolved, the days the incident was active and the days that alert
was open, and the page-level alerts that named no incident active then.

Days: a run at time ``d`` checks the day ``[d - 1 day, d)``; an incident is
active on that run when it started before ``d`` and had not ended by ``d - 1 day``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from loopwatch.core.alerts import Alert, AlertDraft, AlertState
from loopwatch.core.findings import Severity
from loopwatch.core.spec import load_spec
from loopwatch.monitoring.watch import watch_once
from loopwatch.simulate.fraud import SimulationResult, write_simulation
from loopwatch.simulate.replay import replay
from loopwatch.simulate.scoring import matches
from loopwatch.storage.control import ControlPlane
from loopwatch.storage.parquet_store import ParquetStore

__all__ = ["ReplayDay", "first_named", "reapply", "replay_alerts", "score"]

DAY = timedelta(days=1)
#: After an incident ends, its alert may still be seen (trend windows) or resolving for this long.
AFTER_END = timedelta(days=3)


@dataclass(frozen=True)
class ReplayDay:
    """One run of the replay: the drafts of the day and the alert each became."""

    run_time: datetime
    drafts: tuple[AlertDraft, ...]
    alert_ids: tuple[str, ...]  # the alert each draft updated or opened, in the drafts' order
    live: tuple[str, ...]  # the alerts live after the run
    seconds: float


def replay_alerts(result: SimulationResult, out_dir: Path, *, first: datetime | None = None,
                  on_day: Callable[[ReplayDay], None] | None = None) -> tuple[list[ReplayDay], ControlPlane]:
    """Replay ``result`` into a fresh store at ``out_dir``, one watch run a day from ``first``.

    ``first`` defaults to the day after the reference window. The control plane
    is the spec's (``control.sqlite`` in the store, with the spec's hysteresis).
    """
    empty = replace(result, decisions=result.decisions.slice(0, 0), outcomes=result.outcomes.slice(0, 0))
    write_simulation(empty, out_dir, overwrite=True)
    spec = load_spec(out_dir / "loopwatch.yaml")
    store = ParquetStore.for_spec(spec)
    start = first or datetime.fromisoformat(result.ground_truth["reference"]["end"]) + DAY
    plane = ControlPlane.for_spec(spec)
    days = []
    for now in replay(result, store, first=start):
        began = time.perf_counter()
        run = watch_once(spec, as_of=now, plane=plane, store=store)
        day = _day(run.run_time, run.drafts, run.result.alerts, time.perf_counter() - began)
        days.append(day)
        if on_day is not None:
            on_day(day)
    return days, plane


def reapply(days: Sequence[ReplayDay], *, resolve_after: int, reopen_within: timedelta,
            url: str = "sqlite://") -> tuple[list[ReplayDay], ControlPlane]:
    """The same days' drafts applied to a fresh control plane with another hysteresis."""
    plane = ControlPlane(url=url, resolve_after=resolve_after, reopen_within=reopen_within)
    out = []
    for d in days:
        model = d.drafts[0].model if d.drafts else None
        result = plane.apply(model=model or _model(days), run_time=d.run_time, drafts=d.drafts)
        out.append(_day(d.run_time, d.drafts, result.alerts, d.seconds))
    return out, plane


def _model(days: Sequence[ReplayDay]) -> str:
    return next((d.drafts[0].model for d in days if d.drafts), "model")


def _day(run_time: datetime, drafts: Sequence[AlertDraft], live: Sequence[Alert],
         seconds: float) -> ReplayDay:
    by_fingerprint = {a.fingerprint: a.id for a in live}
    return ReplayDay(run_time=run_time, drafts=tuple(drafts),
                     alert_ids=tuple(by_fingerprint[d.fingerprint] for d in drafts),
                     live=tuple(a.id for a in live), seconds=seconds)


def _active(incident: dict[str, Any], run_time: datetime, *, grace: timedelta = timedelta(0)) -> bool:
    onset = datetime.fromisoformat(incident["onset"])
    end = incident["end"]
    return onset < run_time and (end is None or run_time - DAY < datetime.fromisoformat(end) + grace)


def _names(draft: AlertDraft, incident: dict[str, Any]) -> bool:
    return any(matches(f, incident) for f in draft.findings)


def first_named(days: Sequence[ReplayDay], incident: dict[str, Any], *,
                severity: Severity = Severity.PAGE) -> tuple[datetime, str] | None:
    """The first run, while ``incident`` was active, with a draft of ``severity`` or above naming it,
    and the alert that draft updated or opened; ``None`` if no run named it."""
    for d in days:
        if not _active(incident, d.run_time):
            continue
        for draft, alert_id in zip(d.drafts, d.alert_ids, strict=True):
            if draft.severity >= severity and _names(draft, incident):
                return d.run_time, alert_id
    return None


def score(days: Sequence[ReplayDay], alerts: Sequence[Alert],
          incidents: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per incident and overall figures of a replay (see the module's docstring)."""
    by_id = {a.id: a for a in alerts}
    runs = len(days)
    out_incidents = []
    for incident in incidents:
        named: dict[str, Severity] = {}
        onset = datetime.fromisoformat(incident["onset"])
        for d in days:
            if not _active(incident, d.run_time, grace=AFTER_END):
                continue
            for draft, alert_id in zip(d.drafts, d.alert_ids, strict=True):
                # labels name no feature: an alert raised before the incident began was raised
                # for something else, even if its later findings are performance changes too
                if incident["label_only"] and by_id[alert_id].raised_at <= onset:
                    continue
                if _names(draft, incident):
                    named[alert_id] = max(named.get(alert_id, Severity.INFO), draft.severity)
        pages = sorted((i for i, s in named.items() if s == Severity.PAGE), key=int)
        primary = by_id[pages[0]] if pages else by_id[min(named, key=int)] if named else None
        active = [d for d in days if _active(incident, d.run_time)]
        open_days = [d for d in active if primary is not None and primary.id in d.live]
        after_raise = [d for d in active if primary is not None and d.run_time >= primary.raised_at]
        grouped = [len(draft.findings) for d in days for draft, i in zip(d.drafts, d.alert_ids, strict=True)
                   if primary is not None and i == primary.id]
        end = incident["end"]
        resolved_after_end = None
        if primary is not None and end is not None and primary.resolved_at is not None:
            resolved_after_end = (primary.resolved_at - datetime.fromisoformat(end)) / DAY
        out_incidents.append({
            "kind": incident["kind"], "harmful": incident["harmful"], "label_only": incident["label_only"],
            "onset": incident["onset"], "end": end,
            "page_alerts": len(pages), "alerts": len(named),
            "alert_kind": None if primary is None else primary.kind,
            "severity": None if primary is None else str(named[primary.id]),
            "raised": None if primary is None else primary.raised_at.isoformat(),
            "days_to_raise": None if primary is None else
            (primary.raised_at - datetime.fromisoformat(incident["onset"])) / DAY,
            "resolved": None if primary is None or primary.resolved_at is None
            else primary.resolved_at.isoformat(),
            "resolved_days_after_end": resolved_after_end,
            "days_active": len(active), "days_open": len(open_days),
            "days_missing_after_raised": len([d for d in after_raise if primary is not None
                                              and primary.id not in d.live]),
            "findings_grouped_max": max(grouped, default=0), "findings_grouped_total": sum(grouped),
        })
    harmful = [i for i in incidents if i["harmful"]]
    unrelated: dict[str, list[str]] = {}
    quiet_page_days = 0
    for d in days:
        relevant = [i for i in harmful if _active(i, d.run_time, grace=AFTER_END)]
        if any(dr.severity == Severity.PAGE for dr in d.drafts) and not any(
                _active(i, d.run_time) for i in harmful):
            quiet_page_days += 1
        for draft, alert_id in zip(d.drafts, d.alert_ids, strict=True):
            if draft.severity == Severity.PAGE and not any(_names(draft, i) for i in relevant):
                unrelated.setdefault(alert_id, []).append(f"{d.run_time - DAY:%m-%d}")
    ever_page = {i for d in days for dr, i in zip(d.drafts, d.alert_ids, strict=True)
                 if dr.severity == Severity.PAGE}
    months = runs / 30 if runs else 1.0
    return {
        "runs": runs, "incidents": out_incidents,
        "unrelated_page_alerts": [{"id": i, "kind": by_id[i].kind, "headline": by_id[i].headline,
                                   "days": seen} for i, seen in sorted(unrelated.items(),
                                                                       key=lambda x: int(x[0]))],
        "quiet_days_with_a_page": quiet_page_days,
        "page_alerts_per_30_days": len(ever_page) / months,
        "warning_alerts_per_30_days": (len(alerts) - len(ever_page)) / months,
        "alerts": len(alerts), "live_at_end": sum(1 for a in alerts if a.state is not AlertState.RESOLVED),
    }
