"""Labels without rescanning history: only the days whose decisions got outcomes are relabelled,
and the result is exactly the profile computed from scratch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pytest

from loopwatch.core.profile import ALL
from loopwatch.core.spec import Spec, spec_from_mapping
from loopwatch.errors import SpecError
from loopwatch.storage.parquet_store import ParquetStore
from loopwatch.storage.profile_history import ProfileHistory
from loopwatch.storage.table_source import TableSource

T0 = datetime(2026, 5, 1, tzinfo=UTC)
DAYS = 6
PER_DAY = 150


def make_spec(horizon: str | None = None, **extra: Any) -> Spec:
    data: dict[str, Any] = {
        "model": "m", "cohorts": ["region"],
        "features": [{"name": "x", "dtype": "numeric"}],
        "reference": {"start": T0.isoformat(), "end": (T0 + timedelta(days=3)).isoformat()},
        **extra,
    }
    if horizon is not None:
        data["label_horizon"] = horizon
    return spec_from_mapping(data)


def decisions(day: int, n: int = PER_DAY, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed * 1000 + day)
    seconds = rng.integers(day * 86400, (day + 1) * 86400, n)
    return pa.table({
        "decision_id": [f"d{day}-{i}" for i in range(n)],
        "timestamp": pa.array([T0 + timedelta(seconds=int(s)) for s in seconds],
                              pa.timestamp("us", tz="UTC")),
        "score": rng.random(n),
        "x": rng.normal(size=n),
        "region": pa.array(rng.choice(np.array(["EU", "NA"], dtype=object), n), pa.string()),
    })


def outcomes_for(table: pa.Table, *, delay_days: float, share: float, seed: int) -> pa.Table:
    """Outcomes for a share of ``table``'s decisions, observed ``delay_days`` after each."""
    rng = np.random.default_rng(seed)
    picked = rng.random(table.num_rows) < share
    ids = [i for i, p in zip(table.column("decision_id").to_pylist(), picked, strict=True) if p]
    times = [t + timedelta(days=delay_days)
             for t, p in zip(table.column("timestamp").to_pylist(), picked, strict=True) if p]
    return pa.table({"decision_id": ids,
                     "observed_at": pa.array(times, pa.timestamp("us", tz="UTC")),
                     "label": rng.random(len(ids)) < 0.3})


def from_scratch(store: Any) -> ProfileHistory:
    """The same source's history computed again, every day in full, with the same bins (its
    manifest removed: no stored day is reused)."""
    history = ProfileHistory(store)
    (history._base() / f"binning={history.binning().fingerprint}" / "manifest.json").unlink()
    history = ProfileHistory(store)
    assert history.update().days_profiled == len(store.versions("decisions"))
    return history


def day(d: int) -> str:
    return (T0 + timedelta(days=d)).strftime("%Y-%m-%d")


def test_outcomes_relabel_only_the_days_of_their_decisions(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path / "s", spec=make_spec())
    logged = {d: decisions(d) for d in range(DAYS)}
    for table in logged.values():
        store.ingest("decisions", table, source="test")
    history = ProfileHistory(store)
    history.update()
    before = history._manifest(history.binning())["days"]
    # outcomes observed on one later day, for decisions of days 1 and 4
    late = pa.concat_tables([outcomes_for(logged[1], delay_days=0, share=0.5, seed=1),
                             outcomes_for(logged[4], delay_days=0, share=0.5, seed=2)])
    late = late.set_column(1, "observed_at", pa.array([T0 + timedelta(days=DAYS, hours=3)] * late.num_rows,
                                                      pa.timestamp("us", tz="UTC")))
    store.ingest("outcomes", late, source="test")
    result = history.update()
    assert (result.days_profiled, result.days_relabelled) == (0, 2)
    manifest = history._manifest(history.binning())
    assert manifest["relabel"] == []
    # one pass from day 1 to day 4: one labels file for both; the days between keep theirs
    assert manifest["days"][day(1)]["labels"] == manifest["days"][day(4)]["labels"]
    assert manifest["days"][day(1)]["labels"] != before[day(1)]["labels"]
    assert [manifest["days"][day(d)]["labels"] for d in (2, 3)] == \
        [before[day(d)]["labels"] for d in (2, 3)]
    incremental = history.profiles()
    assert incremental[ALL].score.labelled == late.num_rows
    assert incremental == from_scratch(store).profiles()
    assert history.update().days_relabelled == 0


def test_a_daily_run_equals_a_full_recompute(tmp_path: Path) -> None:
    # each day: that day's decisions, and outcomes of the last three days' decisions
    store = ParquetStore(tmp_path / "s", spec=make_spec())
    history = ProfileHistory(store)
    logged: dict[int, pa.Table] = {}
    relabelled = []
    for d in range(DAYS):
        logged[d] = decisions(d)
        store.ingest("decisions", logged[d], source="test")
        for back in (1, 2, 3):
            if d - back >= 0:
                store.ingest("outcomes", outcomes_for(logged[d - back], delay_days=back, share=0.2,
                                                      seed=10 * d + back), source="test")
        result = history.update()
        relabelled.append(result.days_relabelled)
    assert max(relabelled) <= 3, "a day relabels at most the days its outcomes concern"
    assert relabelled[-1] == 3
    assert history.profiles() == from_scratch(store).profiles()


