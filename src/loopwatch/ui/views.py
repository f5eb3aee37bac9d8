"""What each page of the dashboard shows, gathered from the spec, the control plane and the store.

Plain data for the templates; no HTML here. The home page is incident-first:
live alerts, most severe and newest first, each with its impact, onset, what
changed around it (flags set or reverted, and any other change the audit log
holds, such as a model's stage), owner, runbook and acknowledgement.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from loopwatch.core.alerts import Alert, AlertState
from loopwatch.core.findings import Severity
from loopwatch.errors import InputError
from loopwatch.storage.control import AuditEntry, ControlFlags, ControlPlane

if TYPE_CHECKING:
    from loopwatch.evaluation.report import EvaluationReport

__all__ = ["Background", "Computed", "Incident", "MetricCell", "changes", "incidents", "metric_cell"]

#: Audit actions that are an alert's own life; every other audit entry is a change to the system.
ALERT_ACTIONS = frozenset({"opened", "reopened", "escalated", "deescalated", "resolved", "acknowledged",
                           "snoozed", "unsnoozed", "snooze_expired", "mitigation_skipped"})

_log = logging.getLogger("loopwatch.ui")

#: How far before an alert's onset a change is shown beside it.
CHANGES_BEFORE = timedelta(days=7)


@dataclass(frozen=True)
class Incident:
    """A live alert with what the home page says about it."""

    alert: Alert
    lead: dict[str, Any] | None
    changes: tuple[AuditEntry, ...]
    flags: tuple[dict[str, Any], ...]
    suppressed: int = 0

    @property
    def loud(self) -> bool:
        """A page nobody has acknowledged."""
        return self.alert.severity == Severity.PAGE and self.alert.state is AlertState.OPEN


def _lead(findings: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The finding that best shows the alert's impact: the largest |impact|, else the most severe."""
    own = [f for f in findings if not f.get("suppressed")]
    if not own:
        return None
    order = {"page": 2, "warning": 1, "info": 0}

    def key(f: dict[str, Any]) -> tuple[float, int]:
        impact = f.get("impact")
        return (abs(impact) if isinstance(impact, int | float) else -1.0, order.get(f.get("severity", ""), 0))

    return max(own, key=key)


def _when(entry: AuditEntry) -> datetime:
    return entry.run_time or entry.at


def changes(entries: Sequence[AuditEntry]) -> list[AuditEntry]:
    """The audit entries that changed the system rather than an alert's state, newest first."""
    return sorted((e for e in entries if e.action not in ALERT_ACTIONS), key=_when, reverse=True)


def incidents(plane: ControlPlane, model: str) -> list[Incident]:
    """The live alerts of ``model`` with their lead finding, nearby changes and flags."""
    live = plane.alerts(model=model)
    changed = changes(plane.audit(model=model))
    flag_rows = ControlFlags(plane.engine).rows(model, include_reverted=True)
    out = []
    for a in live:
        since = a.onset - CHANGES_BEFORE
        near = tuple(e for e in changed if _when(e) >= since or e.alert_id == a.id)
        out.append(Incident(alert=a, lead=_lead(a.findings), changes=near,
                            flags=tuple(f for f in flag_rows if str(f["alert_id"]) == a.id),
                            suppressed=sum(bool(f.get("suppressed")) for f in a.findings)))
    return out


@dataclass(frozen=True)
class MetricCell:
    """One metric of one cohort as the cohort page writes it: value, interval, n, and its status."""

    value: str
    interval: str
    n: int
    status: str
    reason: str = ""


def _fmt(value: float, percent: bool) -> str:
    if not math.isfinite(value):
        return "-"
    return f"{value * 100:.1f}%" if percent else f"{value:.3f}"


#: The realized metrics the cohort page shows, in order: (name in the report, header, as a percentage).
METRICS: tuple[tuple[str, str, bool], ...] = (
    ("roc_auc", "ROC AUC", False), ("precision", "precision", True), ("recall", "recall", True),
    ("false_positive_rate", "false pos. rate", True), ("decision_rate", "decision rate", True),
    ("base_rate", "base rate", True))


def metric_cell(report: EvaluationReport, cohort: str, name: str, percent: bool) -> MetricCell | None:
    """The cell of metric ``name`` for ``cohort`` (its ``str``), or ``None`` when not computed."""
    for c in report.cohorts:
        if str(c.cohort) != cohort:
            continue
        m = c.metrics.get(name)
        if m is None:
            return None
        interval = (f"{_fmt(m.low, percent)} – {_fmt(m.high, percent)}"
                    if math.isfinite(m.low) and math.isfinite(m.high) else "")
        return MetricCell(value=_fmt(m.value, percent), interval=interval, n=m.n, status=m.status,
                          reason=m.reason)
    return None


@dataclass(frozen=True)
class Computed:
    """What :class:`Background` holds for a key: the value (or the error) and since when."""

    value: Any = None
    error: str | None = None
    done_at: float | None = None
    running_since: float | None = None

    @property
    def ready(self) -> bool:
        return self.done_at is not None


class Background:
    """Values too slow for a request (an evaluation), computed one at a time in a worker thread.

    :meth:`get` never waits: it returns what is there — nothing yet, a fresh value,
    or a value older than ``ttl`` while its refresh runs — and starts the computation
    when none is running. An :class:`~loopwatch.errors.InputError` is kept as the
    key's error (shown on the page); at most ``keep`` keys are kept.
    """

    def __init__(self, *, ttl: float, keep: int = 16, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.keep, self.clock = ttl, keep, clock
        self._lock = threading.Lock()
        self._one_at_a_time = threading.Lock()
        self._entries: dict[Any, Computed] = {}

    def get(self, key: Any, compute: Callable[[], Any]) -> Computed:
        with self._lock:
            now = self.clock()
            entry = self._entries.get(key, Computed())
            stale = entry.done_at is None or now - entry.done_at >= self.ttl
            if stale and entry.running_since is None:
                entry = replace(entry, running_since=now)
                self._entries[key] = entry
                while len(self._entries) > self.keep:
                    oldest = min((k for k, e in self._entries.items() if e.running_since is None),
                                 key=lambda k: self._entries[k].done_at or 0.0, default=None)
                    if oldest is None:
                        break
                    del self._entries[oldest]
                threading.Thread(target=self._run, args=(key, compute), daemon=True,
                                 name=f"loopwatch-ui-{key}").start()
            return entry

    def _run(self, key: Any, compute: Callable[[], Any]) -> None:
        value: Any = None
        error: str | None = None
        with self._one_at_a_time:
            try:
                value = compute()
            except InputError as exc:
                error = str(exc)
            except Exception as exc:  # shown on the page and logged: a page must not die with it
                _log.exception("computing %s failed", key)
                error = f"unexpected {type(exc).__name__} (a bug in loopwatch; see the server's log): {exc}"
        with self._lock:
            self._entries[key] = Computed(value=value, error=error, done_at=self.clock())

    def wait(self, key: Any, timeout: float) -> Computed:
        """The entry of ``key`` once no computation of it runs, or as it is after ``timeout`` seconds."""
        deadline = self.clock() + timeout
        while True:
            with self._lock:
                entry = self._entries.get(key, Computed())
            if (entry.ready and entry.running_since is None) or self.clock() >= deadline:
                return entry
            time.sleep(0.05)
