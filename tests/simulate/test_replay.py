"""Replaying a simulated run writes only what production would have written by each day."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow.compute as pc

from loopwatch.simulate.fraud import SimulationConfig, simulate
from loopwatch.simulate.replay import replay
from loopwatch.storage.parquet_store import ParquetStore


def test_replay_never_writes_a_row_from_the_future(tmp_path: Path) -> None:
    result = simulate(SimulationConfig(days=6, decisions_per_day=3000, incidents=(), seed=1))
    store = ParquetStore(tmp_path / "store", spec=result.spec)
    start = datetime.fromisoformat(result.ground_truth["start"])
    seen = []
    for now in replay(result, store, first=start + timedelta(days=2)):
        decisions, outcomes = store.read("decisions"), store.read("outcomes")
        assert pc.max(decisions.column("timestamp")).as_py() < now
        if outcomes.num_rows:
            assert pc.max(outcomes.column("observed_at")).as_py() < now
        seen.append((now, decisions.num_rows, outcomes.num_rows))
    assert [now for now, *_ in seen] == [start + timedelta(days=d) for d in range(2, 7)]
    # by the end everything has landed, once
    assert seen[-1][1] == result.decisions.num_rows
    assert seen[-1][2] == result.outcomes.num_rows
    assert all(a[1] <= b[1] and a[2] <= b[2] for a, b in itertools.pairwise(seen))
