"""What the report's charts show, computed from stored daily profiles only (never from decision rows).

:func:`daily_profiles` reads the profile history once for the report's window
(and the reference); every other function here turns those profiles into the
numbers of one chart: metrics per cohort per week with their intervals, the
drift of each feature on each day graded by its impact on decisions, the
calibration curve, coverage per entity, and volume against its seasonal
baseline. Each value carries its n and interval, and "not enough data" is kept
apart from a healthy value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from scipy import stats

from loopwatch.core.intervals import wilson
from loopwatch.core.profile import ALL, HOUR_OF_DAY, Binning, Cohort, Profile
from loopwatch.core.profile_parts import ProfileParts
from loopwatch.core.spec import Spec
from loopwatch.core.window import Window
from loopwatch.evaluation import metrics
from loopwatch.evaluation.bins import ScoreBins
from loopwatch.evaluation.maturity import label_maturity
from loopwatch.evaluation.metrics import Metric
from loopwatch.evaluation.profile_metrics import DEFAULT_THRESHOLD
from loopwatch.monitoring.coverage import coverage
from loopwatch.monitoring.drift_stats import categorical_drift, numeric_drift
from loopwatch.monitoring.impact import decision_shift, slot_shares
from loopwatch.monitoring.volume import expected_count, prediction_sd
from loopwatch.storage.profile_history import ProfileHistory

__all__ = [
    "CalibrationPoint",
    "CoverageRow",
    "DailyProfiles",
    "DriftCell",
    "VolumeDay",
    "calibration_curve",
    "cohort_weeks",
    "coverage_rows",
    "daily_profiles",
    "drift_cells",
    "volume_days",
]

DAY = timedelta(days=1)
#: Metrics drawn per cohort over time.
COHORT_METRICS = ("decision_rate", "recall", "precision", "roc_auc")
#: Of those, the ones measured on labels (biased while labels are still arriving).
LABELLED = frozenset({"recall", "precision", "roc_auc"})


@dataclass(frozen=True)
class DailyProfiles:
    """The report's inputs: the stored parts of the window, the reference and the volume baseline before
    it; the reference profile of every cohort; and each day's global and hour-of-day profiles."""

    binning: Binning
    parts: ProfileParts
    reference: dict[Cohort, Profile]
    days: tuple[datetime, ...]
    by_day: tuple[dict[Cohort, Profile], ...]

    def window(self, first: int = 0, last: int | None = None) -> dict[Cohort, Profile]:
        """Every cohort's profile over days ``[first, last)`` of the window."""
        chosen = self.days[first:last]
        if not chosen:
            return {}
        return self.parts.profiles(self.binning, start=chosen[0], end=chosen[-1] + DAY)


def daily_profiles(history: ProfileHistory, start: datetime, end: datetime, *,
                   baseline_days: int = 28) -> DailyProfiles:
    """The global and hour-of-day profiles of each day of ``[start, end)``, and every cohort's profile of
    the reference window; the parts read also hold ``baseline_days`` before ``start`` (for volume)."""
    binning = history.binning()
    ref = history.reference_window()
    parts = history.parts(start=min(start - timedelta(days=baseline_days), ref.start), end=max(end, ref.end))
    reference = parts.profiles(binning, start=ref.start, end=ref.end)
    wanted = [ALL] + [Cohort(HOUR_OF_DAY, str(h)) for h in range(24)]
    days, by_day = [], []
    day = start
    while day < end:
        days.append(day)
        by_day.append(parts.profiles(binning, start=day, end=day + DAY, cohorts=wanted))
        day += DAY
    return DailyProfiles(binning, parts, reference, tuple(days), tuple(by_day))


def weeks(count: int) -> list[tuple[int, int]]:
    """Index ranges of whole weeks ending at the last day (a first partial week included).

    Examples
    --------
    >>> weeks(10)
    [(0, 3), (3, 10)]
    """
    out = []
    last = count
    while last > 0:
        out.append((max(0, last - 7), last))
        last -= 7
    return list(reversed(out))


