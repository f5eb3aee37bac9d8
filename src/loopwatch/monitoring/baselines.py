"""Baselines that do not absorb incidents: days inside an open alert are not "normal".

A trailing baseline that includes the days of an ongoing incident learns the
incident as normal within days (an unscored category becomes "known, coverage
0%"; a source's error rate becomes "up from 7.9%"), and the page goes quiet while
the problem goes on. So a subject that an open alert holds — as a finding or as
a suppressed symptom — is compared with the baseline before that alert's onset:
``[onset - baseline, onset)``, however long ago that is. A subject no open alert
holds keeps the usual baseline just before the window.

Examples
--------
>>> from datetime import UTC, datetime
>>> from loopwatch.core.alerts import Alert, AlertState
>>> from loopwatch.core.findings import Severity
>>> t = datetime(2026, 2, 16, tzinfo=UTC)
>>> alert = Alert(id="1", fingerprint="f", model="m", kind="coverage", severity=Severity.PAGE,
...               state=AlertState.OPEN, onset=t, raised_at=t, last_seen=t, headline="",
...               entity="merchant_category=crypto", findings=(
...                   {"kind": "schema", "feature": "merchant_category", "suppressed": True},))
>>> incidents = OpenIncidents.from_alerts([alert])
>>> incidents.onset("coverage", "merchant_category=crypto") == t
True
>>> incidents.onset("health", "merchant_category") is None  # a schema symptom, not health
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from loopwatch.core.alerts import Alert, AlertState
from loopwatch.core.spec import Spec

__all__ = ["BASELINED", "OpenIncidents"]

#: The families whose baseline is trailing (drift and performance compare with the reference).
BASELINED = ("health", "coverage", "volume", "system")


@dataclass(frozen=True)
class OpenIncidents:
    """The earliest onset of an open alert holding each subject, per family.

    Subjects: a feature (health), an entity (coverage), a cohort value or ``all``
    (volume), a metric (system: ``error_rate``, ``latency_p99_ms``).
    """

    onsets: Mapping[tuple[str, str], datetime] = field(default_factory=dict)

    @classmethod
    def from_alerts(cls, alerts: Iterable[Alert], *, spec: Spec | None = None) -> OpenIncidents:
        """From the live alerts of a model (resolved ones are ignored).

        ``spec`` gives the features of each owner (a missing-inputs alert names its
        owner as source) and the source column, for alerts that carry no findings.
        """
        owners: dict[str, list[str]] = {}
        for feature in spec.features if spec is not None else ():
            if feature.owner is not None:
                owners.setdefault(feature.owner, []).append(feature.name)
        source_column = spec.columns.source if spec is not None else "source"
        onsets: dict[tuple[str, str], datetime] = {}

        def add(kind: str, key: str | None, onset: datetime) -> None:
            if kind in BASELINED and key is not None:
                found = onsets.get((kind, key))
                onsets[(kind, key)] = onset if found is None else min(found, onset)

        for alert in alerts:
            if alert.state is AlertState.RESOLVED:
                continue
            for kind, key in _subjects(alert, owners, source_column):
                add(kind, key, alert.onset)
        return cls(onsets)

    def onset(self, kind: str, key: str | None) -> datetime | None:
        """When the open incident holding this subject began (``None``: none holds it)."""
        return None if key is None else self.onsets.get((kind, key))

    @property
    def earliest(self) -> datetime | None:
        return min(self.onsets.values(), default=None)


def subject_key(kind: str, finding: Mapping[str, Any]) -> str | None:
    """The key a finding (as a dict) holds its subject under, for ``kind``."""
    if kind == "health":
        return finding.get("feature")
    if kind == "coverage":
        return finding.get("entity")
    if kind == "volume":
        return finding.get("cohort") or "all"
    if kind == "system":
        return finding.get("statistic")
    return None


def _subjects(alert: Alert, owners: Mapping[str, Sequence[str]],
              source_column: str | None) -> Iterable[tuple[str, str | None]]:
    for finding in alert.findings:
        kind = str(finding.get("kind", alert.kind))
        yield kind, subject_key(kind, finding)
    fields = {"feature": alert.feature, "entity": alert.entity, "cohort": alert.cohort,
              "statistic": alert.metric}
    if alert.kind == "volume" and alert.source is not None and source_column is not None:
        fields["cohort"] = f"{source_column}={alert.source}"
    yield alert.kind, subject_key(alert.kind, fields)
    if alert.kind == "health" and alert.source is not None:
        for name in owners.get(alert.source, ()):
            yield "health", name
