"""Comparisons: each cohort's performance in a window against the reference, as graded findings.

For every cohort both windows hold (global, each cohort column value, hour of
day, day of week, source, entity) and every metric (ROC AUC, precision, recall,
false-positive rate, base rate and, with a value model, value per decision),
the current window is tested against the reference. The test is a *minimum
effect* test (a non-inferiority test, one-sided in the direction that is worse):
its null hypothesis is that the metric got worse by less than the metric's
minimum effect, so a healthy window whose metric moved by a negligible amount
stays quiet however many decisions it holds, and a large drop in a small cohort
is found once the data show it is large. All tests of a run are controlled
together with Benjamini–Hochberg.

* ROC AUC: difference of two independent AUCs, standard error from the two
  DeLong variances (DeLong, DeLong & Clarke-Pearson 1988; independent samples,
  so no covariance term), normal statistic.
* Proportions (recall, precision, false-positive rate, base rate): the Wald
  statistic of ``p_c - k·p_r`` (``k = 1 ∓ δ`` for a relative margin ``δ``, as in
  Farrington & Manning 1990, "Test statistics and sample size formulae for
  comparative binomial trials with null hypothesis of non-zero risk difference
  or non-unity relative risk", *Statistics in Medicine* 9:1447-1454), with each
  proportion and its variance taken after adding one success and one failure
  (Agresti & Caffo 2000, *The American Statistician* 54:280-288), so that a
  cohort with 0 of 3 positives caught has a variance, not zero, and is not
  alarmed on.
* Value per labelled decision: difference of two means, normal statistic, each
  mean's standard error from :func:`~loopwatch.evaluation.value.business_value`.

A window whose labels have not matured (:mod:`~loopwatch.evaluation.maturity`;
judged on the global cohort), a cohort of it that is significantly short of
labels, and cohorts with fewer labelled decisions than
``spec.monitoring.min_decisions`` are compared with nothing: they are kept in
:func:`compare_metrics`' output with their status, and never become findings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from loopwatch.core.findings import Finding, Severity
from loopwatch.core.intervals import benjamini_hochberg
from loopwatch.core.profile import ALL, Binning, Cohort, Profile
from loopwatch.core.spec import Spec
from loopwatch.core.window import Window
from loopwatch.evaluation.bins import ScoreBins
from loopwatch.evaluation.maturity import DEFAULT_MATURITY, LabelMaturity, label_maturity
from loopwatch.evaluation.metrics import (
    Metric,
    base_rate,
    delong,
    false_positive_rate,
    precision,
    recall,
    roc_auc,
)
from loopwatch.evaluation.minimum_effect import (
    DEFAULT_MIN_EFFECTS,
    MinimumEffect,
    minimum_effect_p_value,
    no_change_p_value,
)
from loopwatch.evaluation.profile_metrics import DEFAULT_THRESHOLD
from loopwatch.evaluation.value import value_per_decision

__all__ = [
    "COMPARED_METRICS",
    "DEFAULT_MIN_EFFECTS",
    "MetricComparison",
    "MinimumEffect",
    "compare",
    "compare_metrics",
    "value_per_decision",
]

Direction = Literal["down", "up", "either"]
Status = Literal["compared", "immature", "too_few"]


#: metric → (which way is worse, severity of a finding)
COMPARED_METRICS: Mapping[str, tuple[Direction, Severity]] = {
    "roc_auc": ("down", Severity.PAGE),
    "recall": ("down", Severity.PAGE),
    "precision": ("down", Severity.PAGE),
    "value_per_decision": ("down", Severity.PAGE),
    "false_positive_rate": ("up", Severity.WARNING),
    "base_rate": ("either", Severity.WARNING),
}

@dataclass(frozen=True)
class MetricComparison:
    """One cohort's metric in the current window against the reference, with the test's outcome.

    ``p_value`` is the minimum-effect test's (one-sided; two one-sided tests,
    Bonferroni-combined, for the base rate), NaN when nothing was tested;
    ``p_value_no_change`` the plain two-sided test of equality. ``significant``
    is the Benjamini–Hochberg decision over all tests of the run.
    """

    cohort: Cohort
    metric: str
    current: Metric
    reference: Metric
    maturity: LabelMaturity
    status: Status
    direction: Direction
    margin: float
    p_value: float = math.nan
    p_value_no_change: float = math.nan
    significant: bool = False
    labelled: int = 0

    @property
    def effect(self) -> float:
        """Current minus reference value."""
        return self.current.value - self.reference.value

    @property
    def relative_effect(self) -> float:
        ref = self.reference.value
        return self.effect / abs(ref) if ref else math.nan

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON keys; non-finite numbers as null."""
        return {"cohort": str(self.cohort), "metric": self.metric, "status": self.status,
                "current": self.current.to_dict(), "reference": self.reference.to_dict(),
                "effect": _number(self.effect), "margin": _number(self.margin),
                "p_value": _number(self.p_value), "p_value_no_change": _number(self.p_value_no_change),
                "significant": self.significant, "labelled": self.labelled,
                "maturity": self.maturity.to_dict()}


