"""The performance check: the latest window whose labels have matured, against the reference.

Labels arrive late, so the window checked is not the current one but the
latest ``window``-long window, ending at most ``max_lag`` before the run's
``as_of``, whose label coverage has reached the reference's
(:func:`~loopwatch.evaluation.maturity.label_maturity`, global cohort). Every
cohort of that window is then compared with the reference
(:func:`~loopwatch.evaluation.comparison.compare_metrics`): the minimum-effect
tests are controlled by Benjamini–Hochberg within the check, and the survivors
carry their raw p-values, which the job controls again with every other check's.

A change that lasts is also tested over two windows: the window before the
one checked (as long, not overlapping it, after the reference) and the two
pooled. A cohort whose metric got worse in *each* of the two windows on its own
(one-sided minimum-effect p-value at most :data:`EACH_WINDOW_P`, divided by the
size of its family for hour-of-day and day-of-week cohorts) is reported over the
pooled window, with the pooled test's p-value, as a change that persisted
(``evidence["persisted"]``): the evidence a page needs
(:mod:`~loopwatch.monitoring.evidence`), where a thin cohort's single window can
only warn. The pooled tests count in the check's Benjamini–Hochberg control
whether or not their windows agree, and requiring the agreement only removes
rejections, so the pooled p-value stays a valid one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Final

from loopwatch.core.findings import Finding, Severity
from loopwatch.core.intervals import benjamini_hochberg
from loopwatch.core.profile import ALL, Binning, Cohort, Profile
from loopwatch.core.spec import Spec, parse_duration
from loopwatch.core.window import Window
from loopwatch.evaluation.bins import ScoreBins
from loopwatch.evaluation.comparison import (
    COMPARED_METRICS,
    MetricComparison,
    MinimumEffect,
    compare_metrics,
    finding_of,
)
from loopwatch.evaluation.maturity import DEFAULT_MATURITY, LabelMaturity, label_maturity
from loopwatch.evaluation.profile_metrics import DEFAULT_THRESHOLD
from loopwatch.monitoring.checks import CheckContext, register_check
from loopwatch.monitoring.evidence import family_of

__all__ = ["EACH_WINDOW_P", "PerformanceCheck", "compare_persisted"]

#: Largest one-sided p-value with which each of two consecutive windows must show a change
#: for it to count as one that persisted (the conventional level: the pooled test must
#: also survive the run's false-discovery control; see the module's docstring).
EACH_WINDOW_P: Final = 0.05


@register_check("performance")
class PerformanceCheck:
    """Performance per cohort (AUC, recall, precision, false-positive rate, base rate, value) in the
    latest window with mature labels, against the reference.

    Parameters
    ----------
    window
        Length of the window compared (a duration such as ``7d``).
    max_lag
        How far before ``as_of`` the window may end; no finding when no window
        within it has mature labels.
    maturity
        Share of the reference's label coverage, per decision stratum, a window must reach.
    min_effects
        Minimum effects per metric, overriding
        :data:`~loopwatch.evaluation.comparison.DEFAULT_MIN_EFFECTS`.

    Examples
    --------
    >>> PerformanceCheck(window="7d").name
    'performance'
    >>> PerformanceCheck(maturity=1.5)
    Traceback (most recent call last):
    ...
    ValueError: maturity must be in (0, 1]; got 1.5
    """

    name = "performance"

    def __init__(self, *, window: str = "7d", max_lag: str = "42d", maturity: float = DEFAULT_MATURITY,
                 min_effects: Mapping[str, MinimumEffect] | None = None) -> None:
        self.length = parse_duration(window)
        self.max_lag = parse_duration(max_lag)
        if self.length < timedelta(days=1) or self.length % timedelta(days=1):
            raise ValueError(f"window must be whole days (profiles are daily); got {window!r}")
        if isinstance(maturity, bool) or not (isinstance(maturity, float | int) and 0 < maturity <= 1):
            raise ValueError(f"maturity must be in (0, 1]; got {maturity}")
        self.maturity = float(maturity)
        self.min_effects = dict(min_effects or {})
        for name, effect in self.min_effects.items():
            if name not in COMPARED_METRICS or not isinstance(effect, MinimumEffect):
                raise ValueError(f"min_effects must map metrics ({', '.join(sorted(COMPARED_METRICS))}) "
                                 f"to MinimumEffect; got {name!r}: {effect!r}")

    @property
    def lookback(self) -> timedelta:
        """How far before ``as_of`` the windows this check may compare reach."""
        return self.max_lag + self.length

    def mature_window(self, context: CheckContext) -> tuple[Window, LabelMaturity] | None:
        """The latest window with mature labels ending within ``max_lag`` of ``as_of``, if any.

        It starts no earlier than the end of the reference (a window overlapping
        the reference would be compared partly with itself).
        """
        spec = context.spec
        threshold = spec.threshold if spec.threshold is not None else DEFAULT_THRESHOLD
        bins = ScoreBins.from_edges(context.binning.score)
        reference = context.profile(context.reference).score.by_label
        lag = timedelta(0)
        while lag <= self.max_lag:
            end = context.as_of - lag
            window = Window.ending(end, self.length)
            if window.start < context.reference.end:
                return None
            found = context.parts.profiles(context.binning, start=window.start, end=window.end,
                                           cohorts=[ALL])
            profile = found.get(ALL)
            if profile is not None and profile.n:
                matured = label_maturity(profile.score.by_label, reference, bins=bins,
                                         threshold=threshold, maturity=self.maturity)
                if matured.mature:
                    return window, matured
            lag += timedelta(days=1)
        return None

    def run(self, context: CheckContext) -> list[Finding]:
        found = self.mature_window(context)
        if found is None:
            return []
        return compare_persisted(context.profiles, reference=context.reference, window=found[0],
                                 binning=context.binning, spec=context.spec,
                                 min_effects=self.min_effects, maturity=self.maturity)


def compare_persisted(profiles: Callable[[Window], Mapping[Cohort, Profile]], *, reference: Window,
                      window: Window, binning: Binning, spec: Spec,
                      min_effects: Mapping[str, MinimumEffect] | None = None,
                      maturity: float = DEFAULT_MATURITY) -> list[Finding]:
    """The performance findings of ``window`` and of the change that persisted over it and the
    window before it (see the module's docstring), most severe first.

    ``profiles(w)`` gives the profiles of every cohort in window ``w``. A moved base rate is
    reported as information (``evidence["context"]``).
    """
    def compared(w: Window) -> list[MetricComparison]:
        return compare_metrics(profiles(reference), profiles(w), binning, spec,
                               min_effects=min_effects, maturity=maturity, fdr=spec.monitoring.fdr)

    earlier = window.before(window.length)
    both = Window(earlier.start, window.end)
    single = compared(window)
    pooled = compared(both) if earlier.start >= reference.end else []
    before = {(c.cohort, c.metric): c for c in (compared(earlier) if pooled else [])}
    now = {(c.cohort, c.metric): c for c in single}
    keep = benjamini_hochberg([c.p_value for c in (*single, *pooled)], fdr=spec.monitoring.fdr)
    findings = [finding_of(c, window) for c, k in zip(single, keep[:len(single)], strict=True) if k]
    for c, k in zip(pooled, keep[len(single):], strict=True):
        key = (c.cohort, c.metric)
        if k and _persists(before.get(key), now.get(key)):
            findings.append(_persisted(finding_of(c, both), before[key], now[key], earlier, window))
    findings.sort(key=lambda f: (-f.severity, f.evidence["p_value"], f.cohort or "", f.statistic))
    # a moved base rate is a change in the world (more or less fraud), not a regression of
    # the model: context for the other metrics, never a warning or a page of its own
    return [replace(f, severity=Severity.INFO, evidence={**f.evidence, "context": True})
            if f.statistic == "base_rate" else f for f in findings]


def _persists(before: MetricComparison | None, now: MetricComparison | None) -> bool:
    """Did both windows, each on its own, show the metric worse by more than its minimum effect?"""
    if before is None or now is None:
        return False
    family = family_of(None if now.cohort == ALL else str(now.cohort))
    return all(c.status == "compared" and math.isfinite(c.p_value)
               and c.p_value * family <= EACH_WINDOW_P for c in (before, now))


def _persisted(finding: Finding, before: MetricComparison, now: MetricComparison, earlier: Window,
               window: Window) -> Finding:
    windows = [{"start": w.start.isoformat(), "end": w.end.isoformat(), "p_value": c.p_value,
                "value": c.current.value, "n": c.current.n, "labelled": c.labelled}
               for w, c in ((earlier, before), (window, now))]
    days = window.length / timedelta(days=1)
    return replace(finding, evidence={**finding.evidence, "persisted": True, "windows": windows},
                   message=(f"{finding.message}; worse in each of the two {days:g}-day windows "
                            f"{earlier.start:%m-%d} to {earlier.end:%m-%d} (p={before.p_value:.2g}) "
                            f"and {window.start:%m-%d} to {window.end:%m-%d} (p={now.p_value:.2g})"))