def cohort_weeks(data: DailyProfiles, spec: Spec, column: str, *,
                 limit: int = 6) -> tuple[list[str], dict[str, dict[str, list[Metric]]]]:
    """Per value of cohort ``column`` (the ``limit`` largest) and metric, one Metric per week.

    A week whose labels have not matured (its label coverage is below the
    reference's in either stratum, :func:`~loopwatch.evaluation.maturity.label_maturity`)
    gives its label-based metrics as "not enough data": its labelled rows are a
    biased sample, not a measurement. Returns the week labels and
    ``{value: {metric: [Metric per week]}}``.
    """
    spans = weeks(len(data.days))
    merged = [data.window(a, b) for a, b in spans]
    totals: dict[Cohort, int] = {}
    for week in merged:
        for cohort, profile in week.items():
            if cohort.column == column:
                totals[cohort] = totals.get(cohort, 0) + profile.n
    chosen = sorted(totals, key=lambda c: (-totals[c], str(c.value)))[:limit]
    labels = [f"{data.days[a]:%m-%d}" for a, _ in spans]
    bins = ScoreBins.from_edges(data.binning.score)
    threshold = DEFAULT_THRESHOLD if spec.threshold is None else float(spec.threshold)
    out: dict[str, dict[str, list[Metric]]] = {}
    for cohort in sorted(chosen, key=lambda c: str(c.value)):
        rows: dict[str, list[Metric]] = {name: [] for name in COHORT_METRICS}
        ref = data.reference.get(cohort) or data.reference.get(ALL)
        for (a, b), week in zip(spans, merged, strict=True):
            profile = week.get(cohort) or data.binning.empty(data.days[a], data.days[b - 1] + DAY, cohort)
            found = _cohort_metrics(profile, data.binning, spec, bins, threshold)
            mature = ref is not None and label_maturity(profile.score.by_label, ref.score.by_label, bins=bins,
                                                        threshold=threshold).mature
            for name in COHORT_METRICS:
                m = found[name]
                if name in LABELLED and not mature and m.status == "ok":
                    m = Metric.not_enough_data(name, m.value, n=m.n, reason="labels not mature yet")
                rows[name].append(m)
        out[str(cohort.value)] = rows
    return labels, out


def _cohort_metrics(profile: Profile, binning: Binning, spec: Spec, bins: ScoreBins,
                    threshold: float) -> dict[str, Metric]:
    """The :data:`COHORT_METRICS` of a profile, as :func:`evaluate_profile` computes them (only those)."""
    by_label = profile.score.by_label
    positive_rows = [i for i, action in enumerate(binning.actions) if action in spec.positive_actions]
    return {"decision_rate": metrics.decision_rate(profile.score.by_action, positive_rows=positive_rows),
            "recall": metrics.recall(by_label, bins=bins, threshold=threshold),
            "precision": metrics.precision(by_label, bins=bins, threshold=threshold),
            "roc_auc": metrics.roc_auc(by_label)}


@dataclass(frozen=True)
class DriftCell:
    """One feature on one day: the drift effect (PSI scale), the relative shift of positive decisions it
    causes (the assured part), and the rows; ``enough`` False below the spec's ``min_decisions``."""

    feature: str
    day: datetime
    effect: float
    impact: float
    n: int
    enough: bool


def drift_cells(data: DailyProfiles, spec: Spec) -> list[list[DriftCell]]:
    """Per feature (the spec's order), per day: drift against the reference and its impact on decisions."""
    ref = data.reference.get(ALL)
    out: list[list[DriftCell]] = []
    names = [f.name for f in spec.stored_features if f.name in data.binning.numeric
             or f.name in data.binning.categorical]
    for name in names:
        row = []
        for day, profiles in zip(data.days, data.by_day, strict=True):
            cur = profiles.get(ALL)
            n = 0 if cur is None else cur.n
            enough = ref is not None and cur is not None and n >= spec.monitoring.min_decisions
            if not enough or ref is None or cur is None:
                row.append(DriftCell(name, day, math.nan, math.nan, n, False))
                continue
            if name in data.binning.numeric:
                r_num, c_num = ref.numeric[name], cur.numeric[name]
                effect = numeric_drift(r_num, c_num, data.binning.numeric[name]).effect
                shares = slot_shares(r_num), slot_shares(c_num)
            else:
                r_cat, c_cat = ref.categorical[name], cur.categorical[name]
                effect = categorical_drift(r_cat, c_cat).effect
                shares = slot_shares(r_cat), slot_shares(c_cat)
            impact = math.nan
            if name in cur.by_bin and name in ref.by_bin:
                shift = decision_shift(shares[0], shares[1], rates_now=cur.by_bin[name],
                                       rates_then=ref.by_bin[name], n_reference=ref.n, n_current=cur.n)
                impact = shift.relative
            row.append(DriftCell(name, day, float(effect), float(impact), n, True))
        out.append(row)
    return out


@dataclass(frozen=True)
class CalibrationPoint:
    """One group of score bins: mean score, observed positive rate with its Wilson interval, rows."""

    group: int
    score: float
    observed: float
    low: float
    high: float
    n: int


#: Score groups of the calibration curve: finer at low scores, where a rare-event model puts most
#: decisions (equal-count groups would all sit near 0).
CALIBRATION_EDGES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)


