"""Time to detect and time to resolve, per kind of alert.

MTTD is measured from an alert's onset (the start of the first window whose
data showed the cause) to the run that raised it; MTTR from that run to the
one that resolved it. Both are given as mean and median hours over the alerts
raised in a period; an alert not yet resolved counts in ``open`` and not in MTTR.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from loopwatch.core.alerts import Alert

__all__ = ["KindStats", "alert_stats"]


@dataclass(frozen=True)
class KindStats:
    """Detection and resolution times of the alerts of one kind, in hours."""

    kind: str
    raised: int
    resolved: int
    open: int
    pages: int
    mttd_hours: float | None
    mttd_median_hours: float | None
    mttr_hours: float | None
    mttr_median_hours: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "raised": self.raised, "resolved": self.resolved, "open": self.open,
                "pages": self.pages, "mttd_hours": self.mttd_hours,
                "mttd_median_hours": self.mttd_median_hours, "mttr_hours": self.mttr_hours,
                "mttr_median_hours": self.mttr_median_hours}


def alert_stats(alerts: Iterable[Alert]) -> list[KindStats]:
    """MTTD and MTTR per kind of ``alerts`` (sorted by kind).

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> from loopwatch.core.alerts import AlertState
    >>> from loopwatch.core.findings import Severity
    >>> t = lambda d, h=0: datetime(2026, 3, d, h, tzinfo=UTC)
    >>> a = Alert(id="1", fingerprint="f", model="m", kind="volume", severity=Severity.PAGE,
    ...           state=AlertState.RESOLVED, onset=t(1), raised_at=t(2), last_seen=t(3),
    ...           headline="h", resolved_at=t(5))
    >>> (s,) = alert_stats([a])
    >>> s.kind, s.raised, s.mttd_hours, s.mttr_hours
    ('volume', 1, 24.0, 72.0)
    """
    by_kind: dict[str, list[Alert]] = {}
    for a in alerts:
        by_kind.setdefault(a.kind, []).append(a)
    out = []
    for kind, group in sorted(by_kind.items()):
        detect = [(a.raised_at - a.onset).total_seconds() / 3600 for a in group]
        repair = [(a.resolved_at - a.raised_at).total_seconds() / 3600 for a in group
                  if a.resolved_at is not None]
        out.append(KindStats(
            kind=kind, raised=len(group), resolved=len(repair), open=len(group) - len(repair),
            pages=sum(a.severity >= 2 for a in group),
            mttd_hours=statistics.fmean(detect) if detect else None,
            mttd_median_hours=statistics.median(detect) if detect else None,
            mttr_hours=statistics.fmean(repair) if repair else None,
            mttr_median_hours=statistics.median(repair) if repair else None))
    return out
