"""Alerts handed to a notebook: a pandas frame with UTC times, and JSON with stable keys."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from loopwatch.core.alerts import Alert, AlertState
from loopwatch.core.findings import Severity
from loopwatch.storage.control import AlertList


def alert(n: int, *, resolved: bool) -> Alert:
    t = datetime(2026, 3, n, tzinfo=UTC)
    return Alert(id=str(n), fingerprint=f"volume|m|{n}", model="m", kind="volume", severity=Severity.PAGE,
                 state=AlertState.RESOLVED if resolved else AlertState.OPEN, onset=t, raised_at=t,
                 last_seen=t, headline=f"alert {n}", resolved_at=t if resolved else None,
                 findings=({"kind": "volume"}, {"kind": "volume"}), cohorts=("source=pos", "source=web"))


def test_alerts_as_a_frame_have_one_row_each_utc_times_and_a_count_of_findings() -> None:
    frame = AlertList([alert(1, resolved=True), alert(2, resolved=False)]).to_frame()
    assert list(frame["id"]) == ["1", "2"] and list(frame["state"]) == ["resolved", "open"]
    assert list(frame["findings"]) == [2, 2] and frame["cohorts"][0] == "source=pos, source=web"
    assert str(frame["raised_at"].dt.tz) == "UTC"
    assert frame["resolved_at"][0] == pd.Timestamp("2026-03-01", tz="UTC")
    assert pd.isna(frame["resolved_at"][1])
    assert list(frame.columns) == list(Alert.__dataclass_fields__)


def test_alerts_as_json_have_the_keys_scripts_rely_on() -> None:
    (data,) = AlertList([alert(3, resolved=False)]).to_dict()["alerts"]
    assert data["severity"] == "page" and data["state"] == "open" and data["resolved_at"] is None
    assert data["onset"] == "2026-03-03T00:00:00+00:00" and data["cohorts"] == ["source=pos", "source=web"]
    assert data["runbook"] is None and len(data["findings"]) == 2
