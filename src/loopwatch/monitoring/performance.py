"""The performance check: the latest window whose labels have matured, against the reference.

Labels arrive late, so the window checked is not the current one but the
latest ``window``-long window, ending at most ``max_lag`` before the run's
``as_of``, whose label coverage has reached the reference's
(:func:`~loopwatch.evaluation.maturity.label_maturity`, global cohort). Every
cohort of that window is then compared with the reference
(:func:`~loopwatch.evaluation.comparison.compare`): the minimum-effect tests
are controlled by Benjamini–Hochberg within the check, and the survivors carry
their raw p-values, which the job controls again with every other check's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta

from loopwatch.core.findings import Finding, Severity
from loopwatch.core.profile import ALL
from loopwatch.core.spec import parse_duration
from loopwatch.core.window import Window
from loopwatch.evaluation.bins import ScoreBins
from loopwatch.evaluation.comparison import COMPARED_METRICS, MinimumEffect, compare
from loopwatch.evaluation.maturity import DEFAULT_MATURITY, LabelMaturity, label_maturity
from loopwatch.evaluation.profile_metrics import DEFAULT_THRESHOLD
from loopwatch.monitoring.checks import CheckContext, register_check

__all__ = ["PerformanceCheck"]


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
        window, _ = found
        findings = compare(context.profiles(context.reference), context.profiles(window),
                           context.binning, context.spec, window=window,
                           min_effects=self.min_effects, maturity=self.maturity,
                           fdr=context.spec.monitoring.fdr)
        # a moved base rate is a change in the world (more or less fraud), not a regression of
        # the model: context for the other metrics, never a warning or a page of its own
        return [replace(f, severity=Severity.INFO, evidence={**f.evidence, "context": True})
                if f.statistic == "base_rate" else f for f in findings]
