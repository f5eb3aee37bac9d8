"""The report's charts: the numbers of :mod:`.series` and :mod:`.incidents` drawn with :mod:`.svg`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from loopwatch.evaluation.metrics import Metric
from loopwatch.evaluation.report import DayEvaluation
from loopwatch.report.incidents import AlertView, Mitigation
from loopwatch.report.log_figures import VersionDay
from loopwatch.report.series import CalibrationPoint, CoverageRow, DriftCell, VolumeDay
from loopwatch.report.svg import Bar, Cell, Lane, Point, Series, bars, heatmap, line_chart, timeline

__all__ = ["calibration_chart", "cohort_chart", "cost_chart", "coverage_chart", "daily_metric_chart",
           "drift_chart", "timeline_chart", "volume_chart"]

#: A relative shift of positive decisions at or above this is the darkest cell (the default page impact).
FULL_IMPACT = 0.25
_PERCENT = "{:.1%}"
_RATES = {"decision_rate", "recall", "precision", "false_positive_rate", "base_rate", "label_coverage"}


def point(m: Metric | None) -> Point:
    """A metric as a chart point: "not enough data" drawn apart, undefined as a gap."""
    if m is None or m.status == "undefined" or not math.isfinite(m.value):
        return Point(math.nan)
    note = f"n={m.n:,}"
    if m.status == "not_enough_data":
        return Point(m.value, enough=False, note=f"{note}; {m.reason}" if m.reason else note)
    return Point(m.value, m.low, m.high, note=note)


def _fmt(metric: str) -> str:
    return _PERCENT if metric in _RATES else "{:.3f}" if metric == "roc_auc" else "{:.3g}"


def daily_metric_chart(metric: str, days: Sequence[DayEvaluation]) -> str:
    """One global metric per day with its interval, beside its label-free estimate (dashed)."""
    labels = [f"{d.start:%m-%d}" for d in days]
    realized = Series("from labels", tuple(point(d.metrics.get(metric)) for d in days))
    estimated = Series("label-free estimate", tuple(point(d.estimates.get(metric)) for d in days),
                       dashed=True)
    series = [realized] + ([estimated] if any(metric in d.estimates for d in days) else [])
    bounded = metric in _RATES or metric == "roc_auc"
    return line_chart(f"{metric} per day (all decisions)", labels, series, fmt=_fmt(metric),
                      low=0.0 if bounded else None)


def cohort_chart(column: str, metric: str, labels: Sequence[str],
                 values: dict[str, dict[str, list[Metric]]]) -> str:
    """One metric per week for each value of a cohort column, with intervals."""
    series = [Series(f"{column}={value}", tuple(point(m) for m in rows[metric]))
              for value, rows in values.items()]
    return line_chart(f"{metric} per week by {column}", labels, series, fmt=_fmt(metric), low=0.0, height=180)


def drift_chart(cells: Sequence[Sequence[DriftCell]], days: Sequence[datetime]) -> str:
    """Feature × day, coloured by the relative change in positive decisions the drift causes."""
    rows = [row[0].feature for row in cells if row]
    grid = []
    for row in cells:
        out = []
        for c in row:
            if not c.enough:
                out.append(Cell(None, "", f"{c.feature} {c.day:%Y-%m-%d}: not enough data (n={c.n:,})"))
                continue
            impact = abs(c.impact) if math.isfinite(c.impact) else 0.0
            impact_text = f"{c.impact:+.1%}" if math.isfinite(c.impact) else "not measured"
            text = "" if impact < 0.05 else f"{impact:.0%}" if impact < 1 else f"{impact + 1:.0f}×"
            out.append(Cell(min(impact / FULL_IMPACT, 1.0), text,
                            f"{c.feature} {c.day:%Y-%m-%d}: drift {c.effect:.3f} (PSI scale), "
                            f"positive decisions {impact_text} from it, n={c.n:,}"))
        grid.append(out)
    return heatmap("drift by feature and day, coloured by impact on decisions", rows,
                   [f"{d:%m-%d}" for d in days], grid, key="drift")


def calibration_chart(now: Sequence[CalibrationPoint], reference: Sequence[CalibrationPoint]) -> str:
    """Observed positive rate per score group (window and reference) against the group's mean score."""
    labels = [f"{p.score:.3f}" for p in now]
    observed = Series("observed (window)",
                      tuple(Point(p.observed, p.low, p.high, note=f"n={p.n:,}") for p in now))
    ideal = Series("perfect calibration", tuple(Point(p.score) for p in now), dashed=True)
    series = [observed, ideal]
    then = {p.group: p for p in reference}
    series.append(Series("observed (reference)", tuple(
        Point(r.observed, r.low, r.high, note=f"n={r.n:,}") if (r := then.get(p.group)) else Point(math.nan)
        for p in now)))
    return line_chart("calibration: observed positive rate by score group (x: the group's mean score)",
                      labels, series, fmt="{:.3f}", low=0.0)


