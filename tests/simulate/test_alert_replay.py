"""The alert replay: scoring alerts against ground truth, hysteresis reapplied, and a real replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from loopwatch.core.alerts import AlertDraft, fingerprint_of
from loopwatch.core.findings import Finding, Severity
from loopwatch.simulate.alert_replay import ReplayDay, first_named, reapply, replay_alerts, score
from loopwatch.simulate.fraud import SimulationConfig, simulate

DAY0 = datetime(2026, 2, 1, tzinfo=UTC)
INCIDENT = {"kind": "dropped_category", "onset": "2026-02-04T00:00:00+00:00",
            "end": "2026-02-07T00:00:00+00:00", "features": [], "cohorts": [],
            "entities": [{"column": "merchant_category", "value": "crypto"}], "sources": [],
            "harmful": True, "label_only": False}


def t(n: int) -> datetime:
    return DAY0 + timedelta(days=n)


def draft(n: int, entity: str, severity: Severity = Severity.PAGE) -> AlertDraft:
    f = Finding(kind="coverage", check="coverage", statistic="share", start=t(n - 1), end=t(n), value=1.0,
                severity=severity, message="one score", entity=entity)
    return AlertDraft(fingerprint=fingerprint_of(model="fraud", kind="coverage", entity=entity),
                      model="fraud", kind="coverage", severity=severity, onset=t(n - 1),
                      headline=f"{entity} unscored", findings=(f,), entity=entity)


def days(seen: dict[int, list[AlertDraft]], runs: int) -> list[ReplayDay]:
    return [ReplayDay(run_time=t(n), drafts=tuple(seen.get(n, [])), alert_ids=(), live=(), seconds=0.0)
            for n in range(1, runs + 1)]


def test_an_incident_missed_for_a_day_is_one_alert_with_resolve_after_2_and_two_with_1() -> None:
    crypto = "merchant_category=crypto"
    # active on runs 4, 5, 6 (data days 02-04..02-06); seen on runs 4 and 6; an unrelated page on run 9
    seen = {4: [draft(4, crypto)], 6: [draft(6, crypto)], 9: [draft(9, "merchant_category=travel")]}
    steady, plane = reapply(days(seen, 12), resolve_after=2, reopen_within=timedelta(0))
    figures = score(steady, plane.alerts(include_resolved=True), [INCIDENT])
    (one,) = figures["incidents"]
    assert (one["page_alerts"], one["days_active"], one["days_open"]) == (1, 3, 3)
    assert one["days_missing_after_raised"] == 0
    assert one["days_to_raise"] == 1 and one["raised"] == t(4).isoformat()
    assert one["resolved"] == t(8).isoformat() and one["resolved_days_after_end"] == 2
    assert [u["days"] for u in figures["unrelated_page_alerts"]] == [["02-09"]]
    assert figures["quiet_days_with_a_page"] == 1
    jumpy, plane = reapply(days(seen, 12), resolve_after=1, reopen_within=timedelta(0))
    (two,) = score(jumpy, plane.alerts(include_resolved=True), [INCIDENT])["incidents"]
    # the first alert resolved the day the incident was missed: it is closed on runs 5 and 6
    assert two["page_alerts"] == 2 and two["days_missing_after_raised"] == 2


def test_first_named_is_the_first_run_while_active_that_names_the_incident_at_that_severity() -> None:
    crypto = "merchant_category=crypto"
    # run 3 checks 02-03, before the onset: its page does not count; a warning on run 5, a page on run 6
    seen = {3: [draft(3, crypto)], 5: [draft(5, crypto, Severity.WARNING)], 6: [draft(6, crypto)],
            7: [draft(7, "merchant_category=travel")]}
    replayed, _ = reapply(days(seen, 10), resolve_after=3, reopen_within=timedelta(0))
    assert first_named(replayed, INCIDENT) == (t(6), "1")
    assert first_named(replayed, INCIDENT, severity=Severity.WARNING) == (t(5), "1")
    elsewhere = {**INCIDENT, "entities": [{"column": "merchant_category", "value": "grocery"}]}
    assert first_named(replayed, elsewhere, severity=Severity.WARNING) is None


@pytest.fixture(scope="module")
def unscored_category(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """40 simulated days with a new merchant category that goes unscored, watched once a day."""
    config = SimulationConfig(days=40, decisions_per_day=3000, incidents=("dropped_category",), seed=3)
    result = simulate(config)
    start = datetime.fromisoformat(result.ground_truth["incidents"][0]["onset"]) - timedelta(days=1)
    replayed, plane = replay_alerts(result, tmp_path_factory.mktemp("replay"), first=start.replace(hour=0))
    figures = score(replayed, plane.alerts(include_resolved=True), result.ground_truth["incidents"])
    figures["last_run_applied"] = plane.last_run(result.spec.model) == replayed[-1].run_time
    plane.close()
    return figures


@pytest.mark.slow
def test_a_replayed_new_unscored_category_opens_one_page_alert_naming_it(
        unscored_category: dict[str, Any]) -> None:
    (incident,) = unscored_category["incidents"]
    assert incident["page_alerts"] == 1, unscored_category
    assert incident["alert_kind"] == "coverage"
    assert incident["days_to_raise"] is not None and incident["days_to_raise"] <= 2
    assert unscored_category["unrelated_page_alerts"] == [], unscored_category
    assert unscored_category["last_run_applied"]


@pytest.mark.slow
def test_the_alert_of_an_unscored_category_stays_open_while_it_lasts(
        unscored_category: dict[str, Any]) -> None:
    (incident,) = unscored_category["incidents"]
    assert incident["days_missing_after_raised"] == 0, unscored_category
