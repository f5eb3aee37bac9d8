"""Scoring a replay against ground truth: first page, silent days, days after the end, stray alarms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from loopwatch.core.findings import Finding, Severity
from loopwatch.simulate.scoring import score_alarms, score_incidents

T0 = datetime(2026, 2, 1, tzinfo=UTC)


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def finding(severity: Severity, *, feature: str | None = None, cohort: str | None = None,
            kind: str = "drift", statistic: str = "s") -> Finding:
    return Finding(kind=kind, check=kind, statistic=statistic, start=T0, end=T0, value=1.0,
                   severity=severity, message=f"{kind} {feature or cohort}", feature=feature,
                   cohort=cohort)


def incident(kind: str, onset: datetime, end: datetime | None, *, features: tuple[str, ...] = (),
             cohorts: tuple[tuple[str, str], ...] = (), harmful: bool = True,
             label_only: bool = False) -> dict[str, Any]:
    return {"kind": kind, "onset": onset.isoformat(), "end": None if end is None else end.isoformat(),
            "features": list(features), "cohorts": [{"column": c, "value": v} for c, v in cohorts],
            "entities": [], "sources": [], "harmful": harmful, "label_only": label_only}


def test_an_incident_found_late_silent_then_echoing_after_its_end() -> None:
    # active over the days checked by the runs as of day 1..4 (onset day 0 12:00, end day 4)
    unit = incident("unit", day(0) + timedelta(hours=12), day(4), features=("amount",))
    page, warning = finding(Severity.PAGE, feature="amount"), finding(Severity.WARNING, feature="amount")
    runs = [(day(1), []), (day(2), [warning]), (day(3), [page]), (day(4), []),
            (day(5), [warning]), (day(6), [page]), (day(7), [])]
    (record,) = score_incidents(runs, [unit])
    assert record["detected"] and record["days_to_detect"] == 2.5
    assert record["finding"] == "drift: drift amount"
    assert record["active_days"] == 4 and record["silent_days"] == 2  # days 1 and 4
    assert record["after_end_days"] == 2  # days 5 and 6
    # an info finding is no report, and a finding about another feature does not match
    quiet = [(d, [finding(Severity.INFO, feature="amount"), finding(Severity.PAGE, feature="x")])
             for d, _ in runs]
    (missed,) = score_incidents(quiet, [unit])
    assert not missed["detected"] and missed["silent_days"] == 4 and missed["after_end_days"] == 0


def test_a_label_only_incident_needs_a_page_not_already_raised_at_its_onset() -> None:
    labels = incident("labels", day(2), None, cohorts=(("region", "AFR"),), label_only=True)
    old = finding(Severity.PAGE, cohort="region=AFR", kind="performance", statistic="precision")
    new = finding(Severity.PAGE, cohort="region=AFR", kind="performance", statistic="roc_auc")
    elsewhere = finding(Severity.PAGE, cohort="region=EU", kind="performance", statistic="roc_auc")
    runs = [(day(2), [old]), (day(3), [old, elsewhere]), (day(4), [old, new])]
    (record,) = score_incidents(runs, [labels])
    assert record["detected"] and record["days_to_detect"] == 2.0
    assert record["after_end_days"] is None


def test_alarms_naming_no_active_or_ended_incident_are_counted() -> None:
    unit = incident("unit", day(1), day(3), features=("amount",))
    later = incident("later", day(10), None, features=("late",))
    harmless = incident("growth", day(0), None, cohorts=(("region", "IN"),), harmful=False)
    runs = [
        (day(1), [finding(Severity.PAGE, feature="other")]),                   # nothing active
        (day(2), [finding(Severity.PAGE, feature="amount"),                    # the active one
                  finding(Severity.WARNING, feature="late")]),                 # not begun yet
        (day(5), [finding(Severity.WARNING, feature="amount"),                 # after its end
                  finding(Severity.PAGE, cohort="region=IN", kind="volume"),   # harmless, active
                  finding(Severity.INFO, feature="other")]),
    ]
    counts = score_alarms(runs, [unit, later, harmless])
    assert counts["pages_unmatched"] == 1 and counts["pages_unmatched_quiet"] == 1
    assert counts["warnings_unmatched"] == 1 and counts["warnings_unmatched_quiet"] == 0
    assert counts["check_days"] == 3 and len(counts["examples"]) == 2
