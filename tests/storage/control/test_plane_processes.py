"""Two real processes acting on one control plane at once never corrupt an alert or raise it twice."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from loopwatch.core.alerts import AlertState
from loopwatch.storage.control import ControlPlane

WORKER = Path(__file__).with_name("plane_worker.py")
DAY0 = datetime(2026, 3, 1, tzinfo=UTC)
pytestmark = pytest.mark.slow


def run_together(url: str, roles: list[str], ready: Path) -> list[dict[str, Any]]:
    # the database is created and migrated before the workers race on it
    ControlPlane(url=url).close()
    procs = [subprocess.Popen([sys.executable, str(WORKER), role, url, str(ready)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for role in roles]
    deadline = time.monotonic() + 120
    while len(list(ready.glob("ready-*"))) < len(roles):
        assert time.monotonic() < deadline, "the workers never started"
        time.sleep(0.02)
    (ready / "go").touch()
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr
        out.append(json.loads(stdout))
    return out


def test_two_schedulers_applying_the_same_runs_apply_each_once(database: str, tmp_path: Path) -> None:
    done = run_together(database, ["watch", "watch"], tmp_path)
    with ControlPlane(url=database) as plane:
        assert sum(d["applied"] for d in done) == 40, done
        every = plane.alerts(include_resolved=True)
        log = plane.audit()
    # the same history as one scheduler: raised on day 0, resolved day 11, raised day 20, resolved day 31
    assert [(a.raised_at, a.resolved_at) for a in sorted(every, key=lambda a: a.raised_at)] == [
        (DAY0, DAY0 + timedelta(days=11)), (DAY0 + timedelta(days=20), DAY0 + timedelta(days=31))]
    assert [e.action for e in log] == ["opened", "resolved", "opened", "resolved"]


def test_a_person_and_a_scheduler_on_one_alert_at_once_leave_a_consistent_history(
        database: str, tmp_path: Path, audit_chain_breaks: Callable[[list[Any]], list[str]]) -> None:
    watch, person = run_together(database, ["watch", "person"], tmp_path)
    with ControlPlane(url=database) as plane:
        every = plane.alerts(include_resolved=True)
        log = plane.audit()
        assert watch["applied"] == 40
        assert audit_chain_breaks(log) == []
        for alert in every:
            mine = [e for e in log if e.alert_id == alert.id]
            assert mine[0].action in ("opened",)
            assert alert.state.value == mine[-1].to_state, f"alert {alert.id}: row and audit disagree"
            assert (alert.resolved_at is not None) == (alert.state is AlertState.RESOLVED)
            assert (alert.snoozed_until is not None) == (alert.state is AlertState.SNOOZED)
        # every act the person made that was not refused is in the log, once
        by_hand = [e for e in log if e.actor in ("ana", "ben")]
        assert len(by_hand) == person["acknowledged"] + person["snoozed"] + person["resolved"]
        # no cause has two live alerts
        live = [a.fingerprint for a in every if a.state is not AlertState.RESOLVED]
        assert len(live) == len(set(live))
