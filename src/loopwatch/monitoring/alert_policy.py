"""The alert policy: one run's findings grouped into one :class:`AlertDraft` per cause.

Modelled on Prometheus Alertmanager. *group_by*: findings share an alert when
they share a subject — the check family and what it is about (a feature, an
entity, a source, a metric) — whatever the cohort or window length they were
seen in, so a feature missing at six peak hours, in the 1-day and the 7-day
window, is one alert listing the hours. Inputs of one owner that go missing
are one subject (their owner is the upstream that serves them). *inhibit_rules*:
an alert whose subject is a symptom of another alert's is suppressed by it and
listed under that alert's ``suppressed`` (see :data:`INHIBIT_RULES`). The
*repeat_interval* has no counterpart here: the control plane keeps one alert
per fingerprint across runs. Nothing is dropped: every finding of warning
severity or more lands in exactly one alert, as a finding or as a suppressed
symptom, and info findings join the alert of their subject when there is one.

Examples
--------
>>> from datetime import UTC, datetime, timedelta
>>> from loopwatch.core.findings import Finding, Severity
>>> from loopwatch.core.spec import Spec
>>> spec = Spec.model_validate({"model": "m", "features": [
...     {"name": "age", "dtype": "numeric", "owner": "profile-svc"}]})
>>> day = datetime(2026, 2, 11, tzinfo=UTC)
>>> def missing(hour: int) -> Finding:
...     return Finding(kind="health", check="health", statistic="missing_rate", start=day,
...                    end=day.replace(day=12), feature="age", cohort=f"hour_of_day={hour}",
...                    value=0.4, threshold=0.01, severity=Severity.PAGE, message="")
>>> [draft] = group_findings([missing(11), missing(12)], spec=spec)
>>> draft.fingerprint, draft.cohorts, draft.owner
('health|m|-|-|-|profile-svc|missing_rate', ('hour_of_day=11', 'hour_of_day=12'), 'profile-svc')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from loopwatch.core.alerts import Alert, AlertDraft, AlertState, fingerprint_of
from loopwatch.core.findings import Finding, Kind, Severity
from loopwatch.core.runbooks import risk_of, runbook_for
from loopwatch.core.spec import Spec
from loopwatch.monitoring.echoes import can_explain, known_cause, live_performance_onsets, reach_of, reaches
from loopwatch.monitoring.headlines import headline

__all__ = ["INHIBIT_RULES", "InhibitRule", "Subject", "group_findings", "subject_of"]


@dataclass(frozen=True, order=True)
class Subject:
    """What a finding is about, the ``group_by`` labels of an alert (cohort and window excluded)."""

    kind: Kind
    feature: str | None = None
    entity: str | None = None
    source: str | None = None
    metric: str | None = None
    #: the cohort when it is the subject itself (a performance change of one region)
    cohort: str | None = None


def subject_of(finding: Finding, *, spec: Spec) -> Subject:
    """The subject a finding is grouped by.

    * ``health`` missing values: the feature's owner (the upstream serving it) when
      the spec names one, else the feature; other health statistics: the feature.
    * ``drift`` and ``schema`` of a feature: the feature (a schema finding naming a
      new or lost value: that entity).
    * ``coverage``: the entity; ``volume``: the cohort value whose count moved
      (``source=pos`` → source ``pos``); ``system``: the metric (error rate,
      latency) and the source when the cohort is one.
    * ``performance``: the cohort (``None`` for the whole traffic); its metrics
      (AUC, recall...) are one alert.
    * the ``slice`` check's slices of a feature's missing or out-of-range values: that
      feature's health subject; its other slices (categories the reference never saw,
      new cohort values): the feature, or the cohort.
    """
    kind = finding.kind
    source = _source_of(finding.cohort, spec)
    if kind == "health":
        owner = _owner(spec, finding.feature)
        if finding.statistic == "missing_rate" and owner is not None:
            return Subject(kind, source=owner, metric="missing_rate")
        return Subject(kind, feature=finding.feature)
    if kind == "coverage" and finding.check == "slice" and finding.feature is not None:
        # a slice of a feature's values whose decisions moved is that feature's health
        # problem seen from the decisions: the same subject, so the alert keeps one
        # fingerprint whichever of the two a day shows
        label = str(finding.evidence.get("slice", ""))
        if label.endswith(" missing"):
            return subject_of(replace(finding, kind="health", statistic="missing_rate"), spec=spec)
        if "reference range" in label:
            return Subject("health", feature=finding.feature)
    if kind == "coverage":
        if finding.entity is None:  # a slice: a category the reference never saw, a new cohort value
            return Subject(kind, feature=finding.feature,
                           cohort=finding.cohort if finding.feature is None else None)
        return Subject(kind, entity=finding.entity)
    if kind == "schema":
        if finding.feature is None:
            return Subject(kind, metric=finding.statistic)
        return Subject(kind, feature=finding.feature, entity=finding.entity)
    if kind == "drift":
        return Subject(kind, feature=finding.feature)
    if kind == "volume":
        if source is not None:
            return Subject(kind, source=source, metric=finding.statistic)
        return Subject(kind, metric=finding.statistic, cohort=finding.cohort)
    if kind == "system":
        return Subject(kind, source=source, metric=finding.statistic)
    return Subject(kind, cohort=finding.cohort)


@dataclass
class _Group:
    subject: Subject
    findings: list[Finding] = field(default_factory=list)
    suppressed: list[Finding] = field(default_factory=list)
    cause: _Group | None = None

    @property
    def severity(self) -> Severity:
        return max(f.severity for f in self.findings)

    @property
    def cohorts(self) -> tuple[str | None, ...]:
        return tuple(sorted({f.cohort for f in self.findings if f.severity > Severity.INFO},
                            key=lambda c: (c is not None, _cohort_order(c))))

    @property
    def features(self) -> set[str]:
        return {f.feature for f in self.findings if f.feature is not None}

    def windows(self) -> list[tuple[datetime, datetime]]:
        return [(f.start, f.end) for f in self.findings if f.severity > Severity.INFO]


@dataclass(frozen=True)
class InhibitRule:
    """An Alertmanager ``inhibit_rule``: alerts of family ``target`` are symptoms of an alert
    of family ``source`` when ``applies(source, target)`` (same feature, hours, cohort...)."""

    name: str
    source: frozenset[Kind]
    target: frozenset[Kind]
    applies: Callable[[_Group, _Group, Spec], bool]


def _missing_explains_system(cause: _Group, symptom: _Group, spec: Spec) -> bool:
    """Errors and slow decisions in the hours (or cohorts) where inputs went missing, or
    globally (the day's error rate rises because those hours' do), in an overlapping window."""
    if not _missing(cause):
        return False
    where = set(cause.cohorts) | {None}
    return set(symptom.cohorts) <= where and _overlap(cause, symptom)


def _feature_explains(cause: _Group, symptom: _Group, spec: Spec) -> bool:
    """A feature's health (missing, out of range, stuck) explains its drift and schema changes."""
    return bool(cause.features & symptom.features) and _overlap(cause, symptom)