def _number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class _Side:
    """One window × cohort: its metrics, and per metric the estimate and variance the test uses."""

    metrics: dict[str, Metric]
    estimates: dict[str, tuple[float, float]] = field(default_factory=dict)  # (value, variance)


def _side(profile: Profile, bins: ScoreBins, spec: Spec, threshold: float, confidence: float) -> _Side:
    by_label = profile.score.by_label
    neg, pos = by_label[0].astype(np.float64), by_label[1].astype(np.float64)
    first = bins.first_flagged(threshold)
    tp, fp = float(pos[first:].sum()), float(neg[first:].sum())
    fn, tn = float(pos.sum()) - tp, float(neg.sum()) - fp
    metrics = {
        "roc_auc": roc_auc(by_label, confidence=confidence),
        "recall": recall(by_label, bins=bins, threshold=threshold, confidence=confidence),
        "precision": precision(by_label, bins=bins, threshold=threshold, confidence=confidence),
        "false_positive_rate": false_positive_rate(by_label, bins=bins, threshold=threshold,
                                                   confidence=confidence),
        "base_rate": base_rate(by_label, confidence=confidence),
    }
    counts = {"recall": (tp, tp + fn), "precision": (tp, tp + fp), "false_positive_rate": (fp, fp + tn),
              "base_rate": (tp + fn, tp + fn + fp + tn)}
    auc, variance = delong(by_label)
    estimates = {"roc_auc": (auc, variance)}
    if metrics["roc_auc"].status != "ok":  # below MIN_CLASS_ROWS: not enough data, never tested
        estimates["roc_auc"] = (auc, math.nan)
    if spec.value is not None:
        metric, var = value_per_decision(profile, bins, spec, threshold=threshold, confidence=confidence)
        metrics["value_per_decision"] = metric
        estimates["value_per_decision"] = (metric.value, var)
    for name, (x, n) in counts.items():
        # Agresti–Caffo: one success and one failure added, for the statistic and its variance
        adjusted = (x + 1) / (n + 2)
        estimates[name] = (adjusted, adjusted * (1 - adjusted) / (n + 2)) if n > 0 else (math.nan, math.nan)
    return _Side(metrics, estimates)


def _threshold(spec: Spec, threshold: float | None) -> float:
    chosen = threshold if threshold is not None else spec.threshold
    chosen = DEFAULT_THRESHOLD if chosen is None else float(chosen)
    if not math.isfinite(chosen):
        raise ValueError(f"threshold must be a finite number; got {chosen}")
    return chosen


def _effects(min_effects: Mapping[str, MinimumEffect] | None) -> dict[str, MinimumEffect]:
    chosen = dict(DEFAULT_MIN_EFFECTS)
    for name, effect in (min_effects or {}).items():
        if name not in COMPARED_METRICS:
            raise ValueError(f"unknown metric {name!r} in min_effects; expected one of: "
                             f"{', '.join(sorted(COMPARED_METRICS))}")
        if not isinstance(effect, MinimumEffect):
            raise ValueError(f"min_effects[{name!r}] must be a MinimumEffect; got {effect!r}")
        chosen[name] = effect
    return chosen


