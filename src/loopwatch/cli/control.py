"""What the commands that read or change alert state share: opening the control plane, showing alerts."""

from __future__ import annotations

import getpass
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from loopwatch.cli import render
from loopwatch.cli.app import load, settings

if TYPE_CHECKING:
    from loopwatch.core.alerts import Alert
    from loopwatch.core.spec import Spec
    from loopwatch.storage.control import ControlPlane

__all__ = ["actor", "alerts", "open_control", "subject"]


def open_control(spec_path: Path | None, store: str | None) -> tuple[Spec, ControlPlane]:
    """The spec and its control plane (``LOOPWATCH_CONTROL_URL``, ``control.database`` or the store's)."""
    from loopwatch.storage.control import ControlPlane

    current = settings()
    spec = load(spec_path)
    url = current.control_url.get_secret_value() if current.control_url else None
    return spec, ControlPlane.for_spec(spec, url=url, store=store or current.store)


def actor(name: str | None) -> str:
    """Who acts (``--by``), by default the user running the command."""
    if name is not None:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return os.environ.get("USER") or f"uid {os.getuid()}"


def subject(alert: Alert) -> str:
    """What an alert concerns: feature, entity, source, metric and cohort(s), or ``all``."""
    cohort = alert.cohort or (", ".join(alert.cohorts) if alert.cohorts else None)
    if cohort == alert.entity:
        cohort = None
    parts = (alert.feature, alert.entity, alert.source, alert.metric, cohort)
    return " · ".join(p for p in parts if p) or "all"


def alerts(found: Sequence[Alert]) -> Table:
    """Alerts one below the other: severity, then id · state · kind · subject · times, the headline."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=max(len(str(a.severity)) for a in found) if found else 4, no_wrap=True)
    grid.add_column(overflow="fold")
    for a in found:
        body = Text()
        body.append(f"#{a.id} · {a.state.value} · {a.kind} · {subject(a)}", style="bold")
        times = f"since {a.onset:%Y-%m-%d}, raised {a.raised_at:%Y-%m-%d %H:%M}"
        if a.resolved_at is not None:
            times += f", resolved {a.resolved_at:%Y-%m-%d %H:%M}"
        if a.snoozed_until is not None:
            times += f", snoozed until {a.snoozed_until:%Y-%m-%d %H:%M}"
        if a.acknowledged_by:
            times += f", acknowledged by {a.acknowledged_by}"
        body.append(f"\n{a.headline}")
        if a.risk:
            body.append(f"\nrisk: {a.risk}")
        body.append(f"\n{times} · owner {a.owner or '-'}", style="dim")
        if a.runbook:
            body.append(f"\nrunbook: {a.runbook}", style="dim")
        grid.add_row(Text(str(a.severity), style=render.SEVERITY_STYLES[a.severity]), body)
    return grid
