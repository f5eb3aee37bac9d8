"""The evaluate job: every cohort's metrics in a window, label-free estimates, fairness gaps and findings.

:func:`evaluate` reads the stored daily profiles (bringing the profile history
up to date first), and returns an :class:`EvaluationReport`: per cohort and
metric the value, interval, n and label coverage; per day the global metrics
beside their label-free estimates, so that days whose labels have not arrived
still have numbers; the fairness gaps; and the comparison of the window's mature
part (the longest stretch from its start whose labels have matured) with the
reference. ``to_dict`` is what ``--format json`` prints, ``rows`` what a table shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow.compute as pc

from loopwatch.core.findings import Finding, exit_code
from loopwatch.core.profile import ALL, Binning, Cohort, Profile, utc_day_start
from loopwatch.core.spec import Spec
from loopwatch.core.store import DecisionSource
from loopwatch.core.window import Window
from loopwatch.errors import InputError
from loopwatch.evaluation.bins import ScoreBins
from loopwatch.evaluation.comparison import MinimumEffect, compare, value_per_decision
from loopwatch.evaluation.fairness import FairnessGap, fairness_gaps
from loopwatch.evaluation.label_free import Calibration, estimate_metrics, fit_calibration
from loopwatch.evaluation.maturity import DEFAULT_MATURITY, LabelMaturity, label_maturity
from loopwatch.evaluation.metrics import Metric
from loopwatch.evaluation.profile_metrics import DEFAULT_THRESHOLD, evaluate_profile
from loopwatch.storage.parquet_store import ParquetStore
from loopwatch.storage.profile_history import ProfileHistory

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CohortEvaluation", "DayEvaluation", "EvaluationReport", "evaluate"]

#: Metrics of the daily timeline (realized and estimated).
DAILY_METRICS = ("roc_auc", "precision", "recall", "false_positive_rate", "base_rate", "value_per_decision")
_TICK = timedelta(microseconds=1)
#: A cohort's own reference calibrates its label-free estimates from this many labelled positives on.
MIN_CALIBRATION_POSITIVES = 100


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class CohortEvaluation:
    """One cohort over the whole window: realized metrics, label maturity, label-free estimates."""

    cohort: Cohort
    n: int
    metrics: dict[str, Metric]
    maturity: LabelMaturity
    estimates: dict[str, Metric]

    def to_dict(self) -> dict[str, Any]:
        return {"cohort": str(self.cohort), "n": self.n, "label_coverage": _number(self.maturity.coverage),
                "maturity": self.maturity.to_dict(),
                "metrics": {k: m.to_dict() for k, m in self.metrics.items()},
                "estimates": {k: m.to_dict() for k, m in self.estimates.items()}}


@dataclass(frozen=True)
class DayEvaluation:
    """The global cohort on one day: realized metrics beside their label-free estimates."""

    start: datetime
    end: datetime
    n: int
    maturity: LabelMaturity
    metrics: dict[str, Metric]
    estimates: dict[str, Metric]

    def to_dict(self) -> dict[str, Any]:
        return {"start": _iso(self.start), "end": _iso(self.end), "n": self.n,
                "label_coverage": _number(self.maturity.coverage), "mature": self.maturity.mature,
                "metrics": {k: m.to_dict() for k, m in self.metrics.items()},
                "estimates": {k: m.to_dict() for k, m in self.estimates.items()}}


@dataclass(frozen=True)
class EvaluationReport:
    """What :func:`evaluate` found; plain data, rendered by the CLI and the reports.

    ``compared`` is the window's mature part that was compared with the
    reference (``None`` when no part of it has mature labels); ``fairness`` is
    measured on it (or on the whole window when there is none).
    """

    model: str
    start: datetime
    end: datetime
    reference: Window
    compared: Window | None
    threshold: float
    cohorts: tuple[CohortEvaluation, ...]
    days: tuple[DayEvaluation, ...]
    fairness: tuple[FairnessGap, ...]
    findings: tuple[Finding, ...]

    @property
    def exit_code(self) -> int:
        """0, or 1 when a regression pages (for cron and CI)."""
        return exit_code(self.findings)

    def __repr__(self) -> str:
        return (f"<EvaluationReport {self.model} {self.start:%Y-%m-%d}..{self.end:%Y-%m-%d}: "
                f"{len(self.cohorts)} cohorts, {len(self.findings)} findings>")

    def to_frame(self) -> pd.DataFrame:
        """:meth:`rows` as a pandas DataFrame: one row per cohort, metric and basis."""
        import pandas as pd

        return pd.DataFrame(self.rows())

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON keys, ISO 8601 times, non-finite numbers as null."""
        return {
            "model": self.model,
            "window": {"start": _iso(self.start), "end": _iso(self.end)},
            "reference": {"start": _iso(self.reference.start), "end": _iso(self.reference.end)},
            "compared": None if self.compared is None else {"start": _iso(self.compared.start),
                                                            "end": _iso(self.compared.end)},
            "threshold": self.threshold,
            "cohorts": [c.to_dict() for c in self.cohorts],
            "days": [d.to_dict() for d in self.days],
            "fairness": [g.to_dict() for g in self.fairness],
            "findings": [f.to_dict() for f in self.findings],
        }

    def rows(self) -> list[dict[str, Any]]:
        """Flat rows for a table: one per cohort and metric, realized (``basis`` ``labels``) and
        estimated (``basis`` ``label-free``), with ``value``, ``low``, ``high``, ``n``, ``status``
        (``ok``, ``not_enough_data`` or ``undefined``) and the cohort's ``label_coverage``."""
        out: list[dict[str, Any]] = []
        for c in self.cohorts:
            coverage = _number(c.maturity.coverage)
            for basis, metrics in (("labels", c.metrics), ("label-free", c.estimates)):
                for name, m in metrics.items():
                    out.append({"cohort": str(c.cohort), "metric": name, "basis": basis,
                                "value": _number(m.value), "low": _number(m.low), "high": _number(m.high),
                                "n": m.n, "status": m.status, "label_coverage": coverage,
                                "mature": c.maturity.mature})
        return out


