"""Echoes judged finding by finding and by size: which input change can explain which performance change."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from loopwatch.core.alerts import Alert, AlertState
from loopwatch.core.findings import Finding, Kind, Severity
from loopwatch.core.profile import ALL, Binning, ScoreStats
from loopwatch.core.spec import Spec, spec_from_mapping
from loopwatch.evaluation.comparison import compare
from loopwatch.monitoring.alert_policy import group_findings
from loopwatch.monitoring.echoes import Reach, can_explain, reach_of

DAY = datetime(2026, 3, 26, tzinfo=UTC)
SPEC = Spec.model_validate({
    "model": "card-fraud", "owner": "fraud-ml",
    "features": [{"name": "velocity_ratio", "dtype": "numeric"},
                 {"name": "card_type", "dtype": "categorical"}],
    "cohorts": ["region"],
})


def drift(impact: float | None, *, days: int = 7, severity: Severity = Severity.PAGE) -> Finding:
    """velocity_ratio drifted; ``impact``: the relative change in positive decisions it caused."""
    return Finding(kind="drift", check="drift", statistic="divergence", start=DAY - timedelta(days=days),
                   end=DAY, feature="velocity_ratio", value=0.4, threshold=0.1, severity=severity,
                   impact=impact, message="velocity_ratio moved")


def missing(impact: float | None, statistic: str = "missing_rate") -> Finding:
    return Finding(kind="health", check="health", statistic=statistic, start=DAY - timedelta(days=7),
                   end=DAY, feature="card_type", value=0.08, threshold=0.0, severity=Severity.PAGE,
                   impact=impact, message="card_type missing")


def perf(metric: str, value: float, reference: float, *, high: float | None = None,
         cohort: str | None = None, precision: float = 0.8) -> Finding:
    """A performance finding of the labels window 03-17 to 03-24 (overlapping the 7-day input
    windows), ``high`` its interval's upper end."""
    evidence: dict[str, Any] = {"p_value": 1e-4}
    if metric == "recall":
        evidence["reference_precision"] = precision
    return Finding(kind="performance", check="performance", statistic=metric,
                   start=DAY - timedelta(days=9), end=DAY - timedelta(days=2), cohort=cohort,
                   value=value, interval=(value - 0.05, value + 0.05 if high is None else high),
                   threshold=reference, n=400, severity=Severity.PAGE, message=metric,
                   evidence=evidence)


def test_a_drift_that_adds_flags_cannot_lower_recall_but_can_lower_precision() -> None:
    more = Reach(up=0.6)
    assert not can_explain(more, perf("recall", 0.235, 0.364))
    assert can_explain(more, perf("precision", 0.55, 0.835))     # p / (1 + up) = 0.52
    assert not can_explain(more, perf("precision", 0.30, 0.835))  # nor this far
    assert can_explain(more, perf("false_positive_rate", 0.05, 0.003))
    assert not can_explain(Reach(down=0.3), perf("false_positive_rate", 0.05, 0.003))
    assert can_explain(more, perf("roc_auc", 0.66, 0.89))  # any input change can reorder scores


def test_recall_falls_at_most_by_the_flags_removed_over_the_true_positives() -> None:
    # 10% of flags removed, precision 0.8: at most 12.5% of the true positives lost
    fewer = Reach(down=0.10)
    assert can_explain(fewer, perf("recall", 0.33, 0.364))          # -9%
    assert not can_explain(fewer, perf("recall", 0.235, 0.364))     # -35%
    # judged at the edge of the interval: a noisy -35% whose interval reaches -10% is explained
    assert can_explain(fewer, perf("recall", 0.235, 0.364, high=0.33))
    # the same removal explains more where precision is lower (fewer true positives to lose)
    assert can_explain(fewer, perf("recall", 0.235, 0.364, precision=0.25))


def test_a_cause_without_a_known_decision_shift_explains_any_metric() -> None:
    stuck = replace(missing(0.4, "stale"))
    assert reach_of([stuck]) == Reach(bounded=False)
    assert reach_of([drift(None)]) == Reach(bounded=False)
    assert can_explain(reach_of([stuck]), perf("recall", 0.1, 0.364))
    assert reach_of([drift(0.6), missing(-0.05), drift(-0.9, severity=Severity.INFO)]) == Reach(0.6, 0.05)


