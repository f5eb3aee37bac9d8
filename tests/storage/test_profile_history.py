"""Profile history: stored dailies are reused, extended incrementally, and equal a direct profile."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from loopwatch.core.profile import ALL, Cohort
from loopwatch.core.spec import spec_from_mapping
from loopwatch.errors import InputError
from loopwatch.storage import engines, profile_history
from loopwatch.storage.parquet_store import ParquetStore
from loopwatch.storage.profile_history import ProfileHistory
from loopwatch.storage.profiling import PartsChunk, profile_parts

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def rows(n: int, seed: int, first_day: int = 0, days: int = 6) -> pa.Table:
    rng = np.random.default_rng(seed)
    seconds = rng.integers(first_day * 86400, (first_day + days) * 86400, n)
    return pa.table({
        "decision_id": [f"{seed}-{i}" for i in range(n)],
        "timestamp": pa.array([T0 + timedelta(seconds=int(s)) for s in seconds],
                              pa.timestamp("us", tz="UTC")),
        "score": rng.random(n),
        "x": rng.normal(size=n),
        "c": pa.array(rng.choice(np.array(["a", "b", "c"], dtype=object), n), pa.string()),
        "region": pa.array(rng.choice(np.array(["EU", "NA"], dtype=object), n), pa.string()),
    })


@pytest.fixture
def store(tmp_path: Path) -> ParquetStore:
    spec = spec_from_mapping({
        "model": "m", "cohorts": ["region"],
        "features": [{"name": "x", "dtype": "numeric"}, {"name": "c", "dtype": "categorical"}],
        "reference": {"start": T0.isoformat(), "end": (T0 + timedelta(days=3)).isoformat()},
    })
    store = ParquetStore(tmp_path / "s", spec=spec)
    store.ingest("decisions", rows(1200, seed=1), source="test")
    return store


def direct(store: ParquetStore, history: ProfileHistory, start: datetime, end: datetime,
           cohort: Cohort = ALL) -> object:
    con = store.connect()
    outcomes = store.outcomes_latest(con=con) if store.files("outcomes") else None
    parts = profile_parts(store.table("decisions", con=con), store.spec, history.binning(),
                          start=start, end=end, outcomes=outcomes, con=con)
    return parts.profiles(history.binning(), start=start, end=end)[cohort]


def test_a_second_update_with_nothing_new_does_nothing(store: ParquetStore) -> None:
    history = ProfileHistory(store)
    first = history.update()
    assert (first.days_profiled, first.days_stored) == (6, 6)
    second = history.update()
    assert (second.days_profiled, second.days_relabelled) == (0, 0)


def test_a_window_merged_from_stored_days_equals_a_direct_profile(store: ParquetStore) -> None:
    history = ProfileHistory(store)
    history.update()
    start, end = T0 + timedelta(days=1), T0 + timedelta(days=5)
    for cohort in (ALL, Cohort("region", "EU")):
        assert history.profile(start=start, end=end, cohort=cohort) == direct(
            store, history, start, end, cohort)


def test_only_days_whose_decisions_changed_are_profiled_again(store: ParquetStore) -> None:
    history = ProfileHistory(store)
    history.update()
    store.ingest("decisions", rows(100, seed=2, first_day=4, days=1), source="test")
    result = history.update()
    assert result.days_profiled == 1
    assert history.profile().n == 1300
    assert history.profile() == direct(store, history, T0, T0 + timedelta(days=6))


def test_new_outcomes_relabel_stored_days_without_reprofiling_them(store: ParquetStore) -> None:
    history = ProfileHistory(store)
    history.update()
    before = history.profile()
    assert before.score.labelled == 0
    logged = store.read("decisions")
    ids = logged.column("decision_id").to_pylist()[:300]
    concerned = {t.date() for t in logged.column("timestamp").to_pylist()[:300]}
    store.ingest("outcomes", pa.table({"decision_id": ids,
                                       "observed_at": [T0 + timedelta(days=9)] * 300,
                                       "label": [i % 3 == 0 for i in range(300)]}), source="test")
    result = history.update()
    assert result.days_profiled == 0 and result.days_relabelled == len(concerned) < 6
    after = history.profile()
    assert after.score.labelled == 300
    assert after.score.by_label[1].sum() == 100
    assert after.numeric == before.numeric
    assert after == direct(store, history, T0, T0 + timedelta(days=6))


def test_bins_are_fitted_once_and_kept(store: ParquetStore) -> None:
    history = ProfileHistory(store)
    fingerprint = history.binning().fingerprint
    store.ingest("decisions", rows(500, seed=3), source="test")
    assert ProfileHistory(store).binning().fingerprint == fingerprint
    assert ProfileHistory(store).binning(refit=True).fingerprint != fingerprint


def test_an_empty_reference_is_a_clear_error(tmp_path: Path) -> None:
    spec = spec_from_mapping({"model": "m", "features": [{"name": "x", "dtype": "numeric"}]})
    store = ParquetStore(tmp_path / "empty", spec=spec)
    store.write("decisions", store.schema("decisions").conform_rows([], source="test"))
    with pytest.raises(InputError, match="holds no decisions of model 'm' yet: ingest"):
        ProfileHistory(store).update()


def test_an_interrupted_update_keeps_the_days_it_finished(store: ParquetStore,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # chunks of a day (about 200 rows a day); the engine fails on the fourth: the three
    # days written are kept, the other three are profiled next time
    monkeypatch.setitem(engines.CHUNK_ROWS, "duckdb", 150)
    real = profile_history.iter_profile_parts

    def failing(*args: Any, **kwargs: Any) -> Iterator[PartsChunk]:
        for i, chunk in enumerate(real(*args, **kwargs)):
            if i == 3:
                raise RuntimeError("connection to the engine lost")
            yield chunk

    monkeypatch.setattr(profile_history, "iter_profile_parts", failing)
    history = ProfileHistory(store)
    with pytest.raises(RuntimeError, match="engine lost"):
        history.update()
    days = [(T0 + timedelta(days=d)).strftime("%Y-%m-%d") for d in range(6)]
    assert sorted(history._manifest(history.binning())["days"]) == days[:3]
    monkeypatch.setattr(profile_history, "iter_profile_parts", real)
    result = history.update()
    assert (result.days_profiled, result.days_stored) == (3, 6)
    assert history.profile() == direct(store, history, T0, T0 + timedelta(days=6))


_UPDATER = """
import json, sys
from pathlib import Path
from loopwatch.core.spec import spec_from_mapping
from loopwatch.storage import engines
from loopwatch.storage.parquet_store import ParquetStore
from loopwatch.storage.profile_history import ProfileHistory

