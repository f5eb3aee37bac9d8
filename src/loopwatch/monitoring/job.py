"""The monitoring job: every registered check for the window ending at ``as_of``, from stored profiles.

``run_checks`` brings the profile history up to date (new days only), merges
the stored daily aggregates into the windows the checks compare, runs every
check and controls the false discovery rate of all their tests together
(Benjamini–Hochberg): a candidate whose test does not survive is dropped.
It is what ``loopwatch check`` runs, and a scheduler or a notebook can call it.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from loopwatch.core.alerts import Alert
from loopwatch.core.findings import Finding, Severity, exit_code, findings_frame
from loopwatch.core.intervals import adjusted_p_values
from loopwatch.core.profile import utc_day_start
from loopwatch.core.profile_parts import ProfileParts
from loopwatch.core.spec import Spec, parse_duration
from loopwatch.core.store import DecisionSource
from loopwatch.core.window import Window
from loopwatch.errors import InputError, SpecError
from loopwatch.monitoring import (
    coverage,
    drift_check,
    health,
    performance,
    schema,
    slices,
    staleness,
    system,
    volume,
)
from loopwatch.monitoring.baselines import OpenIncidents
from loopwatch.monitoring.checks import CHECKS, Check, CheckContext
from loopwatch.monitoring.evidence import require_evidence
from loopwatch.storage.parquet_store import ParquetStore
from loopwatch.storage.profile_history import ProfileHistory

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CheckRun", "build_checks", "run_checks"]

# registered on import, in this order
_BUILT_INS = (schema, health, drift_check, coverage, slices, volume, staleness, system, performance)


@dataclass(frozen=True)
class CheckRun:
    """The findings of one run, most severe first, and the windows they concern."""

    as_of: datetime
    current: Window
    baseline: Window
    reference: Window
    checks: tuple[str, ...]
    findings: tuple[Finding, ...]
    tests: int
    seconds: float

    def __repr__(self) -> str:
        counts = ", ".join(f"{sum(f.severity == s for f in self.findings)} {s}"
                           for s in sorted(Severity, reverse=True))
        return (f"<CheckRun as of {self.as_of:%Y-%m-%d}: {len(self.findings)} findings ({counts}) "
                f"from {len(self.checks)} checks>")

    def to_frame(self) -> pd.DataFrame:
        """The findings as a pandas DataFrame, one row each (see :func:`findings_frame`)."""
        return findings_frame(self.findings)

    @property
    def pages(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == Severity.PAGE]

    @property
    def exit_code(self) -> int:
        """0 when healthy, 1 when a finding pages (for cron and CI)."""
        return exit_code(self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "window": {"start": self.current.start.isoformat(), "end": self.current.end.isoformat()},
            "baseline": {"start": self.baseline.start.isoformat(),
                         "end": self.baseline.end.isoformat()},
            "checks": list(self.checks), "tests": self.tests,
            "findings": [f.to_dict() for f in self.findings],
        }


def run_checks(spec: Spec, *, as_of: datetime, store: DecisionSource | None = None,
               checks: Sequence[str] | None = None, update: bool = True,
               on_progress: Callable[[int, int], None] | None = None,
               persistence: bool = True, open_alerts: Sequence[Alert] = ()) -> CheckRun:
    """Run the checks for the window ending at ``as_of`` (rounded down to a UTC day).

    Parameters
    ----------
    spec
        The monitored model.
    as_of
        End of the current window (``spec.monitoring.current`` long); profiles
        are daily, so it is rounded down to midnight UTC.
    store
        The store (default: the spec's).
    checks
        Names of the checks to run (default: every registered check).
    update
        Profile new days first (default); ``False`` reads the stored profiles as they are.
    on_progress
        Called with (days done, days to do) while profiling.
    persistence
        Hold a page back to a warning unless it is decisive in one window or the
        window before it shows the same change (:mod:`~loopwatch.monitoring.evidence`);
        ``False`` grades each run on its own (the run for the window before uses it).
    open_alerts
        The model's live alerts (``ControlPlane.open_alerts``): a subject one of them
        holds is compared with the baseline before the alert's onset, so an ongoing
        incident does not become the baseline (:mod:`~loopwatch.monitoring.baselines`).
    """
    began = time.perf_counter()
    names = list(checks) if checks is not None else spec.checks.enabled(CHECKS.names())
    instances = build_checks(spec, names)
    store = store or ParquetStore.for_spec(spec)
    history = ProfileHistory(store)
    end = utc_day_start(as_of)
    m = spec.monitoring
    current = Window.ending(end, m.current)
    trend = Window.ending(end, max(parse_duration(m.trend), current.length))
    baseline = current.before(m.baseline)
    reference = history.reference_window()
    incidents = OpenIncidents.from_alerts([a for a in open_alerts if a.model == spec.model],
                                          spec=spec)
    # the earliest recent day a baseline reaches (before an open incident's onset, too)
    recent = trend.start - parse_duration(m.baseline)
    if incidents.earliest is not None:
        recent = min(recent, incidents.earliest - parse_duration(m.baseline))
    first = min(reference.start, recent)
    if update:
        history.update(end=end, on_progress=on_progress)
    if end <= reference.start:
        raise InputError(f"--as-of {as_of:%Y-%m-%d} is before the reference window starts "
                         f"({reference.start:%Y-%m-%d}); nothing to compare")
    if current.start < reference.end:
        raise InputError(
            f"the window checked ({current.start:%Y-%m-%d} to {end:%Y-%m-%d}) is inside the reference "
            f"window ({reference.start:%Y-%m-%d} to {reference.end:%Y-%m-%d}), which the checks compare "
            f"with; nothing to check before {reference.end + (current.end - current.start):%Y-%m-%d} "
            "(give a later --as-of, or an earlier 'reference' in the spec)")
    context = CheckContext(
        spec=spec, binning=history.binning(), parts=_parts(history, instances, reference, recent, end),
        as_of=end, current=current, trend=trend, baseline=baseline, reference=reference,
        quarantined=store.quarantine_counts(between=Window(first, end)), incidents=incidents,
        last_decision=_last_decision(store, end),
    )
    candidates: list[Finding] = []
    for check in instances:
        candidates += check.run(context)
    candidates = _quiet_ended(candidates, current=current, trend=trend)
    p_values = [f.evidence.get("p_value", float("nan")) for f in candidates]
    tested = [p is not None and p == p for p in p_values]
    q_values = adjusted_p_values([p if p is not None else float("nan") for p in p_values])
    # a tested candidate survives when its Benjamini–Hochberg q-value is within the FDR; it
    # carries the q-value (its p-value adjusted for every test of the run) in its evidence
    findings = _demote_echoes([replace(f, evidence={**f.evidence, "q_value": q}) if t else f
                               for f, t, q in zip(candidates, tested, q_values, strict=True)
                               if not t or q <= m.fdr])

    def prior(length: timedelta, which: Sequence[str]) -> Sequence[Finding]:
        if end - length <= reference.start:
            return []
        return run_checks(spec, as_of=end - length, store=store, checks=which, update=False,
                          persistence=False, open_alerts=open_alerts).findings

    if persistence:
        findings = require_evidence(findings, min_rows=m.min_decisions, prior=prior)
    findings.sort(key=lambda f: (-f.severity, f.kind, f.feature or "", f.cohort or "",
                                 f.entity or "", f.statistic, f.start))
    return CheckRun(as_of=end, current=current, baseline=baseline, reference=reference,
                    checks=tuple(names), findings=tuple(findings), tests=sum(tested),
                    seconds=time.perf_counter() - began)


def _parts(history: ProfileHistory, checks: Sequence[Check], reference: Window, recent: datetime,
           end: datetime) -> ProfileParts:
    """The stored days the checks read: the reference, and the recent days from ``recent``
    (where the baselines start) or as far back as the longest look-back of a check reaches.

    The days between the two are not read, so a run's cost does not grow with the
    history when the reference is fixed at its start.
    """
    lookback = max((getattr(c, "lookback", timedelta(0)) for c in checks), default=timedelta(0))
    recent = utc_day_start(min(recent, end - lookback))
    if recent <= reference.end:
        return history.parts(start=min(reference.start, recent), end=end)
    return ProfileParts.concat([history.parts(start=reference.start, end=reference.end),
                                history.parts(start=recent, end=end)])


def build_checks(spec: Spec, names: Sequence[str]) -> list[Check]:
    """The checks called ``names``, built with the spec's ``checks:`` parameters.

    Raises
    ------
    SpecError
        ``checks.plugins`` or ``checks.disabled`` names a check that is not registered,
        or a check refuses its parameters; the message names the key.
    """
    known = CHECKS.names()
    for key, listed in (("plugins", list(spec.checks.plugins)), ("disabled", spec.checks.disabled)):
        for name in listed:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(known)}"
                raise SpecError(f"checks.{key}: unknown check {name!r}; {hint}")
    out: list[Check] = []
    for name in names:
        arguments = spec.checks.arguments(name)
        try:
            out.append(CHECKS.get(name)(**arguments))
        except (TypeError, ValueError) as exc:
            where = f"checks.{name}" if name in type(spec.checks).model_fields else f"checks.plugins.{name}"
            raise SpecError(f"{where}: {exc}") from exc
    return out


#: the checks that compare both the current and the trend window (``CheckContext.windows``)
_TREND_CHECKS = frozenset({"health", "drift", "slice"})


def _quiet_ended(candidates: list[Finding], *, current: Window, trend: Window) -> list[Finding]:
    """A trend-window finding whose subject the latest day no longer shows becomes information.

    The 7-day window holds an incident for six days after it ended; when the current
    window has no candidate of the same check, statistic and subject graded warning or
    above (before the FDR control: one day has few rows, so significance is not asked,
    but the size of the change is), the incident is over and the trend finding stays in
    the run as context (``evidence["ended"]``). A candidate graded information does not
    keep it: a thin cohort (one hour of one day) always shows some change by chance, and
    a change too small to warn about, or one the other way, is not the incident going on.
    """
    if trend == current:
        return candidates

    def key(f: Finding) -> tuple[object, ...]:
        return (f.check, f.statistic, f.feature, f.cohort, f.entity)

    now = {key(f) for f in candidates if (f.start, f.end) == (current.start, current.end)
           and f.severity > Severity.INFO}
    # the checks that compared the current window too (any that reported on it in this run)
    both = _TREND_CHECKS | {f.check for f in candidates
                            if (f.start, f.end) == (current.start, current.end)}
    out = []
    for f in candidates:
        if ((f.start, f.end) == (trend.start, trend.end) and f.severity > Severity.INFO
                and f.check in both and key(f) not in now):
            f = replace(f, severity=Severity.INFO, evidence={**f.evidence, "ended": True},
                        message=f"{f.message} (not seen in the latest {current.days:g} day(s))")
        out.append(f)
    return out


def _last_decision(store: DecisionSource, before: datetime) -> datetime | None:
    """The time of the last decision before ``before``: one day's rows are read, the last one's."""
    days = sorted(day for day in store.versions("decisions") if day < f"{before:%Y-%m-%d}")
    if not days:
        return None
    start = datetime.fromisoformat(days[-1]).replace(tzinfo=UTC)
    table = store.table("decisions", between=Window.starting(start, timedelta(days=1)))
    last = table[store.spec.columns.timestamp].max().to_pyarrow().as_py()
    return last if isinstance(last, datetime) else None


def _demote_echoes(findings: list[Finding]) -> list[Finding]:
    """A cohort's finding that only repeats a global one becomes information.

    When the error rate pages globally, every region, device and hour shows it too;
    one page says it, the cohort findings stay in the run as context. A cohort keeps
    its severity when it is worse than the global finding, or its own (:func:`_differs`):
    a minority whose AUC fell much further than the global one, the peak hours whose
    error rate jumped while the day's rose less.
    """
    def key(f: Finding) -> tuple[object, ...]:
        return (f.check, f.statistic, f.feature, f.start, f.end)

    globals_: dict[tuple[object, ...], Finding] = {}
    for f in findings:
        if f.cohort is None and f.entity is None:
            found = globals_.get(key(f))
            if found is None or f.severity > found.severity:
                globals_[key(f)] = f
    out = []
    for f in findings:
        echoed = globals_.get(key(f))
        if (f.cohort is not None and echoed is not None and f.severity <= echoed.severity
                and not _differs(f, echoed)):
            f = replace(f, severity=Severity.INFO, evidence={**f.evidence, "echoes_global": True})
        out.append(f)
    return out


def _differs(cohort: Finding, overall: Finding) -> bool:
    """Is a cohort's finding its own: a change at least 1.5 times the global change (from each
    one's baseline), and, where both have intervals, significantly apart from the global value?"""
    if cohort.interval is not None and overall.interval is not None:
        low, high = cohort.interval
        if low <= overall.value <= high:
            return False
    if cohort.threshold is not None and overall.threshold is not None:
        return abs(cohort.value - cohort.threshold) >= 1.5 * abs(overall.value - overall.threshold)
    if cohort.impact is not None and overall.impact is not None:
        return abs(cohort.impact) >= 1.5 * abs(overall.impact)
    return False
