"""A change that lasts: the performance check's two consecutive windows, and the page it earns.

Profiles are built from label counts per score bin (two bins, threshold 0.5): row 0 the
negatives, row 1 the positives, row 2 the unlabelled decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np

from loopwatch.core.findings import Finding, Severity
from loopwatch.core.profile import ALL, Binning, Cohort, Profile, ScoreStats
from loopwatch.core.spec import spec_from_mapping
from loopwatch.core.window import Window
from loopwatch.evaluation.comparison import compare_metrics
from loopwatch.monitoring.evidence import require_evidence
from loopwatch.monitoring.performance import compare_persisted

SPEC = spec_from_mapping({"model": "m", "features": [{"name": "x", "dtype": "numeric"}],
                          "cohorts": ["region"]})
BINNING = Binning(numeric={}, categorical={}, score=(0.5,))
AFR = Cohort("region", "AFR")
WEEK = timedelta(days=7)
REFERENCE = Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 31, tzinfo=UTC))
WINDOW = Window(datetime(2026, 2, 21, tzinfo=UTC), datetime(2026, 2, 28, tzinfo=UTC))
EARLIER = WINDOW.before(WEEK)
BOTH = Window(EARLIER.start, WINDOW.end)

# [negatives, positives, unlabelled] × [score < 0.5, score >= 0.5]
AFR_REFERENCE = [[2000, 20], [25, 37], [0, 0]]  # precision 37/57 = 65%
HEALTHY_WEEK = [[480, 4], [6, 9], [0, 0]]  # precision 9/13 = 69%
FALLEN_WEEK = [[470, 16], [15, 0], [0, 0]]  # none of the 16 flagged is a positive: precision 0
TWELVE_ROWS = [[8, 2], [2, 0], [0, 0]]  # 12 labelled rows, precision 0


def _profile(window: Window, cohort: Cohort, counts: list[list[int]]) -> Profile:
    by_label = np.array(counts)
    stats = ScoreStats(by_label, by_label.sum(axis=0, keepdims=True), np.zeros((3, 2)),
                       np.zeros((3, 2)))
    return replace(BINNING.empty(window.start, window.end, cohort), n=int(by_label.sum()),
                   score=stats)


def _traffic(window: Window, afr: list[list[int]]) -> dict[Cohort, Profile]:
    weeks = max(1, round(window.length / WEEK))
    rest = [[9000 * weeks, 100 * weeks], [200 * weeks, 700 * weeks], [0, 0]]
    return {ALL: _profile(window, ALL, rest), AFR: _profile(window, AFR, afr)}


def _profiles(earlier: list[list[int]], now: list[list[int]]
              ) -> Callable[[Window], Mapping[Cohort, Profile]]:
    pooled = (np.array(earlier) + np.array(now)).tolist()
    table = {REFERENCE: _traffic(REFERENCE, AFR_REFERENCE), EARLIER: _traffic(EARLIER, earlier),
             WINDOW: _traffic(WINDOW, now), BOTH: _traffic(BOTH, pooled)}
    return table.__getitem__


def _graded(earlier: list[list[int]], now: list[list[int]]) -> list[Finding]:
    found = compare_persisted(_profiles(earlier, now), reference=REFERENCE, window=WINDOW,
                              binning=BINNING, spec=SPEC)
    # no earlier run confirms anything: only the check's own two windows can
    return require_evidence(found, min_rows=SPEC.monitoring.min_decisions,
                            prior=lambda length, checks: [])


def _afr_precision(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.cohort == "region=AFR" and f.statistic == "precision"]


def test_a_cohort_with_twelve_labelled_rows_whose_precision_falls_to_zero_does_not_page() -> None:
    for earlier in (HEALTHY_WEEK, TWELVE_ROWS):  # once, or in both windows
        graded = _graded(earlier, TWELVE_ROWS)
        assert not any(f.severity == Severity.PAGE for f in graded)
        assert _afr_precision(graded) == []  # below min_decisions labelled rows: never tested


def test_the_same_fall_in_one_window_with_enough_rows_warns_at_most() -> None:
    graded = _afr_precision(_graded(HEALTHY_WEEK, FALLEN_WEEK))
    assert graded, "the fall is found in the window checked"
    assert all(f.severity <= Severity.WARNING for f in graded)
    assert all(f.end - f.start == WEEK for f in graded)  # no two-window finding


def test_the_same_fall_persisting_over_two_windows_with_enough_rows_pages() -> None:
    graded = _afr_precision(_graded(FALLEN_WEEK, FALLEN_WEEK))
    [persisted] = [f for f in graded if f.evidence.get("persisted")]
    assert persisted.severity == Severity.PAGE
    assert (persisted.start, persisted.end) == (BOTH.start, BOTH.end)
    assert "02-14 to 02-21" in persisted.message and "02-21 to 02-28" in persisted.message
    # its p-value is the pooled window's own test, as compare_metrics computes it
    [pooled] = [c for c in compare_metrics(_traffic(REFERENCE, AFR_REFERENCE),
                                           _traffic(BOTH, (2 * np.array(FALLEN_WEEK)).tolist()),
                                           BINNING, SPEC)
                if c.cohort == AFR and c.metric == "precision"]
    assert persisted.evidence["p_value"] == pooled.p_value
    # each window alone is too thin to page (16 flagged decisions): only the two together
    assert [w["n"] for w in persisted.evidence["windows"]] == [16, 16]
    [single] = [f for f in graded if not f.evidence.get("persisted")]
    assert single.severity == Severity.WARNING and "too few rows" in single.evidence["held_back"]


def test_a_window_before_that_would_overlap_the_reference_is_not_pooled() -> None:
    window = Window(REFERENCE.end + timedelta(days=3), REFERENCE.end + timedelta(days=10))
    table = {REFERENCE: _traffic(REFERENCE, AFR_REFERENCE), window: _traffic(window, FALLEN_WEEK)}
    found = compare_persisted(table.__getitem__, reference=REFERENCE, window=window,
                              binning=BINNING, spec=SPEC)
    assert found and not any(f.evidence.get("persisted") for f in found)