engines.CHUNK_ROWS["duckdb"] = 150  # many small chunks: a long update, so the two overlap
spec = spec_from_mapping(json.loads(sys.argv[2]))
for _ in range(3):
    ProfileHistory(ParquetStore(Path(sys.argv[1]), spec=spec)).update(refit=True)
"""


def test_two_processes_updating_one_history_leave_it_whole(store: ParquetStore) -> None:
    # each update refits the bins, so both rewrite every day: before updates took a lock,
    # one process collected the other's fresh part files as garbage and the manifest kept
    # naming them, so every later read failed with a missing file
    import json
    import subprocess
    import sys

    spec = {"model": "m", "cohorts": ["region"],
            "features": [{"name": "x", "dtype": "numeric"}, {"name": "c", "dtype": "categorical"}],
            "reference": {"start": T0.isoformat(), "end": (T0 + timedelta(days=3)).isoformat()}}
    store.ingest("decisions", rows(2400, seed=2), source="test")
    argv = [sys.executable, "-c", _UPDATER, str(store.root), json.dumps(spec)]
    workers = [subprocess.Popen(argv, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errors = [w.communicate(timeout=300)[1] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], errors
    history = ProfileHistory(store)
    assert history.update().days_profiled == 0
    assert history.profile() == direct(store, history, T0, T0 + timedelta(days=6))