class _Estimator:
    """Label-free estimates with calibrations fitted once per reference cohort."""

    def __init__(self, reference: dict[Cohort, Profile], spec: Spec, bins: ScoreBins, threshold: float,
                 confidence: float, seed: int) -> None:
        self.reference, self.spec, self.bins = reference, spec, bins
        self.threshold, self.confidence, self.seed = threshold, confidence, seed
        self._fitted: dict[Cohort, Calibration | None] = {}

    def calibration(self, cohort: Cohort) -> Calibration | None:
        if cohort not in self._fitted:
            profile = self.reference.get(cohort)
            own = profile is not None and profile.score.by_label[1].sum() >= MIN_CALIBRATION_POSITIVES
            if cohort != ALL and not own:
                self._fitted[cohort] = self.calibration(ALL)
            elif profile is None:
                self._fitted[cohort] = None
            else:
                try:
                    self._fitted[cohort] = fit_calibration(profile.score.by_label,
                                                           value_sum=profile.score.value_sum, seed=self.seed)
                except ValueError:  # no labelled positives or negatives in the reference
                    self._fitted[cohort] = None
        return self._fitted[cohort]

    def estimate(self, cohort: Cohort, profile: Profile) -> dict[str, Metric]:
        calibration = self.calibration(cohort)
        if calibration is None:
            return {}
        return estimate_metrics(profile.score.by_label.sum(axis=0), calibration, bins=self.bins,
                                threshold=self.threshold, value_model=self.spec.value,
                                confidence=self.confidence, seed=self.seed)


def _realized(profile: Profile, binning: Binning, spec: Spec, bins: ScoreBins, threshold: float,
              confidence: float) -> dict[str, Metric]:
    metrics = evaluate_profile(profile, binning, spec, threshold=threshold, confidence=confidence)
    if spec.value is not None:
        metrics["value_per_decision"], _ = value_per_decision(profile, bins, spec, threshold=threshold,
                                                              confidence=confidence)
    return metrics