def _entity_explains(cause: _Group, symptom: _Group, spec: Spec) -> bool:
    """An entity that is not being scored, or a slice of a feature whose decisions collapsed,
    explains the drift, schema and health findings of that column or feature (a new category
    seen as drift, an unseen value, the missing values of the slice)."""
    if symptom.subject.kind == "coverage":
        # an entity explains a slice of its column, or the slice of its own value as a
        # cohort; not another entity
        if symptom.subject.entity is not None or cause.subject.entity is None:
            return False
        if symptom.subject.cohort is not None:
            return symptom.subject.cohort == cause.subject.entity and _overlap(cause, symptom)
    column = (cause.subject.entity or "").split("=", 1)[0]
    explained = {column, *cause.features} - {""}
    return bool(explained & symptom.features) and _overlap(cause, symptom)


def _input_explains_performance(cause: _Group, symptom: _Group, spec: Spec) -> bool:
    """An input change explains a performance change, in overlapping windows, where it reaches
    (:func:`~loopwatch.monitoring.echoes.reaches`) and as far as its decision shift can move
    the metric (:func:`~loopwatch.monitoring.echoes.can_explain`), finding by finding (the
    symptom is one finding); the cohorts of the input change are those at warning or more, so
    a cohort whose input change is only an echo of a global drift (info) keeps its own alert."""
    return (_overlap(cause, symptom)
            and reaches(cause.subject.kind, set(cause.cohorts), symptom.subject.cohort, spec)
            and all(can_explain(reach_of(cause.findings), f) for f in symptom.findings
                    if f.severity > Severity.INFO))


def _lost_traffic_explains_mix(cause: _Group, symptom: _Group, spec: Spec) -> bool:
    """Decisions lost from one source or cohort change the mix of the features it differs in,
    in the whole traffic and in every cohort that had them (a region's remaining decisions
    lack the source's share): a drop (not a spike) explains drift, and a feature that looks
    stuck or moved where the lost decisions were the ones that varied it, in an overlapping
    window. Missing values are not a change of mix: they stay alerts of their own."""
    dropped = any(f.value < (f.threshold or 0.0) and f.severity > Severity.INFO
                  for f in cause.findings)
    if not dropped or not _overlap(cause, symptom):
        return False
    return not any(f.statistic == "missing_rate" for f in symptom.findings)


