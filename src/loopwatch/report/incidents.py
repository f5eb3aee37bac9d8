"""The report's incident view, from the control plane: open alerts first, then every alert's life.

An alert's time to detect is from its onset (the start of the first window
that showed it) to the run that raised it. Mitigations are the flags the
control plane holds for the model (set by a person or by a page), placed at
the time they took effect. Nothing here reads the clock: an alert still open
is drawn up to the report's ``as_of``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from loopwatch.core.alerts import Alert, AlertState
from loopwatch.core.runbooks import RUNBOOKS

__all__ = ["AlertView", "Mitigation", "alert_views", "runbook_texts"]

_SEVERITY_ORDER = {"page": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Mitigation:
    """A flag of the control plane: what it does, who set it, when, and when it was reverted."""

    id: str
    kind: str
    what: str
    when: datetime
    who: str
    automatic: bool
    alert_id: str | None
    reverted_at: datetime | None


@dataclass(frozen=True)
class AlertView:
    """One alert as the report shows it."""

    alert: Alert
    impact: float | None
    value: float | None
    low: float | None
    high: float | None
    n: int | None
    statistic: str | None
    runbook_anchor: str | None
    mitigations: tuple[Mitigation, ...]

    @property
    def live(self) -> bool:
        return self.alert.state is not AlertState.RESOLVED

    @property
    def days_to_detect(self) -> float:
        return (self.alert.raised_at - self.alert.onset).total_seconds() / 86400


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _strongest(findings: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    """The finding with the largest |impact| (the one the alert's severity rests on)."""
    def key(f: dict[str, Any]) -> tuple[int, float]:
        impact = _number(f.get("impact"))
        return (_SEVERITY_ORDER.get(str(f.get("severity")), 3), -abs(impact) if impact is not None else 0.0)

    return min(findings, key=key) if findings else {}


def mitigations(rows: list[dict[str, Any]]) -> list[Mitigation]:
    """The control plane's flag rows as :class:`Mitigation` s, oldest first."""
    out = []
    for row in rows:
        m = dict(row["mitigation"])
        detail = {k: v for k, v in m.items()
                  if v is not None and k not in ("id", "model", "who", "why", "when", "expires", "kind")}
        what = " ".join([row["kind"], ", ".join(f"{k}={v}" for k, v in sorted(detail.items()))]).strip()
        when = datetime.fromisoformat(str(m["when"])) if m.get("when") else row["set_at"]
        out.append(Mitigation(id=str(row["id"]), kind=str(row["kind"]), what=what, when=when,
                              who=str(row["set_by"]), automatic=bool(row["automatic"]),
                              alert_id=None if row["alert_id"] is None else str(row["alert_id"]),
                              reverted_at=row.get("reverted_at")))
    return sorted(out, key=lambda m: (m.when, m.id))


def runbook_anchor(runbook: str | None) -> str | None:
    """``#runbook-KIND`` for a runbook shipped with loopwatch (inlined in the report), else ``None``."""
    if not runbook:
        return None
    parsed = urlparse(runbook)
    if parsed.scheme == "file":
        path = Path(parsed.path)
        if path.parent.name == "runbooks" and (RUNBOOKS / path.name).exists():
            return f"runbook-{path.stem}"
    return None


def alert_views(alerts: list[Alert], flags: list[Mitigation]) -> list[AlertView]:
    """Alerts with the figures of their strongest finding and the mitigations tied to them.

    Live alerts first (pages before warnings, the oldest onset first), then the resolved ones by onset.
    """
    out = []
    for alert in alerts:
        found = _strongest(alert.findings)
        interval = found.get("interval") or (None, None)
        n = found.get("n")
        out.append(AlertView(
            alert=alert, impact=_number(found.get("impact")), value=_number(found.get("value")),
            low=_number(interval[0]), high=_number(interval[1]),
            n=int(n) if isinstance(n, int | float) else None,
            statistic=found.get("statistic"), runbook_anchor=runbook_anchor(alert.runbook),
            mitigations=tuple(m for m in flags if m.alert_id == alert.id)))
    return sorted(out, key=lambda v: (not v.live, _SEVERITY_ORDER.get(str(v.alert.severity), 3),
                                      v.alert.onset, int(v.alert.id) if v.alert.id.isdigit() else 0,
                                      v.alert.id))


def runbook_texts(views: list[AlertView]) -> dict[str, str]:
    """The markdown of each shipped runbook the alerts link to, by anchor."""
    out = {}
    for view in views:
        anchor = view.runbook_anchor
        if anchor and anchor not in out:
            out[anchor] = (RUNBOOKS / f"{anchor.removeprefix('runbook-')}.md").read_text(encoding="utf-8")
    return dict(sorted(out.items()))