def evaluate(spec: Spec, *, start: datetime | None = None, end: datetime | None = None,
             store: DecisionSource | None = None, threshold: float | None = None,
             maturity: float = DEFAULT_MATURITY, min_effects: dict[str, MinimumEffect] | None = None,
             confidence: float = 0.95, seed: int = 0, update: bool = True) -> EvaluationReport:
    """Evaluate the model on ``[start, end)`` from the stored profiles.

    Parameters
    ----------
    spec
        The monitored model.
    start, end
        The window, widened to whole UTC days (default: from the end of the
        reference to the end of the last stored day).
    store
        The store (default: the spec's, ``ParquetStore.for_spec(spec)``).
    threshold
        Decision threshold (default: the spec's, else 0.5).
    maturity
        Share of the reference's label coverage a window must reach to be compared.
    min_effects
        Minimum effects of the comparison (see :mod:`~loopwatch.evaluation.comparison`).
    confidence
        Level of every interval.
    seed
        Seed of the label-free estimates' bootstrap.
    update
        Profile new days and outcomes first (default).

    Raises
    ------
    InputError
        The window is empty or ends before it starts.

    Examples
    --------
    >>> import tempfile
    >>> import pyarrow as pa
    >>> from loopwatch.core.spec import spec_from_mapping
    >>> spec = spec_from_mapping({"model": "m", "features": [{"name": "x", "dtype": "numeric"}],
    ...                           "reference": {"trailing": "1d"}})
    >>> store = ParquetStore(tempfile.mkdtemp(), spec=spec)
    >>> decisions = [{"decision_id": str(i), "timestamp": f"2026-03-0{1 + i % 2}T10:00:00Z",
    ...               "score": (i % 10) / 10, "x": float(i)} for i in range(200)]
    >>> outcomes = [{"decision_id": str(i), "observed_at": "2026-03-05T00:00:00Z",
    ...              "label": i % 10 >= 7} for i in range(200)]
    >>> _ = store.ingest("decisions", pa.Table.from_pylist(decisions), source="doctest")
    >>> _ = store.ingest("outcomes", pa.Table.from_pylist(outcomes), source="doctest")
    >>> report = evaluate(spec, store=store)
    >>> report.start.date(), report.end.date(), len(report.days), report.findings
    (datetime.date(2026, 3, 2), datetime.date(2026, 3, 3), 1, ())
    >>> sorted(report.rows()[0])
    ['basis', 'cohort', 'high', 'label_coverage', 'low', 'mature', 'metric', 'n', 'status', 'value']
    """
    store = store or ParquetStore.for_spec(spec)
    history = ProfileHistory(store)
    if update:
        history.update()
    binning = history.binning()
    ref_window = history.reference_window()
    ref_start, ref_end = ref_window.start, ref_window.end
    parts = history.parts()
    days_stored = parts.moments.column("day")
    if len(days_stored) == 0:
        raise InputError(f"the store at {store.location} holds no profiled days")
    last = pc.max(days_stored).as_py()
    first = utc_day_start(start) if start is not None else ref_end
    final = (utc_day_start(last) + timedelta(days=1) if end is None
             else utc_day_start(end + timedelta(days=1) - _TICK))
    if final <= first:
        raise InputError(f"the window {first:%Y-%m-%d} to {final:%Y-%m-%d} is empty; "
                         "give a start before the end (the default starts where the reference ends)")
    chosen = threshold if threshold is not None else spec.threshold
    chosen = DEFAULT_THRESHOLD if chosen is None else float(chosen)
    bins = ScoreBins.from_edges(binning.score)
    reference = parts.profiles(binning, start=ref_start, end=ref_end)
    if ALL not in reference:
        raise InputError(f"the reference window {ref_start:%Y-%m-%d} to {ref_end:%Y-%m-%d} "
                         "holds no decisions")
    ref_labels = reference[ALL].score.by_label
    estimator = _Estimator(reference, spec, bins, chosen, confidence, seed)

    days: list[DayEvaluation] = []
    running = None
    mature_until: datetime | None = None
    day = first
    while day < final:
        profile = parts.profiles(binning, start=day, end=day + timedelta(days=1), cohorts=[ALL])[ALL]
        matured = label_maturity(profile.score.by_label, ref_labels, bins=bins, threshold=chosen,
                                 maturity=maturity)
        realized = _realized(profile, binning, spec, bins, chosen, confidence)
        estimates = estimator.estimate(ALL, profile) if profile.n else {}
        days.append(DayEvaluation(start=day, end=day + timedelta(days=1), n=profile.n, maturity=matured,
                                  metrics={k: realized[k] for k in DAILY_METRICS if k in realized},
                                  estimates=estimates))
        running = profile if running is None else running.merge(profile)
        if running.n and label_maturity(running.score.by_label, ref_labels, bins=bins, threshold=chosen,
                                        maturity=maturity).mature:
            mature_until = day + timedelta(days=1)
        day += timedelta(days=1)

    current = parts.profiles(binning, start=first, end=final)
    cohorts = []
    for cohort, profile in sorted(current.items(), key=lambda item: (item[0] != ALL, str(item[0]))):
        ref = reference.get(cohort)
        matured = label_maturity(profile.score.by_label, ref_labels if ref is None else ref.score.by_label,
                                 bins=bins, threshold=chosen, maturity=maturity)
        cohorts.append(CohortEvaluation(cohort=cohort, n=profile.n, maturity=matured,
                                        metrics=_realized(profile, binning, spec, bins, chosen, confidence),
                                        estimates=estimator.estimate(cohort, profile)))

    findings: list[Finding] = []
    compared: Window | None = None
    measured = current
    if mature_until is not None:
        compared = Window(first, mature_until)
        if mature_until != final:
            measured = parts.profiles(binning, start=first, end=mature_until)
        findings = compare(reference, measured, binning, spec, window=compared,
                           threshold=chosen, min_effects=min_effects, maturity=maturity,
                           confidence=confidence)
    gaps = fairness_gaps(measured, binning, spec, threshold=chosen, confidence=confidence)
    return EvaluationReport(model=spec.model, start=first, end=final, reference=ref_window,
                            compared=compared, threshold=chosen, cohorts=tuple(cohorts), days=tuple(days),
                            fairness=tuple(gaps), findings=tuple(findings))