def coverage_chart(rows: Sequence[CoverageRow], min_rows: int) -> str:
    """Each entity's coverage with its interval and a tick at its reference coverage."""
    columns = sorted({r.column for r in rows})

    def name(r: CoverageRow) -> str:
        text = r.value if len(columns) == 1 else f"{r.column}={r.value}"
        return text if len(text) <= 28 else text[:27] + "…"

    items = [Bar(name(r), r.share, r.low, r.high, r.reference, r.enough,
                 f"{r.column}={r.value}: {r.covered:,} of {r.n:,} decisions scored outside one score"
                 + ("" if r.enough else f" (fewer than {min_rows} decisions: not enough data)"),
                 alarm=r.enough and math.isfinite(r.reference) and r.high < 0.5 * r.reference, n=r.n)
             for r in rows]
    return bars(f"coverage per {', '.join(columns)} (share of decisions with a real score)", items)


def volume_chart(days: Sequence[VolumeDay]) -> str:
    """Decisions per day against the seasonal baseline's prediction range."""
    labels = [f"{d.day:%m-%d}" for d in days]
    observed = Series("decisions", tuple(Point(float(d.n), note="observed") for d in days))
    expected = Series("expected", tuple(Point(d.expected) for d in days), dashed=True)
    return line_chart("decisions per day against the seasonal baseline", labels, [observed, expected],
                      fmt="{:,.0f}", low=0.0, band=([d.low for d in days], [d.high for d in days]))


def cost_chart(rows: Sequence[VersionDay], days: Sequence[datetime]) -> str:
    """Cost per decision per day, one line per model version."""
    labels = [f"{d:%m-%d}" for d in days]
    versions = sorted({r.version for r in rows})
    found = {(r.day, r.version): r for r in rows}
    series = []
    for version in versions:
        points = []
        for day in days:
            r = found.get((day, version))
            points.append(Point(r.cost_per_decision, note=f"n={r.cost_n:,}") if r and r.cost_n
                          else Point(math.nan))
        series.append(Series(version, tuple(points)))
    return line_chart("cost per decision per day", labels, series, fmt="{:.2e}", low=0.0)


def timeline_chart(views: Sequence[AlertView], start: datetime, end: datetime,
                   loose: Sequence[Mitigation] = ()) -> str:
    """Each alert of the window as a lane: time to detect, open time, mitigations; then a lane of the
    mitigations tied to no alert (set by hand)."""
    day = timedelta(days=1)
    span = (end - start) / day

    def at(t: datetime) -> float:
        return (t - start) / day

    lanes = []
    for v in views:
        a = v.alert
        stop = a.resolved_at or end
        if stop < start or a.onset >= end:
            continue
        subject = a.entity or a.feature or a.cohort or a.source or ""
        lanes.append(Lane(label=f"#{a.id} {a.kind} {subject}"[:38],
                          onset=at(a.onset), detected=at(a.raised_at), end=at(stop), severity=str(a.severity),
                          resolved=a.resolved_at is not None,
                          title=f"#{a.id} {a.headline}; onset {a.onset:%Y-%m-%d %H:%M}, raised "
                                f"{a.raised_at:%Y-%m-%d %H:%M} ({v.days_to_detect:.1f} d to detect)"
                                + (f", resolved {a.resolved_at:%Y-%m-%d}" if a.resolved_at else ", open"),
                          marks=tuple((at(m.when), f"{m.what} by {m.who} at {m.when:%Y-%m-%d %H:%M}"
                                       + (f", reverted {m.reverted_at:%Y-%m-%d}" if m.reverted_at else ""))
                                      for m in v.mitigations)))
    marks = tuple((at(m.when), f"{m.what} by {m.who} at {m.when:%Y-%m-%d %H:%M}") for m in loose
                  if start <= m.when < end)
    if marks:
        lanes.append(Lane(label="mitigations set by hand", onset=0.0, detected=0.0, end=0.0, severity="none",
                          marks=marks, bar=False))
    every = max(1, round(span / 8))
    ticks = [(float(i), f"{start + i * day:%m-%d}") for i in range(0, math.ceil(span) + 1, every)]
    return timeline("alerts: time to detect (hatched), open (solid), mitigations (◆)", lanes, days=span,
                    labels=ticks)
