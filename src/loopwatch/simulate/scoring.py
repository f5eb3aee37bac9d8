"""Scoring findings against a simulation's ground truth: did a finding name what an incident touched?

:func:`matches` decides for one finding and one incident; :func:`score_incidents`
and :func:`score_alarms` score a replay (the findings of one check run per day)
against every incident of a run, as ``benchmarks/detection.py`` reports them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from loopwatch.core.findings import Finding, Severity

__all__ = ["matches", "score_alarms", "score_incidents"]

#: One check run: the time it ran "as of", and its findings.
Run = tuple[datetime, Sequence[Finding]]
_DAY = timedelta(days=1)
_ALARMS = (Severity.PAGE, Severity.WARNING)


def matches(finding: Finding, incident: dict[str, Any]) -> bool:
    """Does ``finding`` name what ``incident`` (a ground-truth record) touched?

    A finding about a feature matches only incidents that name that feature; one
    about a cohort, source or entity alone matches incidents that name those; an
    incident only labels reveal is matched by performance findings (of its cohort,
    when it names one).

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> from loopwatch.core.findings import Severity
    >>> t = datetime(2026, 2, 1, tzinfo=UTC)
    >>> f = Finding(kind="volume", check="volume", statistic="decisions", start=t, end=t,
    ...             value=10.0, severity=Severity.PAGE, message="", cohort="source=pos")
    >>> matches(f, {"label_only": False, "features": [], "cohorts": [], "entities": [],
    ...             "sources": ["pos"]})
    True
    """
    if incident["label_only"]:
        if finding.kind != "performance":
            return False
        named = [f"{c['column']}={c['value']}" for c in incident["cohorts"]]
        return not named or finding.cohort in named
    if finding.feature is not None:
        return finding.feature in incident["features"]
    cohorts = {f"{c['column']}={c['value']}" for c in incident["cohorts"]}
    cohorts |= {f"source={s}" for s in incident["sources"]}
    entities = {f"{e['column']}={e['value']}" for e in incident["entities"]}
    return (finding.cohort in cohorts) or (finding.entity in entities)


def _bounds(incident: dict[str, Any]) -> tuple[datetime, datetime | None]:
    end = incident["end"]
    return (datetime.fromisoformat(incident["onset"]),
            None if end is None else datetime.fromisoformat(end))


def _active(incident: dict[str, Any], as_of: datetime) -> bool:
    """Does the day a run as of ``as_of`` checks, ``[as_of - 1 day, as_of)``, overlap the incident?"""
    onset, end = _bounds(incident)
    return onset < as_of and (end is None or end > as_of - _DAY)


def _ended(incident: dict[str, Any], as_of: datetime) -> bool:
    end = _bounds(incident)[1]
    return end is not None and end <= as_of - _DAY


def _key(finding: Finding) -> tuple[object, ...]:
    return (finding.kind, finding.statistic, finding.feature, finding.cohort, finding.entity)


def score_incidents(runs: Sequence[Run], incidents: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per incident: its first page, its silent active days, its days after the end.

    ``detected`` / ``days_to_detect`` / ``finding``: the first page after the onset
    naming the incident (for an incident only labels reveal, a page that was not
    already raised on the day of its onset). ``active_days``: runs whose checked day
    overlaps the incident; ``silent_days``: those of them with no page or warning
    naming it; ``after_end_days``: runs whose checked day starts after its end with a
    page or warning still naming it (``None`` for an incident that never ends).

    Examples
    --------
    >>> from datetime import UTC
    >>> day = lambda d: datetime(2026, 2, d, tzinfo=UTC)
    >>> page = Finding(kind="drift", check="drift", statistic="psi", start=day(1), end=day(2),
    ...                value=1.0, severity=Severity.PAGE, message="x moved", feature="x")
    >>> incident = {"kind": "k", "onset": day(1).isoformat(), "end": day(3).isoformat(),
    ...             "features": ["x"], "cohorts": [], "entities": [], "sources": [],
    ...             "harmful": True, "label_only": False}
    >>> runs = [(day(2), [page]), (day(3), []), (day(4), [page]), (day(5), [])]
    >>> record = score_incidents(runs, [incident])[0]
    >>> record["days_to_detect"], record["active_days"], record["silent_days"], record["after_end_days"]
    (1.0, 2, 1, 1)
    """
    out = []
    for incident in incidents:
        onset, _ = _bounds(incident)
        before = {_key(f) for d, findings in runs if d == onset for f in findings
                  if f.severity == Severity.PAGE} if incident["label_only"] else set()
        found = next(((d, f) for d, findings in runs if d > onset for f in findings
                      if f.severity == Severity.PAGE and matches(f, incident)
                      and _key(f) not in before), None)
        reported = {d for d, findings in runs
                    if any(f.severity in _ALARMS and matches(f, incident) for f in findings)}
        active = [d for d, _ in runs if _active(incident, d)]
        after = [d for d, _ in runs if _ended(incident, d)]
        out.append({
            "incident": incident["kind"], "harmful": incident["harmful"],
            "label_only": incident["label_only"], "onset": incident["onset"], "end": incident["end"],
            "detected": found is not None,
            "days_to_detect": None if found is None else (found[0] - onset) / _DAY,
            "finding": None if found is None else f"{found[1].kind}: {found[1].message}",
            "active_days": len(active),
            "silent_days": sum(d not in reported for d in active),
            "after_end_days": None if incident["end"] is None else sum(d in reported for d in after),
        })
    return out


def score_alarms(runs: Sequence[Run], incidents: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pages and warnings that name no incident active in the checked day, nor one that ended.

    ``*_unmatched_quiet`` counts those raised while no harmful incident was active;
    ``examples`` holds the first 20.

    Examples
    --------
    >>> from datetime import UTC
    >>> t = datetime(2026, 2, 2, tzinfo=UTC)
    >>> warning = Finding(kind="volume", check="volume", statistic="decisions", start=t, end=t,
    ...                   value=0.5, severity=Severity.WARNING, message="fewer decisions")
    >>> counts = score_alarms([(t, [warning])], [])
    >>> counts["warnings_unmatched"], counts["warnings_unmatched_quiet"], counts["pages_unmatched"]
    (1, 1, 0)
    """
    counts = {f"{s}_{w}": 0 for s in ("pages", "warnings") for w in ("unmatched", "unmatched_quiet")}
    examples: list[str] = []
    for d, findings in runs:
        quiet = not any(i["harmful"] and _active(i, d) for i in incidents)
        for f in findings:
            if f.severity not in _ALARMS:
                continue
            if any(matches(f, i) and (_active(i, d) or _ended(i, d)) for i in incidents):
                continue
            name = "pages" if f.severity == Severity.PAGE else "warnings"
            counts[f"{name}_unmatched"] += 1
            counts[f"{name}_unmatched_quiet"] += quiet
            if len(examples) < 20:
                examples.append(f"{d - _DAY:%m-%d} {f.severity} {f.kind}: {f.message}")
    return {**counts, "check_days": len(runs), "examples": examples}
