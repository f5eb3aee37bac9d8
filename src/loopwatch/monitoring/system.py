"""System health of the prediction loop: error rate and latency percentiles, vs SLOs or the baseline."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from loopwatch.core.findings import Finding, Severity
from loopwatch.core.intervals import wilson
from loopwatch.core.profile import ALL, Cohort, Profile
from loopwatch.core.window import Window
from loopwatch.monitoring.checks import CheckContext, register_check
from loopwatch.monitoring.significance import two_proportions

__all__ = ["SystemCheck", "latency_quantile"]


def latency_quantile(counts: np.ndarray, edges: Sequence[float], q: float) -> float:
    """Upper edge of the latency bin holding quantile ``q`` (an upper bound, in ms; NaN if empty).

    Examples
    --------
    >>> latency_quantile(np.array([0, 90, 9, 1]), (1.0, 10.0, 100.0), 0.99)
    100.0
    """
    total = counts.sum()
    if not total:
        return math.nan
    index = int(np.searchsorted(np.cumsum(counts), q * total, side="left"))
    return float(edges[index]) if index < len(edges) else math.inf


@register_check("system")
class SystemCheck:
    """Error rate and p99 latency per cohort value (global, each source, each hour of day...).

    With SLOs in the spec (``monitoring.slo``) a breach pages; without them the
    error rate pages when it rises by ``page_error_rise`` (absolute) over the
    baseline, and p99 latency warns when it reaches ``latency_factor`` × the baseline's.
    """

    name = "system"

    def __init__(self, *, page_error_rise: float = 0.05, warning_error_rise: float = 0.01,
                 latency_factor: float = 2.0) -> None:
        if not 0 < warning_error_rise <= page_error_rise < 1:
            raise ValueError("expected 0 < warning_error_rise <= page_error_rise < 1; got "
                             f"{warning_error_rise}, {page_error_rise}")
        if latency_factor <= 1:
            raise ValueError(f"latency_factor must be > 1; got {latency_factor}")
        self.page_error_rise = page_error_rise
        self.warning_error_rise = warning_error_rise
        self.latency_factor = latency_factor

    def run(self, context: CheckContext) -> list[Finding]:
        window = context.current
        out: list[Finding] = []
        # a metric an open alert holds is compared with the days before its onset
        errors = context.baseline_for(window, "system", "error_rate")
        latency = context.baseline_for(window, "system", "latency_p99_ms")
        for cohort, current, before in context.pairs(window, errors):
            out += self._errors(context, window, cohort, current, before)
        for cohort, current, before in context.pairs(window, latency):
            out += self._latency(context, window, cohort, current, before)
        return out

    def _errors(self, context: CheckContext, window: Window, cohort: Cohort, current: Profile,
                before: Profile) -> list[Finding]:
        errors_c, errors_b = current.system.errors, before.system.errors
        rate_c, rate_b = errors_c / current.n, errors_b / before.n
        low, high = wilson(errors_c, current.n)
        slo = context.spec.monitoring.slo.error_rate
        if slo is not None:
            if low <= slo:
                return []
            severity, threshold = Severity.PAGE, slo
        else:
            rise = rate_c - rate_b
            if rise >= self.page_error_rise:
                severity = Severity.PAGE
            elif rise >= self.warning_error_rise and rate_c >= 2 * rate_b:
                severity = Severity.WARNING
            else:
                return []
            threshold = rate_b
        where = "" if cohort == ALL else f" for {cohort}"
        return [Finding(
            kind="system", check=self.name, statistic="error_rate", start=window.start,
            end=window.end, cohort=None if cohort == ALL else str(cohort), value=rate_c,
            interval=(low, high), threshold=threshold, n=current.n, severity=severity,
            impact=rate_c - rate_b,
            message=(f"{rate_c:.1%} of decisions{where} logged an error (baseline {rate_b:.1%}"
                     + (f", SLO {slo:.1%}" if slo is not None else "") + ")"),
            evidence={"p_value": two_proportions(errors_c, current.n, errors_b, before.n),
                      "baseline": rate_b},
        )]

    def _latency(self, context: CheckContext, window: Window, cohort: Cohort, current: Profile,
                 before: Profile) -> list[Finding]:
        edges = context.binning.latency
        counts_c, counts_b = current.system.latency, before.system.latency
        if counts_c.sum() < context.spec.monitoring.min_decisions or not counts_b.sum():
            return []
        p99_c = latency_quantile(counts_c, edges, 0.99)
        p99_b = latency_quantile(counts_b, edges, 0.99)
        slo = context.spec.monitoring.slo.latency_p99_ms
        limit = slo if slo is not None else self.latency_factor * p99_b
        if not p99_c > limit:
            return []
        # share of decisions slower than the limit, now vs the baseline: the test behind it
        slow = int(np.searchsorted(edges, limit, side="left"))
        above_c, above_b = int(counts_c[slow + 1:].sum()), int(counts_b[slow + 1:].sum())
        where = "" if cohort == ALL else f" for {cohort}"
        return [Finding(
            kind="system", check=self.name, statistic="latency_p99_ms", start=window.start,
            end=window.end, cohort=None if cohort == ALL else str(cohort), value=p99_c,
            threshold=limit, n=int(counts_c.sum()),
            severity=Severity.PAGE if slo is not None else Severity.WARNING,
            impact=p99_c / p99_b - 1 if p99_b > 0 else None,
            message=(f"p99 latency{where} is {p99_c:.3g} ms ("
                     + (f"SLO {slo:.3g} ms" if slo is not None else f"baseline {p99_b:.3g} ms") + ")"),
            evidence={"p_value": two_proportions(above_c, counts_c.sum(), above_b, counts_b.sum()),
                      "baseline_p99_ms": p99_b},
        )]