#: The inhibition rules, most specific cause first. A finding suppressed by a rule is
#: listed under the cause's alert; a cause takes the highest severity of its symptoms,
#: so that inhibition never makes a page quieter.
INHIBIT_RULES: tuple[InhibitRule, ...] = (
    InhibitRule("missing inputs → errors and latency", frozenset({"health"}),
                frozenset({"system"}), _missing_explains_system),
    InhibitRule("unscored entity or slice → its feature's drift, schema, health and slices",
                frozenset({"coverage"}),
                frozenset({"drift", "schema", "health", "coverage"}), _entity_explains),
    InhibitRule("feature health → its drift and schema", frozenset({"health"}),
                frozenset({"drift", "schema"}), _feature_explains),
    InhibitRule("lost traffic → drift and stuck values of the mix", frozenset({"volume"}),
                frozenset({"drift", "health"}), _lost_traffic_explains_mix),
    InhibitRule("input change → performance", frozenset({"health", "drift", "coverage"}),
                frozenset({"performance"}), _input_explains_performance),
)


def group_findings(findings: Sequence[Finding], *, spec: Spec,
                   open_alerts: Sequence[Alert] = ()) -> list[AlertDraft]:
    """Group one run's findings into alert drafts, one per cause, most severe first.

    Parameters
    ----------
    findings
        The findings of one run (e.g. ``CheckRun.findings``).
    spec
        The monitored model: its id, and the owners of its features.
    open_alerts
        The model's alerts, live and recently resolved: a draft of a cause a live one holds
        keeps its onset (the headline says "since" the day the incident began); a
        performance change whose labels window overlaps the days of a raised input alert
        is that incident's echo, not a new alert (its findings stay in the run).

    Returns
    -------
    list[AlertDraft]
        One draft per subject with a finding of warning severity or more that no
        other alert inhibits; each lists the findings it groups and the symptoms it
        suppressed. Info findings of a subject without an alert are not alerts.
    """
    groups: dict[Subject, _Group] = {}
    for finding in findings:
        subject = subject_of(finding, spec=spec)
        groups.setdefault(subject, _Group(subject)).findings.append(finding)
    alerting = [g for g in groups.values() if g.severity > Severity.INFO]
    onsets = {a.fingerprint: a.onset for a in open_alerts if a.state is not AlertState.RESOLVED}
    began = live_performance_onsets(open_alerts)
    # a performance change is judged finding by finding: the drift that explains a cohort's
    # precision need not explain its recall
    alerting = [*(g for g in alerting if g.subject.kind != "performance"),
                *(_Group(g.subject, [f]) for g in alerting if g.subject.kind == "performance"
                  for f in g.findings if f.severity > Severity.INFO)]
    for symptom in alerting:
        symptom.cause = _cause(symptom, alerting, spec, onsets, began)
    # a performance change whose labels cover an incident already raised is its echo
    alerting = [g for g in alerting
                if g.cause is not None or g.subject.kind != "performance"
                or known_cause(g.findings[0], open_alerts, spec, began.get(g.subject.cohort)) is None]
    alerting = _rejoin(alerting, groups)
    drafts = []
    for group in alerting:
        if group.cause is not None:
            root = group.cause
            seen = {id(group)}
            while root.cause is not None and id(root) not in seen:
                seen.add(id(root))
                root = root.cause
            root.suppressed += group.findings
    for group in alerting:
        if group.cause is None:
            drafts.append(_draft(group, spec, onsets))
    drafts.sort(key=lambda d: (-d.severity, d.onset, d.fingerprint))
    return drafts


def _cause(symptom: _Group, groups: Sequence[_Group], spec: Spec, onsets: Mapping[str, datetime],
           began: Mapping[str | None, datetime]) -> _Group | None:
    since = began.get(symptom.subject.cohort) if symptom.subject.kind == "performance" else None
    for rule in INHIBIT_RULES:
        if symptom.subject.kind not in rule.target:
            continue
        for cause in groups:
            if (cause is not symptom and cause.subject.kind in rule.source
                    and cause.cause is not symptom and rule.applies(cause, symptom, spec)
                    and (since is None or _group_onset(cause, spec, onsets) <= since)):
                return cause
    return None


