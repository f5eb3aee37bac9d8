"""The monitoring loop with memory: a day is checked once, missed days are caught up in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from loopwatch.core.spec import load_spec
from loopwatch.monitoring.watch import due_runs, watch_due, watch_every
from loopwatch.simulate.fraud import SimulationConfig, simulate, write_simulation
from loopwatch.storage.control import ControlPlane

DAY = timedelta(days=1)


def test_due_runs_are_the_complete_days_after_the_last_one() -> None:
    last = datetime(2026, 3, 1, tzinfo=UTC)
    assert due_runs(last, last + timedelta(hours=23)) == []
    assert due_runs(last, last + DAY) == [last + DAY]
    assert due_runs(last + timedelta(hours=5), last + 3 * DAY) == [last + DAY, last + 2 * DAY, last + 3 * DAY]


@pytest.mark.slow
def test_watch_catches_up_missed_days_in_order_and_never_twice(tmp_path: Path) -> None:
    result = simulate(SimulationConfig(days=35, decisions_per_day=400, incidents=("volume_drop",), seed=2))
    write_simulation(result, tmp_path / "run")
    spec = load_spec(tmp_path / "run" / "loopwatch.yaml")
    start = datetime.fromisoformat(result.ground_truth["reference"]["end"]) + 2 * DAY
    with ControlPlane.for_spec(spec) as plane:
        first = watch_due(spec, plane=plane, now=start + timedelta(hours=7))
        assert [r.run_time for r in first] == [start]
        # down for three days: the three missed days are checked, oldest first
        later = watch_due(spec, plane=plane, now=start + 3 * DAY + timedelta(hours=1))
        assert [r.run_time for r in later] == [start + DAY, start + 2 * DAY, start + 3 * DAY]
        assert all(r.result.applied and r.check is not None for r in later)
        assert watch_due(spec, plane=plane, now=start + 3 * DAY + timedelta(hours=9)) == []
        opened = [e for e in plane.audit() if e.action == "opened"]
        assert len(opened) == len({e.alert_id for e in opened})
        runs_seen = [e.run_time for e in plane.audit()]
        assert runs_seen == sorted(runs_seen), "runs were applied in order"

        # on a schedule: one look now, one after `every`; the clock decides how long to sleep
        now = [start + 3 * DAY + timedelta(hours=10)]
        slept: list[float] = []

        def sleep(seconds: float) -> None:
            slept.append(seconds)
            now[0] += timedelta(seconds=seconds)

        looked: list[datetime] = []
        watch_every(spec, plane=plane, every=timedelta(hours=14), clock=lambda: now[0], sleep=sleep,
                    on_run=lambda r: looked.append(r.run_time), rounds=2)
        assert slept == [14 * 3600] and looked == [start + 4 * DAY]
        assert plane.last_run(spec.model) == start + 4 * DAY
