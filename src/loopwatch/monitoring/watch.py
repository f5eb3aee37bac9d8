"""The monitoring loop with memory: checks, the alert policy and the control plane, run by run.

One run (:func:`watch_once`) profiles the new days, runs the checks for the day
ending at ``as_of`` (the subjects of live alerts compare with baselines that end at
the alert's onset, so an incident is not absorbed into its own baseline), groups
the findings into one draft per cause
(:func:`~loopwatch.monitoring.alert_policy.group_findings`) and applies them to
the model's alerts in the control plane. A scheduler (:func:`watch_due`, and
``loopwatch watch --every``) runs every day that is due: after downtime it
catches up the days it missed, oldest first, and a day already applied is never
checked or raised again, so two schedulers, or one restarted, never raise twice.

Profiles are daily, so a run's window is a whole UTC day: ``--every 1h`` only
says how often to look for a newly completed day.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from loopwatch.core.alerts import AlertDraft, AlertState
from loopwatch.core.findings import KINDS, Kind, Severity
from loopwatch.core.profile import utc_day_start
from loopwatch.core.spec import Spec, parse_duration
from loopwatch.core.store import DecisionSource
from loopwatch.monitoring.alert_policy import group_findings
from loopwatch.monitoring.job import CheckRun, run_checks
from loopwatch.storage.control import ApplyResult, ControlPlane

__all__ = ["WatchRun", "due_runs", "watch_due", "watch_every", "watch_once"]

DAY = timedelta(days=1)


@dataclass(frozen=True)
class WatchRun:
    """One run of the loop: the checks' findings, the drafts the policy made, what the alerts did."""

    run_time: datetime
    check: CheckRun | None
    drafts: tuple[AlertDraft, ...]
    result: ApplyResult

    @property
    def exit_code(self) -> int:
        """1 (act) while a page-level alert of the model is open and not acknowledged or snoozed."""
        alerts = self.result.alerts
        return int(any(a.state is AlertState.OPEN and a.severity == Severity.PAGE for a in alerts))

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_time": self.run_time.isoformat(), "applied": self.result.applied,
            "findings": None if self.check is None else len(self.check.findings),
            "drafts": len(self.drafts),
            "transitions": [{"alert_id": t.alert_id, "action": t.action, "fingerprint": t.fingerprint,
                             "from_state": None if t.from_state is None else t.from_state.value,
                             "to_state": t.to_state.value, "severity": str(t.severity),
                             "reason": t.reason} for t in self.result.transitions],
            "alerts": [a.to_dict() for a in self.result.alerts],
        }


def watch_once(spec: Spec, *, as_of: datetime, plane: ControlPlane, store: DecisionSource | None = None,
               checks: Sequence[str] | None = None, actor: str = "watch",
               on_progress: Callable[[int, int], None] | None = None) -> WatchRun:
    """Check the day ending at ``as_of`` (rounded down to a UTC day) and apply it to the alerts.

    A day the control plane has already applied (or one before it) is not
    checked again: the run changes nothing and says so (``result.applied``).
    """
    run_time = utc_day_start(as_of)
    last = plane.last_run(spec.model)
    if last is not None and run_time <= last:
        result = ApplyResult(model=spec.model, run_time=run_time, applied=False,
                             alerts=tuple(plane.open_alerts(spec.model)))
        return WatchRun(run_time=run_time, check=None, drafts=(), result=result)
    live = plane.open_alerts(spec.model)
    check = run_checks(spec, as_of=run_time, store=store, checks=checks, on_progress=on_progress,
                       open_alerts=live)
    # live alerts and those resolved within the baseline window: a performance change whose labels
    # cover the days of an incident already raised is that incident's echo
    since = run_time - parse_duration(spec.monitoring.baseline)
    recent = plane.alerts(model=spec.model, resolved_since=since)
    drafts = tuple(group_findings(check.findings, spec=spec, open_alerts=recent))
    kinds: list[Kind] | None = None if checks is None else [k for k in KINDS if k in set(checks)]
    result = plane.apply(model=spec.model, run_time=check.as_of, drafts=drafts, kinds=kinds, actor=actor)
    return WatchRun(run_time=check.as_of, check=check, drafts=drafts, result=result)


def due_runs(last_run: datetime | None, now: datetime) -> list[datetime]:
    """The days to check at ``now``: each day end after ``last_run`` up to the last complete day.

    Before the first run only the last complete day is due (a history is
    replayed with ``watch --once --as-of``, day by day).

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> t = lambda d, h=0: datetime(2026, 3, d, h, tzinfo=UTC)
    >>> [f"{d:%m-%d}" for d in due_runs(t(1), t(4, 9))]
    ['03-02', '03-03', '03-04']
    >>> due_runs(None, t(4, 9))
    [datetime.datetime(2026, 3, 4, 0, 0, tzinfo=datetime.timezone.utc)]
    """
    end = utc_day_start(now)
    if last_run is None:
        return [end]
    out = []
    day = utc_day_start(last_run) + DAY
    while day <= end:
        out.append(day)
        day += DAY
    return out


def watch_due(spec: Spec, *, plane: ControlPlane, now: datetime, store: DecisionSource | None = None,
              checks: Sequence[str] | None = None, actor: str = "watch",
              on_run: Callable[[WatchRun], None] | None = None) -> list[WatchRun]:
    """Run every day that is due at ``now``, oldest first (catching up after downtime)."""
    runs = []
    for day in due_runs(plane.last_run(spec.model), now):
        run = watch_once(spec, as_of=day, plane=plane, store=store, checks=checks, actor=actor)
        runs.append(run)
        if on_run is not None:
            on_run(run)
    return runs


def watch_every(spec: Spec, *, plane: ControlPlane, every: timedelta, store: DecisionSource | None = None,
                checks: Sequence[str] | None = None, actor: str = "watch",
                clock: Callable[[], datetime], sleep: Callable[[float], None] = time.sleep,
                on_run: Callable[[WatchRun], None] | None = None, rounds: int | None = None) -> None:
    """Look for due days every ``every`` (from ``clock``), forever or for ``rounds`` looks."""
    done = 0
    while rounds is None or done < rounds:
        began = clock()
        watch_due(spec, plane=plane, now=began, store=store, checks=checks, actor=actor, on_run=on_run)
        done += 1
        if rounds is not None and done >= rounds:
            return
        sleep(max(0.0, (began + every - clock()).total_seconds()))