def calibration_curve(profile: Profile, binning: Binning, *,
                      edges: Sequence[float] = CALIBRATION_EDGES) -> list[CalibrationPoint]:
    """Reliability curve of labelled decisions: score bins pooled into groups between ``edges``, each
    with its mean score and the observed positive rate (Wilson interval); empty groups left out."""
    bins = ScoreBins.from_edges(binning.score)
    neg, pos = profile.score.by_label[0].astype(float), profile.score.by_label[1].astype(float)
    rows = neg + pos
    if rows.sum() <= 0:
        return []
    scores = np.nan_to_num(np.asarray(bins.scores, dtype=float), nan=0.0)
    group = np.searchsorted(np.asarray(edges, dtype=float), scores, side="right")
    out = []
    for g in range(len(edges) + 1):
        mask = (group == g) & (rows > 0)
        n = float(rows[mask].sum())
        if n <= 0:
            continue
        positives = float(pos[mask].sum())
        low, high = wilson(positives, n)
        out.append(CalibrationPoint(g, float((scores[mask] * rows[mask]).sum() / n), positives / n, low,
                                    high, round(n)))
    return out


@dataclass(frozen=True)
class CoverageRow:
    """An entity's coverage in the window (with its Wilson interval) and in the reference."""

    column: str
    value: str
    covered: int
    n: int
    low: float
    high: float
    reference: float
    enough: bool

    @property
    def share(self) -> float:
        return self.covered / self.n if self.n else math.nan


def coverage_rows(window: Mapping[Cohort, Profile], reference: Mapping[Cohort, Profile],
                  spec: Spec) -> list[CoverageRow]:
    """Per entity value of the window: its coverage, lowest first, beside the reference's."""
    out = []
    for column in spec.entities:
        for cohort in sorted((c for c in window if c.column == column), key=lambda c: str(c.value)):
            covered, n = coverage(window[cohort])
            low, high = wilson(covered, n)
            before = reference.get(cohort)
            ref_covered, ref_n = coverage(before) if before is not None else (0, 0)
            out.append(CoverageRow(column, str(cohort.value), covered, n, low, high,
                                   ref_covered / ref_n if ref_n else math.nan,
                                   n >= spec.monitoring.min_decisions))
    return sorted(out, key=lambda r: (not r.enough, r.share if r.enough else 0.0, r.column, r.value))


@dataclass(frozen=True)
class VolumeDay:
    """A day's decisions beside the seasonal baseline's expectation and its 95% prediction range."""

    day: datetime
    n: int
    expected: float
    low: float
    high: float


def volume_days(data: DailyProfiles, *, baseline_days: int = 28) -> list[VolumeDay]:
    """Decisions per day against the mean of the same weekday over the previous weeks (the volume check's
    baseline), with the prediction range the check uses (its spread inflated for the few weeks it has)."""
    if not data.days:
        return []
    first = data.days[0] - timedelta(days=baseline_days)
    stored = data.parts.moments.column("day")
    if len(stored):  # days before the first stored day are not days without decisions
        earliest = min(v for v in stored.to_pylist() if v is not None)
        first = max(first, datetime(earliest.year, earliest.month, earliest.day, tzinfo=UTC))
    counts: dict[datetime, int] = {}
    day = first
    while day < data.days[0]:  # the baseline's days; the window's own are in data.by_day already
        found = data.parts.profiles(data.binning, start=day, end=day + DAY, cohorts=[ALL]).get(ALL)
        counts[day] = 0 if found is None else found.n
        day += DAY
    for day, profiles in zip(data.days, data.by_day, strict=True):
        counts[day] = profiles[ALL].n if ALL in profiles else 0
    out = []
    for day in data.days:
        baseline = Window(max(first, day - timedelta(days=baseline_days)), day) if day > first else None
        expected, spread, samples = (expected_count(counts, Window(day, day + DAY), baseline)
                                     if baseline is not None else (math.nan, math.nan, 0))
        low = high = math.nan
        if samples >= 2 and math.isfinite(expected):
            sd = prediction_sd(expected, spread, samples)
            t = float(stats.t.ppf(0.975, df=samples - 1))
            low, high = max(0.0, expected - t * sd), expected + t * sd
        out.append(VolumeDay(day, counts.get(day, 0), expected, low, high))
    return out


def latency_quantiles(profile: Profile, edges: Sequence[float]) -> dict[str, float]:
    """p50, p95 and p99 latency (upper bin edges, ms) of a profile; NaN when none was logged."""
    from loopwatch.monitoring.system import latency_quantile

    counts = profile.system.latency
    return {f"p{round(q * 100)}": latency_quantile(counts, edges, q) for q in (0.5, 0.95, 0.99)}
