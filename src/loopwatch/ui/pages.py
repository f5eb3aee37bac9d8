"""The dashboard's pages: each a function of the dashboard and the request giving a template and its data.

They run in a worker thread (the control plane and the store are blocking I/O)
and read only: every change goes through the actions of :mod:`loopwatch.ui.app`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from loopwatch.core.findings import KINDS
from loopwatch.errors import InputError
from loopwatch.storage.control import ControlFlags
from loopwatch.storage.control.runs import latest_run, models
from loopwatch.ui.views import METRICS, Computed, incidents, metric_cell

if TYPE_CHECKING:
    from loopwatch.evaluation.report import EvaluationReport
    from loopwatch.ui.app import Dashboard

__all__ = ["FILTERS", "PAGES"]

Page = tuple[str, dict[str, Any]]

#: Rows the audit page shows by default (``?limit=`` up to 2000).
AUDIT_ROWS = 200


#: How far back from the latest run the home page lists resolved alerts.
RESOLVED_DAYS = 7


def home(ui: Dashboard, request: Request) -> Page:
    model = ui.spec.model
    found = incidents(ui.plane, model)
    active = ControlFlags(ui.plane.engine).rows(model)
    last_run = ui.plane.last_run(model)
    since = (last_run or datetime.now(UTC)) - timedelta(days=RESOLVED_DAYS)
    resolved = [a for a in ui.plane.alerts(model=model, resolved_since=since) if a.resolved_at is not None]
    resolved.sort(key=lambda a: a.resolved_at or since, reverse=True)
    return "home.html", {"incidents": found, "active_flags": active, "last_run": last_run,
                         "loud": sum(i.loud for i in found), "resolved": resolved,
                         "resolved_days": RESOLVED_DAYS}


def alert(ui: Dashboard, request: Request) -> Page:
    alert_id = request.path_params["alert_id"]
    try:
        found = ui.plane.alert(alert_id)
    except InputError as exc:
        return "problem.html", {"status_code": 404, "message": str(exc)}
    if found.model != ui.spec.model:
        return "problem.html", {"status_code": 404,
                                "message": f"alert {alert_id} is not an alert of {ui.spec.model}"}
    flags = [f for f in ControlFlags(ui.plane.engine).rows(found.model, include_reverted=True)
             if str(f["alert_id"]) == found.id]
    return "alert.html", {"alert": found, "audit": ui.plane.audit(alert_id=found.id), "flags": flags,
                          "seen": ui.plane.seen_runs(found.id)}


def models_page(ui: Dashboard, request: Request) -> Page:
    from loopwatch.storage.control.registry import ModelRegistry

    spec = ui.spec
    versions = ModelRegistry(ui.plane.engine).versions(spec.model)
    versions.sort(key=lambda v: (v.stage == "archived", v.registered_at), reverse=False)
    return "models.html", {"spec": spec, "store": spec.store_location(), "known": models(ui.plane.engine),
                           "last_run": ui.plane.last_run(spec.model), "versions": versions}


def health(ui: Dashboard, request: Request) -> Page:
    run = latest_run(ui.plane.engine, ui.spec.model)
    order = {"page": 0, "warning": 1, "info": 2}
    findings = sorted(run.findings if run else (),
                      key=lambda f: (bool(f.get("suppressed")), order.get(f.get("severity", ""), 3),
                                     int(f["alert_id"])))
    live = ui.plane.alerts(model=ui.spec.model)
    families = []
    for kind in KINDS:  # every check family: alerting, healthy in the latest run, or not covered by it
        mine = [a for a in live if a.kind == kind]
        covered = run is not None and (run.kinds is None or kind in run.kinds)
        families.append({"kind": kind, "alerts": mine, "covered": covered})
    seen = {f["alert_id"] for f in findings}
    return "health.html", {"run": run, "findings": findings, "families": families,
                           "unseen": [a for a in live if a.id not in seen],
                           "resolve_after": ui.plane.resolve_after}


def _day(text: str | None, name: str) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"{name}: expected a date such as 2026-03-01; got {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def evaluation(ui: Dashboard, start: datetime | None, end: datetime | None) -> Computed:
    """The evaluation of ``[start, end)`` from the stored profiles: ready, or being computed in the background
    (it takes seconds to a minute on a large store: the page says so and reloads itself)."""
    def compute() -> EvaluationReport:
        # scikit-learn and scipy take seconds to import: in the worker, never on the event loop
        from loopwatch.evaluation.report import evaluate

        return evaluate(ui.spec, start=start, end=end, store=ui.source(), update=False)

    return ui.evaluations.get((start, end), compute)


def cohorts(ui: Dashboard, request: Request) -> Page:
    params = request.query_params
    column = params.get("column") or ""
    context: dict[str, Any] = {"metrics": METRICS, "column": column, "start": params.get("from", ""),
                               "end": params.get("to", ""), "columns": ["all", *ui.spec.cohorts]}
    try:
        start, end = _day(params.get("from"), "from"), _day(params.get("to"), "to")
    except InputError as exc:
        return "cohorts.html", {**context, "error": str(exc), "report": None, "rows": [], "status_code": 400}
    computed = evaluation(ui, start, end)
    if computed.error is not None or not computed.ready:
        return "cohorts.html", {**context, "error": computed.error, "report": None, "rows": [],
                                "running_since": computed.running_since}
    report: EvaluationReport = computed.value
    rows = []
    for c in report.cohorts:
        if column and c.cohort.column != column:
            continue
        cells = [metric_cell(report, str(c.cohort), name, percent) for name, _, percent in METRICS]
        regressions = [f for f in report.findings if f.cohort == str(c.cohort) or (f.cohort is None and
                                                                                 c.cohort.column == "all")]
        rows.append({"cohort": c.cohort, "n": c.n, "maturity": c.maturity, "cells": cells,
                     "regressions": regressions})
    columns = list(dict.fromkeys(c.cohort.column for c in report.cohorts))
    return "cohorts.html", {**context, "error": None, "report": report, "rows": rows, "columns": columns}


def flags(ui: Dashboard, request: Request) -> Page:
    rows = ControlFlags(ui.plane.engine).rows(ui.spec.model, include_reverted=True)
    rows.sort(key=lambda r: r["state"] != "active")
    return "flags.html", {"flags": rows}


def audit(ui: Dashboard, request: Request) -> Page:
    params = request.query_params
    try:
        limit = min(max(int(params.get("limit", AUDIT_ROWS)), 1), 2000)
    except ValueError:
        limit = AUDIT_ROWS
    alert_id = params.get("alert") or None
    try:
        entries = ui.plane.audit(model=ui.spec.model, alert_id=alert_id)
    except InputError as exc:
        return "problem.html", {"status_code": 400, "message": str(exc)}
    return "audit.html", {"entries": list(reversed(entries))[:limit], "total": len(entries), "limit": limit,
                          "alert_id": alert_id}


def _time(value: datetime | None) -> str:
    return "-" if value is None else f"{value.astimezone(UTC):%Y-%m-%d %H:%M}"


def _ago(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago, in the largest whole unit: ``3 d``, ``5 h``, ``12 min``."""
    if value is None:
        return "-"
    delta = (now or datetime.now(UTC)) - value
    if delta < timedelta(0):
        return "in the future"
    return f"{_span(delta)} ago"


