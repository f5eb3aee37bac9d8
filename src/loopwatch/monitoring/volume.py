"""Volume: decisions per cohort value (source, region, hour of day...) against a seasonal baseline.

The expected count of a window is the mean of the same window shifted by whole
weeks (same hours of the week) over the baseline, or by whole days when the
baseline holds fewer than two weeks. The test allows for the extra-Poisson
spread the baseline itself shows and for the few windows it is estimated from:
variance ``E + (cv·E)²(1 + 1/k)`` for ``k`` windows, and a t distribution with
``k - 1`` degrees of freedom.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from scipy import stats

from loopwatch.core.findings import Finding, Severity
from loopwatch.core.profile import ALL, DAY_OF_WEEK, Cohort
from loopwatch.core.window import Window
from loopwatch.monitoring.checks import CheckContext, register_check

__all__ = ["VolumeCheck", "expected_count", "prediction_sd"]


def expected_count(counts: dict[datetime, int], window: Window,
                   baseline: Window) -> tuple[float, float, int]:
    """``(expected, relative spread, samples)`` of a window's count from earlier windows.

    Examples
    --------
    >>> from datetime import UTC
    >>> day = lambda d: datetime(2026, 1, d, tzinfo=UTC)
    >>> counts = {day(d): 100 for d in range(1, 29)}
    >>> expected_count(counts, Window(day(29), day(30)), Window(day(1), day(29)))
    (100.0, 0.0, 4)
    """
    def total(start: datetime) -> int:
        days = round(window.days)
        return sum(counts.get(start + timedelta(days=d), 0) for d in range(days))

    for step in (timedelta(weeks=1), timedelta(days=1)):
        starts: list[datetime] = []
        start = window.start - step
        while start + (window.end - window.start) > baseline.end:  # a baseline before an onset
            start -= step
        while start >= baseline.start and len(starts) < (4 if step.days == 7 else 7):
            starts.append(start)
            start -= step
        if len(starts) >= 2:
            samples = [total(s) for s in starts]
            mean = sum(samples) / len(samples)
            if mean <= 0:
                return 0.0, 0.0, len(samples)
            spread = math.sqrt(sum((x - mean) ** 2 for x in samples) / (len(samples) - 1)) / mean
            return mean, spread, len(samples)
    return math.nan, math.nan, 0


def prediction_sd(expected: float, spread: float, samples: int) -> float:
    """The standard deviation of a window's count predicted from ``samples`` earlier windows.

    Their relative ``spread``, inflated for the uncertainty of their mean, on top of
    Poisson noise; judged with a t distribution of ``samples - 1`` degrees of freedom.

    >>> prediction_sd(100.0, 0.0, 4)
    10.0
    """
    return math.sqrt(expected + (spread * expected) ** 2 * (1 + 1 / samples))


@register_check("volume")
class VolumeCheck:
    """Drops and spikes of decisions per cohort value against the seasonal baseline.

    A drop to ``page_ratio`` of the expected volume or less pages (decisions are
    lost); a spike is at most a warning (more traffic is rarely broken traffic,
    and the drift and health checks judge what it does to decisions).
    """

    name = "volume"

    def __init__(self, *, page_ratio: float = 0.5, warning_ratio: float = 0.7,
                 spike_ratio: float = 2.0) -> None:
        if not 0 < page_ratio <= warning_ratio < 1:
            raise ValueError("expected 0 < page_ratio <= warning_ratio < 1; got "
                             f"{page_ratio}, {warning_ratio}")
        if spike_ratio <= 1:
            raise ValueError(f"spike_ratio must be > 1; got {spike_ratio}")
        self.page_ratio, self.warning_ratio, self.spike_ratio = page_ratio, warning_ratio, spike_ratio

    def run(self, context: CheckContext) -> list[Finding]:
        window = context.current
        baseline = context.before(window)
        earliest = context.incidents.earliest
        first = baseline.start if earliest is None else min(
            baseline.start, earliest - (baseline.end - baseline.start))
        counts = context.daily_counts(Window(first, window.end))
        out: list[Finding] = []
        for cohort, by_day in sorted(counts.items()):
            if cohort.column == DAY_OF_WEEK:
                continue
            # a cohort an open alert holds is compared with the weeks before its onset
            own = context.baseline_for(window, "volume", "all" if cohort == ALL else str(cohort))
            expected, spread, samples = expected_count(by_day, window, own)
            if not math.isfinite(expected) or expected < context.spec.monitoring.min_decisions:
                continue
            observed = sum(n for d, n in by_day.items() if window.start <= d < window.end)
            out += self._judge(cohort, window, observed, expected, spread, samples)
        return out

    def _judge(self, cohort: Cohort, window: Window, observed: int, expected: float,
               spread: float, samples: int) -> list[Finding]:
        sd = prediction_sd(expected, spread, samples)
        z = (observed - expected) / sd
        p = float(2 * stats.t.sf(abs(z), df=samples - 1))
        ratio = observed / expected
        if ratio <= self.page_ratio:
            severity = Severity.PAGE
        elif ratio <= self.warning_ratio or ratio >= self.spike_ratio:
            severity = Severity.WARNING
        else:
            return []
        if abs(z) < 3:  # within the baseline's own spread: not a finding
            return []
        where = "all decisions" if cohort == ALL else str(cohort)
        word = "dropped" if ratio < 1 else "rose"
        return [Finding(
            kind="volume", check=self.name, statistic="decisions", start=window.start,
            end=window.end, cohort=None if cohort == ALL else str(cohort), value=float(observed),
            interval=(max(0.0, observed - 1.96 * math.sqrt(max(observed, 1))),
                      observed + 1.96 * math.sqrt(max(observed, 1))),
            threshold=expected, n=observed, severity=severity, impact=ratio - 1,
            message=(f"volume of {where} {word} to {ratio:.0%} of the seasonal baseline "
                     f"({observed:,} decisions, expected {expected:,.0f})"),
            evidence={"p_value": p, "z": z, "expected": expected, "spread": spread,
                      "baseline_windows": samples},
        )]
