"""The performance check: the latest window with mature labels against the reference, on the simulator.

Time is replayed honestly: as of day T the store holds only the outcomes
observed before T (:class:`loopwatch.simulate.replay.Replay`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from loopwatch.core.findings import Severity
from loopwatch.core.profile import ALL
from loopwatch.evaluation.comparison import MinimumEffect, compare
from loopwatch.monitoring.checks import CHECKS
from loopwatch.monitoring.performance import PerformanceCheck
from loopwatch.simulate.fraud import SimulationConfig, simulate
from loopwatch.simulate.population import START
from loopwatch.simulate.replay import Replay
from loopwatch.storage.profile_history import ProfileHistory


def replay(tmp_path: Path, **config: Any) -> tuple[Replay, datetime, Any]:
    result = simulate(SimulationConfig(start=START, **config))
    return Replay(result, result.spec, tmp_path / "store"), START, result


def onset(result: Any) -> datetime:
    (incident,) = result.ground_truth["incidents"]
    return datetime.fromisoformat(incident["onset"])


def test_the_check_is_registered_under_its_name_and_validates_its_parameters() -> None:
    assert CHECKS.get("performance") is PerformanceCheck
    assert PerformanceCheck().name == "performance"
    with pytest.raises(ValueError, match="window must be whole days"):
        PerformanceCheck(window="12h")
    with pytest.raises(ValueError, match="expected a duration like"):
        PerformanceCheck(max_lag="six weeks")
    with pytest.raises(ValueError, match="got 'recal'"):
        PerformanceCheck(min_effects={"recal": MinimumEffect(0.1, relative=True)})


def test_a_healthy_run_stays_quiet_and_the_window_checked_waits_for_chargebacks(
        tmp_path: Path) -> None:
    run, start, _ = replay(tmp_path, days=56, decisions_per_day=3_000, incidents=(), seed=21)
    for as_of in run.times(first=start + timedelta(days=50), step=timedelta(days=6)):
        assert run.check(as_of) == []
        window = run.mature_window(as_of)
        assert window is not None
        # legitimate confirmations take 2-20 days but chargebacks a median of 9: the flagged
        # decisions' coverage holds the window back by more than a week
        assert timedelta(days=7) < as_of - window.end < timedelta(days=25)
        assert window.start >= start + timedelta(days=30)  # never overlapping the reference


@pytest.mark.slow
def test_a_drop_in_the_two_percent_region_pages_within_three_days_of_its_labels_maturing(
        tmp_path: Path) -> None:
    run, start, result = replay(tmp_path, days=90, decisions_per_day=10_000,
                                incidents=("minority_performance_drop",), seed=3)
    began = onset(result)
    matured = detected = None
    for as_of in run.times(first=start + timedelta(days=80), last=start + timedelta(days=89)):
        day = (as_of - start).days
        findings = run.check(as_of)
        window = run.mature_window(as_of)
        assert window is not None
        assert all(f.cohort is not None for f in findings), "the global cohort found it"
        if matured is None and window.end > began:
            matured = day
        if any(f.cohort == "region=AFR" and f.severity == Severity.PAGE for f in findings):
            detected = day
            break
    assert matured is not None and detected is not None, "not found by day 89"
    assert detected - matured <= 3
    # the global cohort alone, compared on its own, finds nothing in the window that paged
    history = ProfileHistory(run.store)
    checked = run.mature_window(start + timedelta(days=detected))
    assert checked is not None
    window_start, window_end = checked.start, checked.end
    reference = history.profiles(start=start + timedelta(days=14), end=start + timedelta(days=30))
    current = history.profiles(start=window_start, end=window_end)
    assert compare({ALL: reference[ALL]}, {ALL: current[ALL]}, history.binning(), run.spec,
                   window=current[ALL].window) == []


@pytest.mark.slow
def test_a_change_of_label_definition_is_found(tmp_path: Path) -> None:
    run, start, result = replay(tmp_path, days=90, decisions_per_day=8_000,
                                incidents=("label_definition_change",), seed=3)
    assert onset(result) == start + timedelta(days=80)
    found = []
    for as_of in run.times(first=start + timedelta(days=80), step=timedelta(days=3)):  # 80, 83, ... 89
        findings = run.check(as_of)
        if as_of == start + timedelta(days=80):
            assert findings == []
        found += findings
    # disputed legitimate payments now count as fraud: positives the model scores low
    assert any(f.kind == "performance" and f.severity == Severity.PAGE for f in found)