def _span(span: timedelta) -> str:
    """A non-negative span in its largest whole unit: ``3 d``, ``5 h``, ``12 min``."""
    if span >= timedelta(days=2):
        return f"{span.days} d"
    if span >= timedelta(hours=2):
        return f"{int(span.total_seconds() // 3600)} h"
    return f"{int(span.total_seconds() // 60)} min"


def _around(when: datetime, onset: datetime) -> str:
    """Where a change falls against an alert's onset: ``2 d before onset``, ``5 h after onset``."""
    delta = when - onset
    side = "before" if delta < timedelta(0) else "after"
    return f"{_span(abs(delta))} {side} onset"


def _number(value: Any, digits: int = 3) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return "-"
    return f"{value:.{digits}g}"


def _seconds_ago(monotonic: float) -> str:
    return f"{max(time.monotonic() - monotonic, 0.0):.0f}"


def _signed_percent(value: Any) -> str:
    """A relative change or a difference of shares as a signed percentage: ``+4.4%``."""
    if not isinstance(value, int | float) or not math.isfinite(value):
        return "-"
    if abs(value) < 5e-5:  # what would print as +0% or -0%
        return "0%"
    return f"{value * 100:+.3g}%"


def _interval(value: Any) -> str:
    if not isinstance(value, list | tuple) or len(value) != 2 or None in value:
        return ""
    return f"[{_number(value[0])}, {_number(value[1])}]"


def _subject(item: Any) -> str:
    """What a finding (a dict) or an alert concerns: feature, cohort, entity, source, metric; else ``all``."""
    def get(key: str) -> Any:
        return item.get(key) if isinstance(item, dict) else getattr(item, key, None)

    parts = [str(get(k)) for k in ("feature", "cohort", "entity", "source", "metric") if get(k)]
    cohorts = () if isinstance(item, dict) else tuple(getattr(item, "cohorts", None) or ())
    if not get("cohort") and cohorts:
        parts.append(", ".join(cohorts))
    return " · ".join(dict.fromkeys(parts)) or "all"


FILTERS: dict[str, Callable[..., str]] = {"time": _time, "ago": _ago, "number": _number,
                                          "interval": _interval, "subject": _subject,
                                          "signed_percent": _signed_percent, "seconds_ago": _seconds_ago,
                                          "around": _around}

PAGES: tuple[tuple[str, Callable[[Dashboard, Request], Page]], ...] = (
    ("/", home), ("/alerts/{alert_id}", alert), ("/models", models_page), ("/health", health),
    ("/cohorts", cohorts), ("/flags", flags), ("/audit", audit))
