"""``write_report``: one self-contained HTML file from a model's profiles and its control plane.

The file needs nothing else to open: styles are inline, charts are inline SVG
(:mod:`.svg`), there is no script and nothing is fetched. It is built from the
stored daily profiles, the control plane's alerts and flags, and one aggregate
query for what profiles do not keep (cost per decision, model versions), so it
is quick whatever the store's size. The same inputs give the same bytes: no
clock is read (the report is as of the end of the last profiled day unless
``as_of`` is given) and everything is sorted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2

from loopwatch.core.alerts import Alert
from loopwatch.core.profile import ALL, HOUR_OF_DAY, latency_edges, utc_day_start
from loopwatch.core.spec import Spec, load_spec
from loopwatch.core.store import DecisionSource
from loopwatch.core.window import Window
from loopwatch.errors import InputError
from loopwatch.evaluation.metrics import Metric
from loopwatch.evaluation.report import EvaluationReport, evaluate
from loopwatch.report import charts
from loopwatch.report.incidents import Mitigation, alert_views, mitigations, runbook_texts
from loopwatch.report.log_figures import VersionDay, version_days
from loopwatch.report.series import (
    COHORT_METRICS,
    DailyProfiles,
    calibration_curve,
    cohort_weeks,
    coverage_rows,
    daily_profiles,
    drift_cells,
    latency_quantiles,
    volume_days,
)
from loopwatch.storage.atomic import replace_text
from loopwatch.storage.control import ControlFlags, ControlPlane
from loopwatch.storage.parquet_store import ParquetStore
from loopwatch.storage.profile_history import ProfileHistory

__all__ = ["ReportInputs", "gather", "render_report", "write_report"]

DAY = timedelta(days=1)
#: Days the report covers by default (ending at ``as_of``).
DEFAULT_DAYS = 30
_DAILY = ("roc_auc", "precision", "recall", "false_positive_rate", "base_rate", "value_per_decision")
_TABLE_METRICS = ("roc_auc", "precision", "recall", "decision_rate", "base_rate")
#: Metrics that are shares of decisions, written as percentages (the others with three decimals).
RATE_METRICS = frozenset({"precision", "recall", "false_positive_rate", "decision_rate", "base_rate",
                          "label_coverage"})


@dataclass(frozen=True)
class ReportInputs:
    """Everything the report shows, gathered once (the inventory reads the same)."""

    spec: Spec
    window: Window
    profiles: DailyProfiles
    evaluation: EvaluationReport | None
    alerts: tuple[Alert, ...]
    flags: tuple[Mitigation, ...]
    versions: tuple[VersionDay, ...]
    last_run: datetime | None
    history: ProfileHistory


def _as_of(history: ProfileHistory, as_of: datetime | None) -> datetime:
    """``as_of`` rounded down to a UTC day, else the end of the last day holding decisions."""
    days = sorted(history.store.versions("decisions"))
    if not days:
        raise InputError(f"the store at {history.store.location} holds no decisions: nothing to report")
    if as_of is None:
        return datetime.fromisoformat(days[-1]).replace(tzinfo=UTC) + DAY
    return utc_day_start(as_of)


def gather(spec: Spec, *, store: DecisionSource | None = None, as_of: datetime | None = None,
           days: int = DEFAULT_DAYS, plane: ControlPlane | None = None, update: bool = True) -> ReportInputs:
    """Read what the report and the inventory show for the ``days`` days ending at ``as_of``.

    ``as_of`` defaults to the end of the last day with decisions (rounded up to a
    UTC day); ``plane`` to the spec's control plane. ``update`` profiles new days first.
    """
    if days < 1:
        raise InputError(f"days: expected at least 1; got {days}")
    source = store or ParquetStore.for_spec(spec)
    history = ProfileHistory(source)
    if update:
        history.update()
    end = _as_of(history, as_of)
    window = Window(end - days * DAY, end)
    profiles = daily_profiles(history, window.start, window.end)
    try:
        evaluation: EvaluationReport | None = evaluate(spec, start=window.start, end=window.end,
                                                       store=source, update=False)
    except InputError:  # a window with no profiled day
        evaluation = None
    owned = plane is None
    control = plane or ControlPlane.for_spec(spec)
    try:
        alerts = tuple(a for a in control.alerts(model=spec.model, include_resolved=True)
                       if a.raised_at <= window.end)
        flags = tuple(mitigations(ControlFlags(control.engine).rows(spec.model, include_reverted=True)))
        last_run = control.last_run(spec.model)
    finally:
        if owned:
            control.close()
    versions = tuple(version_days(source, window))
    return ReportInputs(spec, window, profiles, evaluation, alerts, flags, versions, last_run, history)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("loopwatch.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(pct=_pct, num=_num, metric=_metric, day=_day, stamp=_stamp, short=_short)
    return env


def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}%}"


def _num(value: float | int | None, fmt: str = "{:,.3g}") -> str:
    return "–" if value is None or not math.isfinite(value) else fmt.format(value)


def _metric(m: Metric | None, name: str = "") -> dict[str, str]:
    """A metric as text: value, interval, n and its state (``ok``, ``thin`` or ``none``)."""
    if m is None or m.status == "undefined" or not math.isfinite(m.value):
        return {"value": "–", "interval": "", "n": "" if m is None else f"n={m.n:,}", "state": "none",
                "reason": "no value"}
    rate = (name or m.name) in RATE_METRICS
    show = _pct if rate else (lambda v: _num(v, "{:.3f}"))
    interval = f"[{show(m.low)}, {show(m.high)}]" if math.isfinite(m.low) and math.isfinite(m.high) else ""
    return {"value": show(m.value), "interval": interval, "n": f"n={m.n:,}",
            "state": "ok" if m.status == "ok" else "thin", "reason": m.reason}


def _day(value: datetime | None) -> str:
    return "–" if value is None else f"{value:%Y-%m-%d}"


def _short(value: datetime | None) -> str:
    return "–" if value is None else f"{value:%m-%d %H:%M}"


def _stamp(value: datetime | None) -> str:
    return "–" if value is None else f"{value:%Y-%m-%d %H:%M} UTC"


def _system(data: DailyProfiles) -> list[dict[str, Any]]:
    """Per day: decisions, peak hourly rate, errors and latency quantiles (from the profiles)."""
    edges = latency_edges()
    out = []
    for day, profiles in zip(data.days, data.by_day, strict=True):
        whole = profiles.get(ALL)
        if whole is None:
            continue
        hours = [p.n for c, p in profiles.items() if c.column == HOUR_OF_DAY]
        out.append({"day": day, "n": whole.n, "qps": whole.n / 86400,
                    "peak_qps": max(hours, default=0) / 3600, "errors": whole.system.errors,
                    "error_rate": whole.system.errors / whole.n if whole.n else math.nan,
                    "latency_n": whole.system.latency_count, **latency_quantiles(whole, edges)})
    return out


def render_report(inputs: ReportInputs) -> str:
    """The report's HTML for ``inputs``."""
    spec, data, window = inputs.spec, inputs.profiles, inputs.window
    views = alert_views(list(inputs.alerts), list(inputs.flags))
    live = [v for v in views if v.live]
    in_window = [v for v in views if (v.alert.resolved_at or window.end) >= window.start]
    whole = data.window()
    evaluation = inputs.evaluation
    cohort_sections = []
    for column in spec.cohorts:
        labels, values = cohort_weeks(data, spec, column)
        if values:
            drawn = [charts.cohort_chart(column, m, labels, values) for m in COHORT_METRICS]
            cohort_sections.append({"column": column, "charts": drawn})
    now_curve = calibration_curve(whole[ALL], data.binning) if ALL in whole else []
    ref_curve = calibration_curve(data.reference[ALL], data.binning) if ALL in data.reference else []
    coverage = coverage_rows(whole, data.reference, spec)
    costs = [v for v in inputs.versions if v.cost_n]
    cost_n = sum(v.cost_n for v in inputs.versions)
    decisions_n = sum(v.n for v in inputs.versions)
    loose = [m for m in inputs.flags if m.alert_id is None]
    metrics = _TABLE_METRICS + (("value_per_decision",) if spec.value is not None else ())
    context = {
        "spec": spec, "window": window, "last_day": window.end - DAY, "views": views, "live": live,
        "timeline": charts.timeline_chart(in_window, window.start, window.end, loose) if in_window else None,
        "timeline_views": in_window, "flags": inputs.flags,
        "n": whole[ALL].n if ALL in whole else 0,
        "labelled": whole[ALL].score.labelled if ALL in whole else 0,
        "evaluation": evaluation,
        "cohort_rows": [] if evaluation is None else
        [c for c in evaluation.cohorts
         if c.cohort == ALL or c.cohort.column in (*spec.cohorts, *spec.entities)],
        "daily_charts": [] if evaluation is None else
        [(m, charts.daily_metric_chart(m, evaluation.days)) for m in _DAILY
         if any(m in d.metrics for d in evaluation.days)],
        "table_metrics": metrics, "cohort_sections": cohort_sections,
        "drift": charts.drift_chart(drift_cells(data, spec), data.days),
        "calibration": charts.calibration_chart(now_curve, ref_curve) if now_curve else None,
        "coverage": charts.coverage_chart(coverage, spec.monitoring.min_decisions) if coverage else None,
        "coverage_rows": coverage,
        "volume": charts.volume_chart(volume_days(data)),
        "system": _system(data),
        "cost": charts.cost_chart(costs, data.days) if costs else None,
        "cost_n": cost_n, "decisions_n": decisions_n,
        "cost_total": sum(v.cost_sum for v in inputs.versions),
        "versions": sorted({v.version for v in inputs.versions}),
        "runbooks": runbook_texts(views), "last_run": inputs.last_run,
    }
    return _environment().get_template("report.html.j2").render(**context)


def write_report(spec: Spec | str | Path, out_path: str | Path, *, store: DecisionSource | None = None,
                 as_of: datetime | None = None, days: int = DEFAULT_DAYS, plane: ControlPlane | None = None,
                 update: bool = True) -> Path:
    """Write the HTML report of the ``days`` days ending at ``as_of`` to ``out_path`` (atomically).

    ``spec`` is a spec or the path of its ``loopwatch.yaml``. Returns the path written; see
    :func:`gather` for the inputs.
    """
    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    inputs = gather(spec, store=store, as_of=as_of, days=days, plane=plane, update=update)
    path = Path(out_path)
    replace_text(path, render_report(inputs))
    return path