def labelled_within(store: ParquetStore, horizon: timedelta) -> tuple[int, int, int]:
    """By brute force: decisions with an outcome within ``horizon`` (either side), how many
    of those have a positive latest such outcome, and outcomes with no decision within it."""
    made = dict(zip(store.read("decisions").column("decision_id").to_pylist(),
                    store.read("decisions").column("timestamp").to_pylist(), strict=True))
    latest: dict[str, tuple[datetime, bool]] = {}
    ignored = 0
    for row in store.read("outcomes").to_pylist():
        when = made.get(row["decision_id"])
        if when is None or abs(row["observed_at"] - when) > horizon:
            ignored += 1
            continue
        if row["decision_id"] not in latest or row["observed_at"] > latest[row["decision_id"]][0]:
            latest[row["decision_id"]] = (row["observed_at"], row["label"])
    return len(latest), sum(label for _, label in latest.values()), ignored


def test_outcomes_beyond_the_label_horizon_are_ignored_and_counted(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path / "s", spec=make_spec("2d"))
    history = ProfileHistory(store)
    logged = {d: decisions(d) for d in range(DAYS)}
    for d, table in logged.items():
        store.ingest("decisions", table, source="test")
        if d in (2, 4):
            history.update()
        if d >= 1:  # on time (1 day), and some after 4 days: beyond the horizon
            store.ingest("outcomes", outcomes_for(logged[d - 1], delay_days=1, share=0.4, seed=d),
                         source="test")
        if d >= 4:
            store.ingest("outcomes", outcomes_for(logged[d - 4], delay_days=4, share=0.4, seed=50 + d),
                         source="test")
    # a correction after the horizon does not replace the label observed within it
    first = store.read("outcomes").slice(0, 20).to_pylist()
    corrected = pa.Table.from_pylist([{"decision_id": r["decision_id"], "label": not r["label"],
                                       "observed_at": r["observed_at"] + timedelta(days=4)}
                                      for r in first])
    store.ingest("outcomes", corrected, source="test")
    # and orphans: outcomes of decisions never logged
    store.ingest("outcomes", pa.table({"decision_id": ["nobody-1", "nobody-2"],
                                       "observed_at": pa.array([T0 + timedelta(days=3)] * 2,
                                                               pa.timestamp("us", tz="UTC")),
                                       "label": [True, False]}), source="test")
    result = history.update()
    labelled, positives, ignored = labelled_within(store, timedelta(days=2))
    profile = history.profile()
    assert profile.score.labelled == labelled
    assert int(profile.score.by_label[1].sum()) == positives
    assert result.outcomes_ignored == ignored > 20
    assert history.profiles() == from_scratch(store).profiles()
    assert ProfileHistory(store).update().outcomes_ignored == ignored


def test_a_run_limited_to_some_days_leaves_the_others_owed(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path / "s", spec=make_spec())
    logged = {d: decisions(d) for d in range(DAYS)}
    for table in logged.values():
        store.ingest("decisions", table, source="test")
    history = ProfileHistory(store)
    history.update()
    store.ingest("outcomes", outcomes_for(logged[5], delay_days=1, share=0.5, seed=3), source="test")
    assert history.update(end=T0 + timedelta(days=5)).days_relabelled == 0
    assert history._manifest(history.binning())["relabel"] == [day(5)]
    assert history.update().days_relabelled == 1
    assert history.profiles() == from_scratch(store).profiles()


def test_a_table_source_relabels_only_the_days_concerned(tmp_path: Path) -> None:
    con = ibis.duckdb.connect()
    logged = pa.concat_tables([decisions(d) for d in range(DAYS)])
    con.create_table("decisions", logged)
    con.create_table("outcomes", outcomes_for(logged.slice(0, PER_DAY), delay_days=1, share=0.5,
                                              seed=4))
    spec = make_spec(source={"decisions": "decisions", "outcomes": "outcomes"})
    source = TableSource(spec=spec, con=con, root=tmp_path / "profiles-of-table", location="duckdb")
    history = ProfileHistory(source)
    assert history.update().days_profiled == DAYS
    more = outcomes_for(logged.slice(3 * PER_DAY, PER_DAY), delay_days=2, share=0.5, seed=5)
    con.insert("outcomes", more)
    result = history.update()
    assert (result.days_profiled, result.days_relabelled) == (0, 1)
    assert history.profiles() == from_scratch(source).profiles()


def test_a_label_horizon_must_be_a_duration() -> None:
    with pytest.raises(SpecError, match="label_horizon"):
        make_spec("a month")
