"""The main job end to end: a simulated fraud system run day by day through the daily watch, and its
incident timeline.

:func:`run_demo` simulates the card-fraud world with every incident of the
simulator, then replays it into a fresh store one day at a time and runs the
daily job after each day (:func:`~loopwatch.simulate.alert_replay.replay_alerts`:
profiles incrementally, checks, alert policy, control plane, i.e.
:func:`~loopwatch.monitoring.watch.watch_once`, the function behind
``loopwatch watch --once``). :func:`timeline` tells, for each injected incident,
when it began, the first run that paged naming it (else the first warning), the
alert and its headline, and when that alert resolved; and the page-level alerts
that named no incident active then (false pages).

The demo's spec adds automatic mitigations (``alerts: mitigations:``,
:data:`MITIGATIONS`): a page that a category goes unscored sends that category's
decisions to review, and a page on model performance switches to the baseline
model. The control plane sets them as it would in production (one per day at
most, audited); the timeline names the flag each incident's alert set. The
simulated traffic was drawn beforehand, so it does not react to them.

Times: a run at ``t`` checks the day ``[t - 1 day, t)``; ``detected_at`` is that
run's time, so a problem that began at 09:00 and paged at the next midnight took
0.6 days to detect.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from loopwatch.core.alerts import Alert
from loopwatch.core.automations import AutoMitigation
from loopwatch.core.findings import Severity
from loopwatch.errors import InputError
from loopwatch.simulate.alert_replay import ReplayDay, first_named, replay_alerts, score
from loopwatch.simulate.fraud import SimulationConfig, simulate
from loopwatch.simulate.incidents import REFERENCE_DAYS
from loopwatch.storage.control.flags import ControlFlags

__all__ = ["MITIGATIONS", "Demo", "run_demo", "timeline", "write_incidents"]

DAY = timedelta(days=1)

#: The demo spec's automatic mitigations: an unscored category goes to human review (every score
#: from 0 up), and a performance page serves the baseline model until someone reverts it.
MITIGATIONS = (
    AutoMitigation(on="coverage", action="review_threshold", threshold=0.0, cohort_from_alert=True),
    AutoMitigation(on="performance", action="baseline"),
)


@dataclass(frozen=True)
class Demo:
    """What a demo run left: its directory, the daily runs, every alert and the ground truth."""

    out_dir: Path
    days: tuple[ReplayDay, ...]
    alerts: tuple[Alert, ...]
    incidents: tuple[dict[str, Any], ...]
    flags: tuple[dict[str, Any], ...] = ()  # the flags set automatically, as the control plane holds them

    @property
    def spec_path(self) -> Path:
        return self.out_dir / "loopwatch.yaml"


#: Decisions a day in the demo: at 5,000 every incident of the 90-day run is still named by an alert,
#: and the first ten daily runs took about 60% of their CPU time at 20,000 (docs/DESIGN-NOTES.md,
#: "loopwatch demo in make demo").
PER_DAY = 5_000


def run_demo(*, out_dir: Path, days: int = 90, per_day: int = PER_DAY, seed: int = 7,
             on_start: Callable[[int], None] | None = None,
             on_day: Callable[[ReplayDay], None] | None = None) -> Demo:
    """Simulate ``days`` days of the fraud system with every incident and replay them through the daily job.

    ``on_start`` is told how many daily runs follow (the days after the
    reference window); ``on_day`` is called after each run. The store, spec
    (``out_dir/loopwatch.yaml``), ground truth and control plane stay in
    ``out_dir`` for every other command.
    """
    if days <= REFERENCE_DAYS:
        raise InputError(f"days: expected more than the {REFERENCE_DAYS}-day reference period; got {days}")
    result = simulate(SimulationConfig(days=days, decisions_per_day=per_day, incidents=("all",), seed=seed))
    alerts = result.spec.alerts.model_copy(update={"mitigations": MITIGATIONS})
    result = replace(result, spec=result.spec.model_copy(update={"alerts": alerts}))
    first = datetime.fromisoformat(result.ground_truth["reference"]["end"]) + DAY
    end = datetime.fromisoformat(result.ground_truth["end"])
    if on_start is not None:
        on_start(max(0, (end - first) // DAY + 1))
    replayed, plane = replay_alerts(result, out_dir, first=first, on_day=on_day)
    with plane:
        raised = tuple(plane.alerts(include_resolved=True))
        flags = tuple(r for r in ControlFlags(plane.engine).rows(result.spec.model, include_reverted=True)
                      if r["automatic"])
    return Demo(out_dir=out_dir, days=tuple(replayed), alerts=raised,
                incidents=tuple(result.ground_truth["incidents"]), flags=flags)


def timeline(demo: Demo) -> dict[str, Any]:
    """Per incident: onset, end, detected_at (first page naming it, else first warning), days to
    detect, the alert (id, kind, severity, headline, resolved_at), the mitigation that alert set
    (``None`` if none); the false pages; and every automatic mitigation.

    ``detected_at`` is ``None`` when no alert named the incident while it was active.
    """
    by_id = {a.id: a for a in demo.alerts}
    set_by = {str(f["alert_id"]): _flag(f) for f in demo.flags if f["alert_id"] is not None}
    rows = []
    for incident in demo.incidents:
        found = (first_named(demo.days, incident)
                 or first_named(demo.days, incident, severity=Severity.WARNING))
        alert = None if found is None else by_id[found[1]]
        onset = datetime.fromisoformat(incident["onset"])
        rows.append({
            "incident": incident["kind"], "description": incident.get("description"),
            "harmful": incident["harmful"], "onset": incident["onset"], "end": incident["end"],
            "detected_at": None if found is None else found[0].isoformat(),
            "days_to_detect": None if found is None else round((found[0] - onset) / DAY, 2),
            "alert_id": None if alert is None else alert.id,
            "alert_kind": None if alert is None else alert.kind,
            "severity": None if alert is None else str(alert.severity),
            "finding": None if alert is None else alert.headline,
            "resolved_at": None if alert is None or alert.resolved_at is None
            else alert.resolved_at.isoformat(),
            "mitigation": None if alert is None else set_by.get(alert.id),
        })
    figures = score(demo.days, demo.alerts, demo.incidents)
    return {"runs": len(demo.days), "incidents": rows, "false_pages": figures["unrelated_page_alerts"],
            "alerts": len(demo.alerts), "mitigations": [_flag(f) for f in reversed(demo.flags)]}


def _flag(row: dict[str, Any]) -> dict[str, Any]:
    """A flag row as the timeline shows it: id, kind, what it does, the alert and run that set it."""
    m = row["mitigation"]
    cohort = m.get("cohort") or "every cohort"
    what = {"review_threshold": f"review from score {m.get('threshold')} in {cohort}",
            "baseline": "serve the baseline model", "rollback": f"serve version {m.get('version')}",
            "disable_feature": f"serve {m.get('feature')}'s fallback"}[row["kind"]]
    run_time, alert_id = row["run_time"], row["alert_id"]
    return {"id": row["id"], "kind": row["kind"], "what": what,
            "alert_id": None if alert_id is None else str(alert_id), "state": row["state"],
            "run_time": None if run_time is None else run_time.isoformat()}


def write_incidents(path: Path, found: dict[str, Any]) -> None:
    """Write :func:`timeline`'s result as JSON to ``path`` atomically (a temporary file renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(found, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def describe(rows: Sequence[dict[str, Any]]) -> list[list[str]]:
    """The timeline's rows as text cells: incident, began, paged, finding, mitigation, resolved.

    Examples
    --------
    >>> row = {"incident": "volume_drop", "harmful": True, "onset": "2026-02-27T09:00:00+00:00",
    ...        "detected_at": "2026-02-28T00:00:00+00:00", "days_to_detect": 0.62, "severity": "page",
    ...        "alert_id": "24", "alert_kind": "volume", "finding": "volume fell", "resolved_at": None}
    >>> describe([row])[0]
    ['volume_drop', '02-27 09:00', '02-28 00:00 (0.6 d)', '#24 volume: volume fell', '–', '–']
    >>> describe([{**row, "mitigation": {"what": "serve the baseline model"}}])[0][4]
    'serve the baseline model'
    >>> describe([{**row, "detected_at": None, "alert_id": None, "harmful": False}])[0][:3]
    ['volume_drop (harmless)', '02-27 09:00', 'never']
    """
    def day(text: str | None) -> str:
        return "–" if text is None else f"{datetime.fromisoformat(text):%m-%d %H:%M}"

    out = []
    for r in rows:
        detected = "never" if r["detected_at"] is None else (
            f"{day(r['detected_at'])} ({r['days_to_detect']:.1f} d"
            f"{'' if r['severity'] == 'page' else ', warning only'})")
        finding = "–" if r["alert_id"] is None else f"#{r['alert_id']} {r['alert_kind']}: {r['finding']}"
        mitigation = "–" if r.get("mitigation") is None else r["mitigation"]["what"]
        out.append([r["incident"] + ("" if r["harmful"] else " (harmless)"), day(r["onset"]), detected,
                    finding, mitigation, day(r["resolved_at"])])
    return out