def test_the_reach_of_a_raised_alert_is_read_from_its_stored_findings() -> None:
    stored = [{**drift(0.6).to_dict(), "suppressed": False},
              {**perf("precision", 0.5, 0.8).to_dict(), "suppressed": True}]  # an echo it held
    assert reach_of(stored) == Reach(up=0.6)


def test_a_label_change_beside_a_drift_keeps_its_alert_and_the_drifts_echo_stays_with_the_drift() -> None:
    findings = [drift(0.6), perf("recall", 0.235, 0.364), perf("precision", 0.55, 0.835),
                perf("roc_auc", 0.66, 0.89)]
    drafts = group_findings(findings, spec=SPEC)
    [own] = [d for d in drafts if d.kind == "performance"]
    assert [f.statistic for f in own.findings] == ["recall"] and own.cohort is None
    [cause] = [d for d in drafts if d.kind == "drift"]
    assert sorted(f.statistic for f in cause.suppressed) == ["precision", "roc_auc"]
    # a drift of unknown size explains the whole cohort, as before
    [only] = group_findings([drift(None), *findings[1:]], spec=SPEC)
    assert only.kind == "drift" and len(only.suppressed) == 3


def test_a_failure_that_removed_enough_flags_explains_the_recall_drop_a_small_one_does_not() -> None:
    recall = perf("recall", 0.235, 0.364)
    [big] = group_findings([missing(-0.40), recall], spec=SPEC)
    assert big.kind == "health" and big.suppressed == (recall,)
    small = group_findings([missing(-0.02), recall], spec=SPEC)
    assert sorted(d.kind for d in small) == ["health", "performance"]


def _raised(kind: Kind, findings: list[Finding], *, onset: datetime) -> Alert:
    return Alert(id="3", fingerprint=f"{kind}|card-fraud|velocity_ratio|-|-|-|-", model="card-fraud",
                 kind=kind, severity=Severity.PAGE, state=AlertState.OPEN, onset=onset,
                 raised_at=onset, last_seen=DAY - timedelta(days=1), headline="velocity_ratio moved",
                 feature="velocity_ratio",
                 findings=tuple({**f.to_dict(), "suppressed": False} for f in findings))


def test_across_runs_a_raised_drift_takes_the_echo_it_can_explain_and_leaves_the_rest() -> None:
    live = _raised("drift", [drift(0.6)], onset=DAY - timedelta(days=22))
    findings = [perf("recall", 0.235, 0.364), perf("precision", 0.55, 0.835)]
    [own] = group_findings(findings, spec=SPEC, open_alerts=[live])
    assert [f.statistic for f in own.findings] == ["recall"]  # the precision echo stays in the run
    # a drift that removed 45% of flags can explain both (recall to 0.16, precision to 0.70)
    fewer = _raised("drift", [drift(-0.45)], onset=DAY - timedelta(days=22))
    both = [perf("recall", 0.235, 0.364), perf("precision", 0.70, 0.835)]
    assert group_findings(both, spec=SPEC, open_alerts=[fewer]) == []


def test_a_recall_finding_carries_the_reference_precision_its_echo_is_judged_by() -> None:
    spec = spec_from_mapping({"model": "m", "features": [{"name": "x", "dtype": "numeric"}]})
    binning = Binning(numeric={}, categorical={}, score=(0.5,))

    def profile(by_label: list[list[int]]) -> dict[Any, Any]:
        counts = np.array(by_label)
        stats = ScoreStats(counts, counts.sum(axis=0, keepdims=True), np.zeros((3, 2)), np.zeros((3, 2)))
        return {ALL: replace(binning.empty(DAY, DAY), n=int(counts.sum()), score=stats)}

    before = profile([[9000, 100], [200, 700], [0, 0]])  # precision 700 / 800
    after = profile([[9000, 100], [500, 400], [0, 0]])
    [recall] = [f for f in compare(before, after, binning, spec, window=after[ALL].window)
                if f.statistic == "recall"]
    assert recall.evidence["reference_precision"] == pytest.approx(700 / 800)
