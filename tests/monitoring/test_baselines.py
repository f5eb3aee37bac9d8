"""Baselines that do not absorb incidents, and trend windows that let an ended incident go."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from loopwatch.core.alerts import Alert, AlertState
from loopwatch.core.findings import Kind, Severity
from loopwatch.core.spec import Spec, load_spec
from loopwatch.monitoring.baselines import OpenIncidents
from loopwatch.monitoring.job import run_checks
from loopwatch.simulate.fraud import SimulationConfig, simulate, write_simulation

T0 = datetime(2026, 2, 16, tzinfo=UTC)
ENTITY = "merchant_category=crypto_exchange"


def alert(kind: Kind, *, onset: datetime = T0, state: AlertState = AlertState.OPEN,
          findings: tuple[dict[str, Any], ...] = (), **subject: Any) -> Alert:
    return Alert(id="1", fingerprint=f"{kind}|x", model="card-fraud", kind=kind,
                 severity=Severity.PAGE, state=state, onset=onset, raised_at=onset,
                 last_seen=onset, headline="", findings=findings, **subject)


def test_open_alerts_hold_their_subjects_and_suppressed_symptoms_from_their_onset() -> None:
    missing = alert("health", source="customer-profile", metric="missing_rate", findings=(
        {"kind": "health", "feature": "account_age_days", "statistic": "missing_rate"},
        {"kind": "system", "statistic": "error_rate", "cohort": "hour_of_day=12",
         "suppressed": True}))
    coverage = alert("coverage", entity=ENTITY, onset=T0 + timedelta(days=2))
    volume = alert("volume", source="pos", metric="decisions", onset=T0 - timedelta(days=3))
    ended = alert("health", feature="amount", state=AlertState.RESOLVED)
    incidents = OpenIncidents.from_alerts([missing, coverage, volume, ended])
    assert incidents.onset("health", "account_age_days") == T0
    assert incidents.onset("system", "error_rate") == T0
    assert incidents.onset("coverage", ENTITY) == T0 + timedelta(days=2)
    assert incidents.onset("volume", "source=pos") == T0 - timedelta(days=3)
    assert incidents.onset("health", "amount") is None  # resolved
    assert incidents.onset("system", "latency_p99_ms") is None
    assert incidents.earliest == T0 - timedelta(days=3)


def test_an_alert_without_findings_holds_the_features_of_its_owner() -> None:
    spec = Spec.model_validate({"model": "card-fraud", "features": [
        {"name": "age", "dtype": "numeric", "owner": "profile-svc"},
        {"name": "logins", "dtype": "numeric", "owner": "profile-svc"},
        {"name": "amount", "dtype": "numeric", "owner": "payments"}]})
    incidents = OpenIncidents.from_alerts(
        [alert("health", source="profile-svc", metric="missing_rate")], spec=spec)
    assert incidents.onset("health", "age") == incidents.onset("health", "logins") == T0
    assert incidents.onset("health", "amount") is None


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Spec, dict[str, Any]]:
    out = tmp_path_factory.mktemp("baselines")
    result = simulate(SimulationConfig(days=60, decisions_per_day=4000,
                                       incidents=("dropped_category", "unit_change"), seed=11))
    write_simulation(result, out)
    return load_spec(out / "loopwatch.yaml"), result.ground_truth


def _incident(truth: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(i for i in truth["incidents"] if i["kind"] == kind)


def _day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(hour=0, minute=0)


@pytest.mark.slow
def test_an_unscored_category_keeps_paging_while_its_alert_is_open(
        store: tuple[Spec, dict[str, Any]]) -> None:
    spec, truth = store
    onset = _day(_incident(truth, "dropped_category")["onset"])
    first = run_checks(spec, as_of=onset + timedelta(days=1))
    assert ENTITY in {f.entity for f in first.pages}
    held = alert("coverage", entity=ENTITY, onset=onset)
    for days in (3, 8):
        as_of = onset + timedelta(days=days)
        # the trailing baseline has learnt the collapse as this entity's normal ...
        absorbed = run_checks(spec, as_of=as_of)
        assert ENTITY not in {f.entity for f in absorbed.pages if f.kind == "coverage"}
        # ... the baseline before the open alert's onset has not
        kept = run_checks(spec, as_of=as_of, update=False, open_alerts=[held])
        assert ENTITY in {f.entity for f in kept.pages if f.kind == "coverage"}


@pytest.mark.slow
def test_an_ended_incident_stops_paging_though_the_trend_window_still_holds_it(
        store: tuple[Spec, dict[str, Any]]) -> None:
    spec, truth = store
    incident = _incident(truth, "unit_change")
    end = _day(incident["end"]) + timedelta(days=1)
    during = run_checks(spec, as_of=_day(incident["onset"]) + timedelta(days=1))
    assert "amount" in {f.feature for f in during.pages}
    ended_seen = 0
    for days in (1, 3, 5):
        run = run_checks(spec, as_of=end + timedelta(days=days))
        assert "amount" not in {f.feature for f in run.pages if f.kind in ("health", "drift")}
        ended = [f for f in run.findings if f.feature == "amount" and f.evidence.get("ended")]
        assert all(f.end - f.start == timedelta(days=7) for f in ended)
        ended_seen += len(ended)
    assert ended_seen  # the 7-day window still held it: kept in the runs, as information


def test_a_trend_finding_the_latest_day_does_not_show_is_information() -> None:
    from loopwatch.core.findings import Finding
    from loopwatch.monitoring.checks import Window
    from loopwatch.monitoring.job import _quiet_ended

    current = Window(T0 - timedelta(days=1), T0)
    trend = Window(T0 - timedelta(days=7), T0)

    def found(window: Window, feature: str, check: str = "health") -> Finding:
        return Finding(kind="health" if check == "health" else "performance", check=check,
                       statistic="out_of_range", start=window.start, end=window.end, value=0.1,
                       severity=Severity.PAGE, message="m", feature=feature)

    ended, ongoing, today = found(trend, "amount"), found(trend, "age"), found(current, "age")
    other = found(trend, "amount", check="performance")  # a window of its own, not the trend's
    out = _quiet_ended([ended, ongoing, today, other], current=current, trend=trend)
    assert [f.severity for f in out] == [Severity.INFO, Severity.PAGE, Severity.PAGE, Severity.PAGE]
    assert out[0].evidence["ended"] is True
    assert _quiet_ended([ended], current=trend, trend=trend) == [ended]
    # a latest day whose change is graded information (chance in a thin cohort, or too small to
    # warn about) does not keep the trend window's page going
    faint = replace(found(current, "amount"), severity=Severity.INFO)
    kept = _quiet_ended([ended, faint], current=current, trend=trend)
    assert [f.severity for f in kept] == [Severity.INFO, Severity.INFO]
    assert kept[0].evidence["ended"] is True
    warned = replace(faint, severity=Severity.WARNING)
    assert _quiet_ended([ended, warned], current=current, trend=trend)[0].severity == Severity.PAGE
