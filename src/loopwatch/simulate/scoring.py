"""Scoring findings against a simulation's ground truth: did a finding name what an incident touched?"""

from __future__ import annotations

from typing import Any

from loopwatch.core.findings import Finding

__all__ = ["matches"]


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
