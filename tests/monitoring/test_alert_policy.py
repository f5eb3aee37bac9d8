"""The alert policy: one alert per cause, symptoms suppressed under it, nothing dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from loopwatch.core.findings import KINDS, Finding, Kind, Severity
from loopwatch.core.spec import Spec
from loopwatch.monitoring.alert_policy import group_findings, subject_of

DAY = datetime(2026, 2, 12, tzinfo=UTC)
PEAK = (11, 12, 13, 18, 19, 20)

SPEC = Spec.model_validate({
    "model": "card-fraud", "owner": "fraud-ml",
    "features": [
        {"name": "account_age_days", "dtype": "numeric", "owner": "customer-profile"},
        {"name": "failed_logins_7d", "dtype": "numeric", "owner": "customer-profile"},
        {"name": "amount", "dtype": "numeric", "owner": "payments-platform"},
        {"name": "velocity_ratio", "dtype": "numeric"},
        {"name": "distance_km", "dtype": "numeric"},
        {"name": "merchant_category", "dtype": "categorical", "owner": "payments-platform"},
    ],
    "cohorts": ["region"], "entities": ["merchant_category"],
})


def found(kind: Kind, statistic: str, *, days: int = 1, severity: Severity = Severity.PAGE,
          end: datetime = DAY, value: float = 0.4, **subject: Any) -> Finding:
    return Finding(kind=kind, check=kind, statistic=statistic, start=end - timedelta(days=days),
                   end=end, value=value, threshold=0.01, severity=severity, message=statistic,
                   **subject)


def missing(feature: str, hour: int | None, *, days: int = 1,
            severity: Severity = Severity.PAGE) -> Finding:
    cohort = None if hour is None else f"hour_of_day={hour}"
    return found("health", "missing_rate", days=days, severity=severity, feature=feature,
                 cohort=cohort)


def errors(hour: int | None, value: float = 0.16) -> Finding:
    return found("system", "error_rate", value=value,
                 cohort=None if hour is None else f"hour_of_day={hour}")


def held(drafts: list[Any]) -> list[Finding]:
    return [f for d in drafts for f in (*d.findings, *d.suppressed)]


def test_a_feature_missing_at_six_hours_in_both_windows_is_one_alert_listing_the_hours() -> None:
    findings = [missing("account_age_days", h, days=d) for h in PEAK for d in (1, 7)]
    [draft] = group_findings(findings, spec=SPEC)
    assert len(draft.findings) == 12
    assert draft.cohorts == tuple(f"hour_of_day={h}" for h in PEAK)
    assert draft.cohort is None
    assert draft.owner == "customer-profile"
    assert draft.onset == DAY - timedelta(days=1)  # the 1-day window, not the 7-day one's start
    assert "hours 11–13 and 18–20" in draft.headline
    assert "since 02-11" in draft.headline


def test_inputs_of_one_owner_are_one_alert_and_unowned_features_stay_apart() -> None:
    findings = [missing(f, h) for f in ("account_age_days", "failed_logins_7d") for h in PEAK]
    findings += [missing("velocity_ratio", None), missing("distance_km", None)]
    drafts = group_findings(findings, spec=SPEC)
    assert len(drafts) == 3
    owned = next(d for d in drafts if d.source == "customer-profile")
    assert len(owned.findings) == 12 and owned.feature is None
    assert "account_age_days and failed_logins_7d" in owned.headline
    assert {d.feature for d in drafts if d.source is None} == {"velocity_ratio", "distance_km"}
    assert {d.owner for d in drafts if d.source is None} == {"fraud-ml"}  # the model's owner


def test_errors_at_the_hours_inputs_went_missing_are_suppressed_under_the_missing_inputs() -> None:
    findings = [missing("account_age_days", h) for h in PEAK]
    findings += [errors(h) for h in PEAK] + [errors(None, 0.05)]
    [draft] = group_findings(findings, spec=SPEC)
    assert len(draft.suppressed) == 7
    assert draft.headline.endswith("16% errors there")


def test_errors_at_other_hours_are_an_alert_of_their_own() -> None:
    findings = [missing("account_age_days", h) for h in PEAK] + [errors(3)]
    drafts = group_findings(findings, spec=SPEC)
    assert sorted(d.kind for d in drafts) == ["health", "system"]
    assert all(not d.suppressed for d in drafts)


def test_errors_are_not_suppressed_by_missing_inputs_of_another_window() -> None:
    earlier = DAY - timedelta(days=3)
    findings = [found("health", "missing_rate", feature="amount", end=earlier), errors(None)]
    assert len(group_findings(findings, spec=SPEC)) == 2


def test_a_features_health_suppresses_its_drift_but_not_anothers() -> None:
    findings = [found("health", "out_of_range", days=7, feature="amount"),
                found("drift", "divergence", days=7, feature="amount"),
                found("drift", "divergence", days=7, feature="velocity_ratio",
                      severity=Severity.WARNING)]
    drafts = group_findings(findings, spec=SPEC)
    health = next(d for d in drafts if d.kind == "health")
    assert [f.feature for f in health.suppressed] == ["amount"]
    assert [d.feature for d in drafts if d.kind == "drift"] == ["velocity_ratio"]


def test_an_unscored_entity_suppresses_its_columns_schema_and_drift() -> None:
    entity = "merchant_category=crypto_exchange"
    findings = [found("coverage", "coverage", entity=entity, cohort=entity, value=0.0),
                found("schema", "unseen_share", feature="merchant_category", entity=entity,
                      severity=Severity.WARNING),
                found("drift", "divergence", feature="merchant_category", days=7)]
    [draft] = group_findings(findings, spec=SPEC)
    assert draft.kind == "coverage" and draft.entity == entity
    assert len(draft.suppressed) == 2
    assert draft.owner == "payments-platform"  # the entity column's owner
    assert draft.headline.startswith(f"{entity} is not being scored: 100%")


def test_a_minority_performance_drop_beside_a_global_drift_is_its_own_alert() -> None:
    findings = [found("drift", "divergence", days=7, feature="velocity_ratio"),
                found("drift", "divergence", days=7, feature="velocity_ratio",
                      cohort="region=AFR", severity=Severity.INFO),  # an echo of the global drift
                found("performance", "recall", days=7, cohort="region=AFR"),
                found("performance", "roc_auc", days=7, cohort="region=AFR")]
    drafts = group_findings(findings, spec=SPEC)
    perf = next(d for d in drafts if d.kind == "performance")
    assert perf.cohort == "region=AFR" and len(perf.findings) == 2
    assert perf.fingerprint == "performance|card-fraud|-|region=AFR|-|-|-"


def test_an_input_change_suppresses_performance_of_the_cohorts_and_hours_it_touches() -> None:
    findings = [found("health", "out_of_range", days=7, feature="amount"),
                found("health", "out_of_range", days=7, feature="amount", cohort="region=EU",
                      severity=Severity.WARNING),
                found("performance", "precision", days=7),
                found("performance", "precision", days=7, cohort="region=EU"),
                found("performance", "precision", days=7, cohort="day_of_week=4"),
                found("performance", "precision", days=7, cohort="region=NA")]
    drafts = group_findings(findings, spec=SPEC)
    assert len(drafts[0].suppressed) == 3
    assert [d.cohort for d in drafts if d.kind == "performance"] == ["region=NA"]


def test_a_cause_takes_the_highest_severity_of_its_symptoms() -> None:
    findings = [missing("account_age_days", h, severity=Severity.WARNING) for h in PEAK]
    findings += [errors(h) for h in PEAK]
    [draft] = group_findings(findings, spec=SPEC)
    assert draft.severity == Severity.PAGE


def test_info_findings_alone_raise_no_alert_and_join_the_alert_of_their_subject() -> None:
    findings = [found("health", "mean", feature="distance_km", severity=Severity.INFO),
                found("health", "mean", feature="amount", severity=Severity.INFO),
                found("health", "out_of_range", feature="amount")]
    [draft] = group_findings(findings, spec=SPEC)
    assert draft.feature == "amount" and len(draft.findings) == 2


def test_a_fingerprint_does_not_change_with_the_day_the_window_or_the_cohorts() -> None:
    first = group_findings([missing("account_age_days", 11)], spec=SPEC)[0]
    later = group_findings([missing("failed_logins_7d", h, days=7) for h in (12, 19)]
                           + [missing("account_age_days", None)], spec=SPEC)[0]
    assert first.fingerprint == later.fingerprint
    volume = found("volume", "decisions", cohort="source=pos", value=10.0)
    assert subject_of(volume, spec=SPEC).source == "pos"


_kinds = st.sampled_from(KINDS)
_features = st.sampled_from([None, "amount", "account_age_days", "merchant_category"])
_cohorts = st.sampled_from([None, "region=EU", "hour_of_day=12", "source=pos", "day_of_week=4"])
_entities = st.sampled_from([None, "merchant_category=crypto_exchange"])
_statistics = st.sampled_from(["missing_rate", "out_of_range", "error_rate", "precision",
                               "divergence", "decisions", "coverage", "unseen_share"])


@st.composite
def findings(draw: st.DrawFn) -> Finding:
    return found(draw(_kinds), draw(_statistics), days=draw(st.sampled_from([1, 7])),
                 severity=draw(st.sampled_from(list(Severity))),
                 end=DAY - timedelta(days=draw(st.integers(0, 3))),
                 feature=draw(_features), cohort=draw(_cohorts), entity=draw(_entities))


@settings(max_examples=300, deadline=None)
@given(st.lists(findings(), max_size=40))
def test_every_finding_that_warns_lands_in_exactly_one_alert(batch: list[Finding]) -> None:
    drafts = group_findings(batch, spec=SPEC)
    kept = held(drafts)
    warned = [f for f in batch if f.severity > Severity.INFO]
    assert sorted(map(id, (f for f in kept if f.severity > Severity.INFO))) == sorted(map(id, warned))
    assert len({id(f) for f in kept}) == len(kept)  # no finding in two alerts
    assert len({d.fingerprint for d in drafts}) == len(drafts)
    for draft in drafts:
        assert draft.severity == max(f.severity for f in (*draft.findings, *draft.suppressed))
        assert draft.headline


def test_a_source_losing_its_decisions_suppresses_the_drift_of_the_mix_but_a_spike_does_not() -> None:
    drop = found("volume", "decisions", cohort="source=pos", value=10.0)
    drop = Finding(**{**drop.__dict__, "threshold": 100.0})
    drift = found("drift", "divergence", days=7, feature="distance_km")
    [draft] = group_findings([drop, drift], spec=SPEC)
    assert draft.kind == "volume" and draft.suppressed == (drift,)
    spike = Finding(**{**drop.__dict__, "value": 300.0, "severity": Severity.WARNING})
    assert len(group_findings([spike, drift], spec=SPEC)) == 2


def test_a_source_losing_its_decisions_explains_the_mix_of_each_cohort_but_not_missing_values() -> None:
    # a region's remaining decisions lack the lost source's share: its features drift, and one the
    # source alone varied looks stuck; a feature going missing is not a change of mix
    drop = Finding(**{**found("volume", "decisions", cohort="source=pos", value=10.0).__dict__,
                      "threshold": 100.0})
    drift = found("drift", "divergence", feature="distance_km", cohort="region=AFR")
    stuck = found("health", "stale", feature="velocity_ratio", cohort="region=AFR")
    gone = missing("account_age_days", None)
    drafts = group_findings([drop, drift, stuck, gone], spec=SPEC)
    assert sorted(d.kind for d in drafts) == ["health", "volume"]
    [volume] = [d for d in drafts if d.kind == "volume"]
    assert sorted(f.statistic for f in volume.suppressed) == ["divergence", "stale"]


def _raised(kind: Kind, *, onset: datetime, resolved: datetime | None = None,
            cohort: str | None = None) -> Any:
    from loopwatch.core.alerts import Alert, AlertState

    return Alert(id="7", fingerprint=f"{kind}|card-fraud|amount|-|-|-|-", model="card-fraud",
                 kind=kind, severity=Severity.PAGE,
                 state=AlertState.RESOLVED if resolved else AlertState.OPEN, onset=onset,
                 raised_at=onset, last_seen=resolved or onset, headline="amount out of range",
                 feature="amount", cohort=cohort, resolved_at=resolved)


def test_a_performance_change_of_labels_covering_a_raised_incident_is_its_echo() -> None:
    # the unit change was raised on 02-06 and resolved on 02-09; the labels of 02-03 to 02-10
    # show its effect on precision two days later: no new alert, the findings stay in the run
    ended = _raised("health", onset=DAY - timedelta(days=6), resolved=DAY - timedelta(days=3))
    echoes = [found("performance", "precision", days=7, cohort=c)
              for c in (None, "day_of_week=4", "merchant_category=grocery")]
    own = found("performance", "recall", days=7, cohort="region=AFR")
    drafts = group_findings([*echoes, own], spec=SPEC, open_alerts=[ended])
    assert [d.cohort for d in drafts] == ["region=AFR"]  # a profiled cohort needs its own cause
    later = found("performance", "precision", days=7, end=DAY + timedelta(days=9))
    assert len(group_findings([later], spec=SPEC, open_alerts=[ended])) == 1  # no overlap
    assert len(group_findings(echoes, spec=SPEC)) == 3  # nothing known, nothing explained


def test_an_open_alert_keeps_the_onset_of_its_cause() -> None:
    first = group_findings([missing("account_age_days", 11)], spec=SPEC)[0]
    from loopwatch.core.alerts import Alert, AlertState

    live = Alert(id="1", fingerprint=first.fingerprint, model="card-fraud", kind="health",
                 severity=Severity.PAGE, state=AlertState.OPEN, onset=DAY - timedelta(days=5),
                 raised_at=DAY, last_seen=DAY, headline="")
    [again] = group_findings([missing("account_age_days", 11)], spec=SPEC, open_alerts=[live])
    assert again.onset == DAY - timedelta(days=5)
    assert "since 02-07" in again.headline


def test_a_slice_of_a_features_values_is_that_features_health_alert() -> None:
    def slice_(feature: str, label: str) -> Finding:
        f = found("coverage", "slice_positive_rate", feature=feature, value=0.0)
        return Finding(**{**f.__dict__, "check": "slice", "evidence": {"slice": label}})

    missing_only = group_findings([slice_("failed_logins_7d", "failed_logins_7d missing")],
                                  spec=SPEC)[0]
    both = group_findings([slice_("failed_logins_7d", "failed_logins_7d missing"),
                           missing("account_age_days", 12)], spec=SPEC)
    assert [d.fingerprint for d in both] == [missing_only.fingerprint]
    assert missing_only.fingerprint == "health|card-fraud|-|-|-|customer-profile|missing_rate"
    assert missing_only.headline == "slice_positive_rate"  # the slice's own sentence
    ranged = group_findings([slice_("amount", "amount above the reference range (>= 1e+04)"),
                             found("drift", "divergence", days=7, feature="amount")], spec=SPEC)
    assert [d.fingerprint for d in ranged] == ["health|card-fraud|amount|-|-|-|-"]
    assert len(ranged[0].suppressed) == 1
    entity = "merchant_category=crypto_exchange"
    unseen = group_findings([slice_("merchant_category", "merchant_category not among the "
                                                         "reference's categories"),
                             found("coverage", "coverage", entity=entity, cohort=entity)],
                            spec=SPEC)
    assert [d.entity for d in unseen] == [entity] and len(unseen[0].suppressed) == 1
    new_value = found("coverage", "slice_positive_rate", cohort="region=MARS")
    assert subject_of(new_value, spec=SPEC).cohort == "region=MARS"
    as_cohort = found("coverage", "slice_positive_rate", cohort=entity)
    [draft] = group_findings([as_cohort, found("coverage", "coverage", entity=entity,
                                               cohort=entity)], spec=SPEC)
    assert draft.entity == entity and draft.suppressed == (as_cohort,)
    assert len(group_findings([new_value, found("coverage", "coverage", entity=entity,
                                                cohort=entity)], spec=SPEC)) == 2
