"""Evidence before a page: a single noisy window warns at most; persistence or a decisive test pages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from loopwatch.core.findings import Finding, Severity
from loopwatch.monitoring.evidence import SINGLE_WINDOW_P, require_evidence

END = datetime(2026, 3, 1, tzinfo=UTC)
WEEK = timedelta(days=7)


def _precision(*, n: int, p: float, end: datetime = END, cohort: str = "region=AFR",
               severity: Severity = Severity.PAGE) -> Finding:
    return Finding(kind="performance", check="performance", statistic="precision",
                   start=end - WEEK, end=end, value=0.0, n=n, severity=severity, cohort=cohort,
                   message="precision fell", evidence={"p_value": p})


class Prior:
    """The findings of the run one window earlier, and the calls made for them."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = list(findings)
        self.calls: list[tuple[timedelta, list[str]]] = []

    def __call__(self, length: timedelta, checks: Sequence[str]) -> Sequence[Finding]:
        self.calls.append((length, list(checks)))
        return self.findings


def test_twelve_labelled_rows_whose_precision_falls_to_zero_do_not_page() -> None:
    prior = Prior([_precision(n=12, p=1e-3, end=END - WEEK)])
    (found,) = require_evidence([_precision(n=12, p=1e-3)], min_rows=30, prior=prior)
    assert found.severity == Severity.WARNING
    assert "too few rows" in found.evidence["held_back"]
    assert prior.calls == []  # never looked further: the count alone rules it out


def test_the_same_fall_in_one_window_only_warns() -> None:
    prior = Prior([])
    (found,) = require_evidence([_precision(n=200, p=1e-4)], min_rows=30, prior=prior)
    assert found.severity == Severity.WARNING
    assert "one window only" in found.evidence["held_back"]
    assert prior.calls == [(WEEK, ["performance"])]


def test_the_same_fall_over_two_windows_with_enough_rows_pages() -> None:
    before = _precision(n=180, p=1e-3, end=END - WEEK, severity=Severity.WARNING)
    (found,) = require_evidence([_precision(n=200, p=1e-4)], min_rows=30, prior=Prior([before]))
    assert found.severity == Severity.PAGE
    assert found.evidence["persisted"] is True


def test_persistence_needs_the_same_subject_in_a_window_of_the_same_length() -> None:
    other_cohort = _precision(n=180, p=1e-3, end=END - WEEK, cohort="region=EU")
    day_long = Finding(kind="performance", check="performance", statistic="precision",
                       start=END - WEEK - timedelta(days=1), end=END - WEEK, value=0.0, n=50,
                       severity=Severity.PAGE, cohort="region=AFR", message="")
    (found,) = require_evidence([_precision(n=200, p=1e-4)], min_rows=30,
                                prior=Prior([other_cohort, day_long]))
    assert found.severity == Severity.WARNING


def test_a_decisive_single_window_pages_at_once() -> None:
    prior = Prior([])
    (found,) = require_evidence([_precision(n=2000, p=SINGLE_WINDOW_P / 10)], min_rows=30,
                                prior=prior)
    assert found.severity == Severity.PAGE and prior.calls == []


@pytest.mark.parametrize(("cohort", "severity"), [
    ("region=AFR", Severity.PAGE),
    ("hour_of_day=6", Severity.WARNING),  # one of 24 hours: its family needs 24 times more
    ("day_of_week=4", Severity.WARNING),
])
def test_time_bucket_cohorts_are_tested_as_one_family(cohort: str, severity: Severity) -> None:
    found = _precision(n=2000, p=SINGLE_WINDOW_P / 2, cohort=cohort)
    (graded,) = require_evidence([found], min_rows=30, prior=Prior([]))
    assert graded.severity == severity


def test_warnings_and_information_pass_unchanged() -> None:
    quiet = [_precision(n=5, p=0.2, severity=Severity.WARNING),
             _precision(n=5, p=0.2, severity=Severity.INFO)]
    prior = Prior([])
    assert require_evidence(quiet, min_rows=30, prior=prior) == quiet
    assert prior.calls == []