def compare_metrics(reference: Mapping[Cohort, Profile], current: Mapping[Cohort, Profile],
                    binning: Binning, spec: Spec, *, threshold: float | None = None,
                    min_effects: Mapping[str, MinimumEffect] | None = None,
                    maturity: float = DEFAULT_MATURITY, fdr: float = 0.05,
                    confidence: float = 0.95) -> list[MetricComparison]:
    """Every cohort × metric of ``current`` against ``reference``, tested, with the run's BH decision.

    Parameters
    ----------
    reference, current
        Profiles by cohort (e.g. ``ProfileHistory.profiles(start, end)``);
        cohorts present in both are compared.
    binning
        The binning both were profiled with.
    spec
        The monitored model: threshold, value model, ``monitoring.min_decisions``.
    threshold
        Decision threshold (default: the spec's, else 0.5).
    min_effects
        Minimum effects per metric, overriding :data:`DEFAULT_MIN_EFFECTS`.
    maturity
        Share of the reference's label coverage a window must reach
        (:func:`~loopwatch.evaluation.maturity.label_maturity`).
    fdr
        False discovery rate of the Benjamini–Hochberg control over all tests.
    confidence
        Level of the metrics' intervals.

    Returns
    -------
    list of MetricComparison
        One per cohort and metric, in cohort order, including the cohorts not
        tested (``status`` ``immature`` or ``too_few``).

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> from loopwatch.core.spec import spec_from_mapping
    >>> spec = spec_from_mapping({"model": "m", "features": [{"name": "x", "dtype": "numeric"}]})
    >>> binning = Binning(numeric={}, categorical={}, score=(0.5,))
    >>> day = datetime(2026, 1, 1, tzinfo=UTC)
    >>> empty = {ALL: binning.empty(day, day)}
    >>> [(c.metric, c.status) for c in compare_metrics(empty, empty, binning, spec)][:2]
    [('roc_auc', 'too_few'), ('recall', 'too_few')]
    """
    if not 0 < fdr < 1:
        raise ValueError(f"fdr must be in (0, 1); got {fdr}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    effects = _effects(min_effects)
    chosen = _threshold(spec, threshold)
    bins = ScoreBins.from_edges(binning.score)
    for profile in (*reference.values(), *current.values()):
        if profile.binning != binning.fingerprint:
            raise ValueError(f"profile of {profile.cohort} was computed with binning {profile.binning}, "
                             f"not {binning.fingerprint}; profile both windows against one reference")
    names = [m for m in COMPARED_METRICS if m != "value_per_decision" or spec.value is not None]
    window_mature = True
    if ALL in reference and ALL in current:
        window_mature = label_maturity(current[ALL].score.by_label, reference[ALL].score.by_label,
                                       bins=bins, threshold=chosen, maturity=maturity).mature
    out: list[MetricComparison] = []
    for cohort in sorted(set(reference) & set(current), key=lambda c: (c != ALL, c.column, c.value or "")):
        ref, cur = reference[cohort], current[cohort]
        matured = label_maturity(cur.score.by_label, ref.score.by_label, bins=bins, threshold=chosen,
                                 maturity=maturity)
        labelled = min(cur.score.labelled, ref.score.labelled)
        ready = window_mature and not matured.short
        status: Status = ("too_few" if labelled < spec.monitoring.min_decisions
                          else "compared" if ready else "immature")
        now, before = (_side(p, bins, spec, chosen, confidence) for p in (cur, ref))
        for name in names:
            direction, _ = COMPARED_METRICS[name]
            effect = effects[name]
            p = p0 = math.nan
            if status == "compared":
                c, r = now.estimates[name], before.estimates[name]
                if direction == "either":
                    down = minimum_effect_p_value(c, r, effect, "down")
                    up = minimum_effect_p_value(c, r, effect, "up")
                    p = min(1.0, 2 * min(down, up)) if math.isfinite(down) and math.isfinite(up) else math.nan
                else:
                    p = minimum_effect_p_value(c, r, effect, direction)
                p0 = no_change_p_value(c, r)
            out.append(MetricComparison(
                cohort=cohort, metric=name, current=now.metrics[name], reference=before.metrics[name],
                maturity=matured, status=status, direction=direction,
                margin=effect.margin(before.metrics[name].value), p_value=p, p_value_no_change=p0,
                labelled=cur.score.labelled))
    keep = benjamini_hochberg([c.p_value for c in out], fdr=fdr)
    return [_significant(c) if k else c for c, k in zip(out, keep, strict=True)]


def _significant(comparison: MetricComparison) -> MetricComparison:
    return replace(comparison, significant=True)


_LABELS = {"roc_auc": "ROC AUC", "recall": "recall", "precision": "precision",
           "false_positive_rate": "false-positive rate", "base_rate": "base rate",
           "value_per_decision": "value per decision"}


def _show(metric: str, value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    if metric == "roc_auc":
        return f"{value:.3f}"
    if metric == "value_per_decision":
        return f"{value:,.3g}"
    return f"{value:.2%}" if abs(value) < 0.1 else f"{value:.1%}"


def _message(c: MetricComparison) -> str:
    where = "" if c.cohort == ALL else f" for {c.cohort}"
    verb = "rose" if c.effect > 0 else "fell"
    relative = f"{c.relative_effect:+.0%}" if math.isfinite(c.relative_effect) else "n/a"
    m = c.metric
    return (f"{_LABELS[m]}{where} {verb} to {_show(m, c.current.value)} "
            f"[{_show(m, c.current.low)}, {_show(m, c.current.high)}] from {_show(m, c.reference.value)} "
            f"in the reference ({relative}; minimum effect {_show(m, c.margin)}; p={c.p_value:.2g}; "
            f"n={c.current.n}, label coverage {c.maturity.coverage:.0%})")


def _finding(c: MetricComparison, window: Window, reference_precision: float = math.nan) -> Finding:
    _, severity = COMPARED_METRICS[c.metric]
    ref_interval = [_number(c.reference.low), _number(c.reference.high)]
    # what a recall drop can be explained by: flags lost over the reference's true positives,
    # which are its precision times its flags (monitoring/echoes.py)
    context = {"reference_precision": reference_precision} if c.metric == "recall" else {}
    return Finding(
        kind="performance", check="performance", statistic=c.metric, start=window.start, end=window.end,
        cohort=None if c.cohort == ALL else str(c.cohort), value=c.current.value,
        interval=(c.current.low, c.current.high), threshold=c.reference.value, n=c.current.n,
        severity=severity, impact=c.effect, message=_message(c),
        evidence={"p_value": c.p_value, "p_value_no_change": c.p_value_no_change,
                  "reference_interval": ref_interval, "reference_n": c.reference.n,
                  "label_coverage": _number(c.maturity.coverage),
                  "reference_label_coverage": _number(c.maturity.reference_coverage),
                  "label_maturity": _number(c.maturity.ratio), "min_effect": c.margin,
                  "relative_effect": c.relative_effect, **context},
    )


def compare(reference: Mapping[Cohort, Profile], current: Mapping[Cohort, Profile], binning: Binning,
            spec: Spec, *, window: Window, threshold: float | None = None,
            min_effects: Mapping[str, MinimumEffect] | None = None, maturity: float = DEFAULT_MATURITY,
            fdr: float | None = None, confidence: float = 0.95) -> list[Finding]:
    """Performance findings of ``current`` against ``reference``: the significant changes beyond the
    minimum effect, most severe first.

    A decision-relevant metric (ROC AUC, recall, precision, value per decision)
    that got worse pages; a false-positive rate that rose or a base rate that
    moved warns. Cohorts with immature labels or too few labelled decisions are
    never findings (see :func:`compare_metrics` for everything that was compared).

    Parameters
    ----------
    reference, current, binning, spec, threshold, min_effects, maturity, confidence
        As for :func:`compare_metrics`.
    window
        The current window (any object with ``start`` and ``end``), for the findings.
    fdr
        False discovery rate over this run's tests (default ``spec.monitoring.fdr``).

    Returns
    -------
    list of Finding
        ``kind="performance"``; ``value`` and ``interval`` are the current
        window's, ``threshold`` the reference value, ``impact`` the change,
        ``evidence["p_value"]`` the raw (unadjusted) p-value of the minimum-effect test.

    Examples
    --------
    >>> from dataclasses import replace
    >>> from datetime import UTC, datetime
    >>> import numpy as np
    >>> from loopwatch.core.profile import ScoreStats
    >>> from loopwatch.core.spec import spec_from_mapping
    >>> spec = spec_from_mapping({"model": "m", "features": [{"name": "x", "dtype": "numeric"}]})
    >>> binning = Binning(numeric={}, categorical={}, score=(0.5,))
    >>> day = datetime(2026, 1, 1, tzinfo=UTC)
    >>> def profile(by_label):
    ...     counts = np.array(by_label)
    ...     stats = ScoreStats(counts, counts.sum(axis=0, keepdims=True), np.zeros((3, 2)), np.zeros((3, 2)))
    ...     return {ALL: replace(binning.empty(day, day), n=int(counts.sum()), score=stats)}
    >>> before = profile([[9000, 100], [200, 700], [0, 0]])
    >>> after = profile([[9000, 100], [500, 400], [0, 0]])   # recall 78% -> 44%, precision 88% -> 80%
    >>> found = compare(before, after, binning, spec, window=after[ALL].window)
    >>> [(f.statistic, str(f.severity)) for f in found]
    [('roc_auc', 'page'), ('recall', 'page')]
    >>> compare(before, before, binning, spec, window=before[ALL].window)
    []
    """
    comparisons = compare_metrics(reference, current, binning, spec, threshold=threshold,
                                  min_effects=min_effects, maturity=maturity,
                                  fdr=spec.monitoring.fdr if fdr is None else fdr, confidence=confidence)
    precision_of = {c.cohort: c.reference.value for c in comparisons if c.metric == "precision"}
    findings = [_finding(c, window, precision_of.get(c.cohort, math.nan))
                for c in comparisons if c.significant]
    findings.sort(key=lambda f: (-f.severity, f.evidence["p_value"], f.cohort or "", f.statistic))
    return findings