def _rejoin(alerting: list[_Group], groups: Mapping[Subject, _Group]) -> list[_Group]:
    """The performance findings of a cohort that no cause explains, one group again, with the
    cohort's info findings."""
    out: list[_Group] = []
    rejoined: dict[Subject, _Group] = {}
    for group in alerting:
        if group.subject.kind != "performance" or group.cause is not None:
            out.append(group)
            continue
        if group.subject not in rejoined:
            rejoined[group.subject] = _Group(group.subject, [
                f for f in groups[group.subject].findings if f.severity <= Severity.INFO])
            out.append(rejoined[group.subject])
        rejoined[group.subject].findings += group.findings
    return out


def _fingerprint(subject: Subject, spec: Spec) -> str:
    return fingerprint_of(model=spec.model, kind=subject.kind, feature=subject.feature,
                          cohort=subject.cohort, entity=subject.entity,
                          source=subject.source, metric=subject.metric)


def _group_onset(group: _Group, spec: Spec, onsets: Mapping[str, datetime]) -> datetime:
    """A group's onset: its live alert's, else the start of its shortest window."""
    return min(_onset(group.findings),
               onsets.get(_fingerprint(group.subject, spec), datetime.max.replace(tzinfo=UTC)))


def _draft(group: _Group, spec: Spec, onsets: Mapping[str, datetime]) -> AlertDraft:
    subject = group.subject
    fingerprint = _fingerprint(subject, spec)
    findings = tuple(sorted(group.findings, key=_finding_order))
    suppressed = tuple(sorted(group.suppressed, key=_finding_order))
    severity = max(f.severity for f in (*findings, *suppressed))
    cohorts = tuple(c for c in group.cohorts if c is not None)
    features = sorted(group.features)
    cohort = subject.cohort
    if cohort is None and len(group.cohorts) == 1:
        cohort = group.cohorts[0]
    feature = subject.feature or (features[0] if len(features) == 1 else None)
    onset = _group_onset(group, spec, onsets)
    return AlertDraft(
        fingerprint=fingerprint, model=spec.model, kind=subject.kind, severity=severity,
        onset=onset,
        headline=headline(subject.kind, findings, suppressed, source=subject.source,
                          entity=subject.entity, cohort=cohort, since=onset),
        findings=findings, feature=feature, cohort=cohort, entity=subject.entity,
        source=subject.source, metric=subject.metric, cohorts=cohorts,
        owner=_alert_owner(spec, subject, feature),
        suppressed=suppressed,
        runbook=runbook_for(subject.kind, feature=feature or _entity_column(subject.entity),
                            overrides=spec.alerts.runbooks),
        risk=risk_of(subject.kind, model=spec.model, feature=feature, entity=subject.entity, cohort=cohort,
                     source=subject.source, metric=subject.metric),
    )


def _alert_owner(spec: Spec, subject: Subject, feature: str | None) -> str | None:
    """The feature's owner (for inputs of one owner, that owner), the owner of an entity's
    column when it is a feature, else the model's owner."""
    if subject.kind == "health" and subject.metric == "missing_rate" and subject.source:
        return subject.source
    return _owner(spec, feature or _entity_column(subject.entity)) or spec.owner


def _onset(findings: Sequence[Finding]) -> datetime:
    """Start of the shortest window that shows the cause (a 7-day window starts six days
    before a 1-day window that already shows it); the earliest of those."""
    alerting = [f for f in findings if f.severity > Severity.INFO] or list(findings)
    shortest = min(f.end - f.start for f in alerting)
    return min(f.start for f in alerting if f.end - f.start == shortest)


def _missing(group: _Group) -> bool:
    return any(f.statistic == "missing_rate" and f.severity > Severity.INFO
               for f in group.findings)


def _overlap(a: _Group, b: _Group) -> bool:
    return any(s1 < e2 and s2 < e1 for s1, e1 in a.windows() for s2, e2 in b.windows())


def _owner(spec: Spec, feature: str | None) -> str | None:
    if feature is None:
        return None
    return next((f.owner for f in spec.features if f.name == feature), None)


def _entity_column(entity: str | None) -> str | None:
    return None if entity is None else entity.split("=", 1)[0]


def _source_of(cohort: str | None, spec: Spec) -> str | None:
    column = spec.columns.source
    if cohort is None or column is None or not cohort.startswith(f"{column}="):
        return None
    return cohort.split("=", 1)[1]


def _cohort_order(cohort: str | None) -> tuple[str, int, str]:
    if cohort is None:
        return ("", 0, "")
    column, _, value = cohort.partition("=")
    return (column, int(value), "") if value.isdigit() else (column, 0, value)


def _finding_order(f: Finding) -> tuple[object, ...]:
    return (-f.severity, f.end - f.start, f.start, f.feature or "", _cohort_order(f.cohort),
            f.statistic)
