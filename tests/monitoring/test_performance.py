"""The performance check: the latest window with mature labels against the reference, on the simulator.

Time is replayed honestly: as of day T the store holds only the outcomes
observed before T (``Replay`` in ``benchmarks/eval_false_alarms.py``).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from loopwatch.core.findings import Severity
from loopwatch.core.profile import ALL
from loopwatch.evaluation.comparison import MinimumEffect, compare
from loopwatch.monitoring.checks import CHECKS
from loopwatch.monitoring.performance import PerformanceCheck
from loopwatch.simulate.fraud import SimulationConfig, simulate
from loopwatch.storage.profile_history import ProfileHistory

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "eval_false_alarms.py"


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("eval_false_alarms", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["eval_false_alarms"] = module  # dataclasses look their module up while it loads
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["eval_false_alarms"]
    yield module


def replay(bench: ModuleType, tmp_path: Path, **config: Any) -> tuple[Any, datetime, Any]:
    result = simulate(SimulationConfig(start=bench.START, **config))
    spec = result.spec
    return bench.Replay(result, spec, tmp_path / "store"), bench.START, result


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
        bench: ModuleType, tmp_path: Path) -> None:
    run, start, _ = replay(bench, tmp_path, days=56, decisions_per_day=3_000, incidents=(), seed=21)
    for as_of in run.times(first=start + timedelta(days=50), step=timedelta(days=6)):
        assert run.check(as_of) == []
        window = run.mature_window(as_of)
        assert window is not None
        # legitimate confirmations take 2-20 days but chargebacks a median of 9: the flagged
        # decisions' coverage holds the window back by more than a week
        assert timedelta(days=7) < as_of - window[1] < timedelta(days=25)
        assert window[0] >= start + timedelta(days=30)  # never overlapping the reference


@pytest.mark.slow
def test_a_drop_in_the_two_percent_region_pages_within_three_days_of_its_labels_maturing(
        bench: ModuleType, tmp_path: Path) -> None:
    run, start, result = replay(bench, tmp_path, days=90, decisions_per_day=10_000,
                                incidents=("minority_performance_drop",), seed=3)
    began = onset(result)
    matured = detected = None
    for as_of in run.times(first=start + timedelta(days=80), last=start + timedelta(days=89)):
        day = (as_of - start).days
        findings = run.check(as_of)
        window = run.mature_window(as_of)
        assert window is not None
        assert all(f.cohort is not None for f in findings), "the global cohort found it"
        if matured is None and window[1] > began:
            matured = day
        if any(f.cohort == "region=AFR" and f.severity == Severity.PAGE for f in findings):
            detected = day
            break
    assert matured is not None and detected is not None, "not found by day 89"
    assert detected - matured <= 3
    # the global cohort alone, compared on its own, finds nothing in the window that paged
    history = ProfileHistory(run.store)
    window_start, window_end = run.mature_window(start + timedelta(days=detected))
    reference = history.profiles(start=start + timedelta(days=14), end=start + timedelta(days=30))
    current = history.profiles(start=window_start, end=window_end)
    assert compare({ALL: reference[ALL]}, {ALL: current[ALL]}, history.binning(), run.spec,
                   window=current[ALL].window) == []


@pytest.mark.slow
def test_a_change_of_label_definition_is_found(bench: ModuleType, tmp_path: Path) -> None:
    run, start, result = replay(bench, tmp_path, days=90, decisions_per_day=8_000,
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
