"""Profiles computed in the engine: equal to a direct computation on raw rows, and mergeable."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopwatch.core.profile import ALL, DAY_OF_WEEK, HOUR_OF_DAY, Cohort, Profile, score_bin
from loopwatch.core.profile_parts import ProfileParts
from loopwatch.core.spec import Spec, spec_from_mapping
from loopwatch.core.window import Window
from loopwatch.storage.fitting import fit_binning
from loopwatch.storage.parquet_store import ParquetStore
from loopwatch.storage.profiling import iter_profile_parts, profile_parts

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def make_spec(**extra: Any) -> Spec:
    return spec_from_mapping({
        "model": "m",
        "features": [{"name": "x", "dtype": "numeric"}, {"name": "y", "dtype": "numeric"},
                     {"name": "c", "dtype": "categorical"}, {"name": "b", "dtype": "boolean"}],
        "cohorts": ["region"],
        **extra,
    })


def make_rows(n: int, seed: int, days: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    x[rng.random(n) < 0.1] = np.nan
    seconds = rng.integers(0, days * 86400, n)
    return pa.table({
        "decision_id": [f"{seed}-{i}" for i in range(n)],
        "timestamp": pa.array([T0 + timedelta(seconds=int(s)) for s in seconds],
                              pa.timestamp("us", tz="UTC")),
        "score": rng.random(n),
        "x": x,
        "y": rng.lognormal(size=n),
        "c": pa.array(rng.choice(np.array(["a", "b", "c", "d", "new", None], dtype=object), n),
                      pa.string()),
        "b": rng.random(n) < 0.3,
        "region": pa.array(rng.choice(np.array(["EU", "NA", "AFR"], dtype=object), n,
                                      p=[0.5, 0.45, 0.05]), pa.string()),
        "action": pa.array(rng.choice(np.array(["block", "approve", "review"], dtype=object), n),
                           pa.string()),
        "latency_ms": rng.lognormal(2, 1, n),
        "error": pa.array(rng.choice(np.array([None, "timeout"], dtype=object), n,
                                     p=[0.98, 0.02]), pa.string()),
    })


def make_store(tmp_path: Path, table: pa.Table, spec: Spec | None = None) -> ParquetStore:
    store = ParquetStore(tmp_path / "store", spec=spec or make_spec())
    assert store.ingest("decisions", table, source="test").quarantined == 0
    return store


def engine_profiles(store: ParquetStore, reference: Any, start: datetime,
                    end: datetime) -> tuple[Any, dict[Cohort, Profile]]:
    con = store.connect()
    decisions = store.table("decisions", con=con)
    binning = fit_binning(reference if reference is not None else decisions, store.spec)
    outcomes = store.outcomes_latest(con=con) if store.files("outcomes") else None
    parts = profile_parts(decisions, store.spec, binning, start=start, end=end,
                          outcomes=outcomes, con=con)
    return binning, parts.profiles(binning, start=start, end=end)


def test_profile_equals_a_direct_computation_on_raw_rows(tmp_path: Path) -> None:
    table = make_rows(3000, seed=1)
    store = make_store(tmp_path, table)
    labels = np.random.default_rng(9).random(1500) < 0.2
    values = np.random.default_rng(10).lognormal(3, 1, 1500)
    store.ingest("outcomes", pa.table({
        "decision_id": table.column("decision_id").to_pylist()[:1500],
        "observed_at": [T0 + timedelta(days=30)] * 1500, "label": labels, "value": values}),
        source="test")
    binning, profiles = engine_profiles(store, None, T0, T0 + timedelta(days=7))
    raw = store.read("decisions")
    for cohort, mask in [(ALL, np.ones(raw.num_rows, bool)),
                         (Cohort("region", "AFR"),
                          np.asarray(raw.column("region").to_pylist()) == "AFR")]:
        p = profiles[cohort]
        assert p.n == mask.sum()
        x = raw.column("x").to_numpy(zero_copy_only=False)[mask].astype(float)
        valid = ~np.isnan(x)
        stats = p.numeric["x"]
        assert stats.count == valid.sum()
        assert stats.nulls == (~valid).sum()
        assert stats.total == pytest.approx(x[valid].sum(), rel=1e-9)
        assert stats.total_sq == pytest.approx((x[valid] ** 2).sum(), rel=1e-9)
        assert stats.minimum == x[valid].min() and stats.maximum == x[valid].max()
        expected = np.bincount(np.searchsorted(binning.numeric["x"], x[valid], side="right"),
                               minlength=len(binning.numeric["x"]) + 1)
        assert np.array_equal(stats.bins, expected)
        c = np.asarray(raw.column("c").to_pylist(), dtype=object)[mask]
        codes = {v: i for i, v in enumerate(binning.categorical["c"])}
        expected_c = np.zeros(len(codes) + 1, np.int64)
        for v in c:
            if v is not None:
                expected_c[codes.get(v, len(codes))] += 1
        assert np.array_equal(p.categorical["c"].counts, expected_c)
        assert p.categorical["c"].nulls == sum(v is None for v in c)
        b = np.asarray(raw.column("b").to_pylist())[mask]
        assert list(p.categorical["b"].counts) == [(~b).sum(), b.sum(), 0]
        scores = raw.column("score").to_numpy()[mask]
        expected_s = np.bincount(score_bin(scores, binning.score), minlength=len(binning.score) + 1)
        assert np.array_equal(p.score.by_action.sum(axis=0), expected_s)
        assert p.system.errors == sum(e is not None for e in
                                      np.asarray(raw.column("error").to_pylist(), object)[mask])
    # labels: the first 1,500 decisions have outcomes
    all_profile = profiles[ALL]
    assert all_profile.score.by_label[1].sum() == labels.sum()
    assert all_profile.score.by_label[0].sum() == (~labels).sum()
    assert all_profile.score.by_label[2].sum() == 1500
    # the outcomes' value, summed in the same (label, score bin) cells
    ids = raw.column("decision_id").to_pylist()
    position = {d: i for i, d in enumerate(table.column("decision_id").to_pylist()[:1500])}
    bins = score_bin(raw.column("score").to_numpy(), binning.score)
    expected_v = np.zeros_like(all_profile.score.value_sum)
    expected_v2 = np.zeros_like(all_profile.score.value_sq)
    for d, b in zip(ids, bins, strict=True):
        if d in position:
            i = position[d]
            expected_v[int(labels[i]), b] += values[i]
            expected_v2[int(labels[i]), b] += values[i] ** 2
    assert np.allclose(all_profile.score.value_sum, expected_v, rtol=1e-9, atol=0)
    assert np.allclose(all_profile.score.value_sq, expected_v2, rtol=1e-9, atol=0)
    assert not all_profile.score.value_sum[2].any()
    # score and positive decisions by bin of x (slot 0 = null)
    x = raw.column("x").to_numpy(zero_copy_only=False).astype(float)
    slot = np.where(np.isnan(x), 0,
                    np.searchsorted(binning.numeric["x"], np.nan_to_num(x), side="right") + 1)
    by_bin = all_profile.by_bin["x"]
    scores = raw.column("score").to_numpy()
    positive = np.isin(np.asarray(raw.column("action").to_pylist(), object), ["block", "review"])
    assert np.array_equal(by_bin.n, np.bincount(slot, minlength=by_bin.n.size))
    assert np.allclose(by_bin.score_sum, np.bincount(slot, scores, minlength=by_bin.n.size))
    assert np.array_equal(by_bin.positive, np.bincount(slot, positive, minlength=by_bin.n.size))


def test_global_hour_and_weekday_cohorts_add_up(tmp_path: Path) -> None:
    store = make_store(tmp_path, make_rows(2000, seed=2))
    _, profiles = engine_profiles(store, None, T0, T0 + timedelta(days=7))
    total = profiles[ALL]
    for column in ("region", DAY_OF_WEEK):
        parts = [p for c, p in profiles.items() if c.column == column]
        combined = Profile.combine(parts, cohort=ALL)
        assert combined.n == total.n == 2000
        # scores by feature bin are kept for the global and day-of-week cohorts only
        expected = total if column == DAY_OF_WEEK else replace(total, by_bin={})
        assert combined == expected, column
    # hour-of-day profiles carry no feature bins, but everything else adds up
    hours = Profile.combine([p for c, p in profiles.items() if c.column == HOUR_OF_DAY],
                            cohort=ALL)
    assert not hours.binned and total.binned
    assert hours.n == total.n
    assert hours.score == total.score and hours.system == total.system
    for name, stats in total.numeric.items():
        assert (hours.numeric[name].count, hours.numeric[name].nulls) == (stats.count, stats.nulls)
        assert hours.numeric[name].total == pytest.approx(stats.total, rel=1e-9)
        assert not hours.numeric[name].bins.any()
    for name, cstats in total.categorical.items():
        assert (hours.categorical[name].count, hours.categorical[name].nulls) == \
            (cstats.count, cstats.nulls)


def _split_equal(store_a: ParquetStore, store_b: ParquetStore, store_ab: ParquetStore,
                 reference: Any) -> None:
    start, end = T0, T0 + timedelta(days=7)
    binning = fit_binning(reference, store_ab.spec)

    def run(store: ParquetStore) -> dict[Cohort, Profile]:
        con = store.connect()
        parts = profile_parts(store.table("decisions", con=con), store.spec, binning,
                              start=start, end=end, con=con)
        return parts.profiles(binning, start=start, end=end)

    a, b, ab = run(store_a), run(store_b), run(store_ab)
    for cohort, whole in ab.items():
        if cohort in a and cohort in b:
            assert a[cohort].merge(b[cohort]) == whole, cohort
        else:
            assert (a.get(cohort) or b.get(cohort)) == whole, cohort


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(1, 400), st.integers(1, 400), st.integers(0, 10_000))
def test_profile_of_a_union_is_the_merge_of_profiles(tmp_path_factory: pytest.TempPathFactory,
                                                     n_a: int, n_b: int, seed: int) -> None:
    base = tmp_path_factory.mktemp("law")
    a, b = make_rows(n_a, seed), make_rows(n_b, seed + 1)
    sa, sb = make_store(base / "a", a), make_store(base / "b", b)
    sab = make_store(base / "ab", pa.concat_tables([a, b]))
    con = sab.connect()
    _split_equal(sa, sb, sab, sab.table("decisions", con=con))


def test_daily_profiles_merged_equal_the_weekly_profile(tmp_path: Path) -> None:
    store = make_store(tmp_path, make_rows(3000, seed=3))
    con = store.connect()
    decisions = store.table("decisions", con=con)
    binning = fit_binning(decisions, store.spec)
    week = profile_parts(decisions, store.spec, binning, start=T0, end=T0 + timedelta(days=7),
                         con=con).profiles(binning, start=T0, end=T0 + timedelta(days=7))
    days = [profile_parts(decisions, store.spec, binning, start=T0 + timedelta(days=d),
                          end=T0 + timedelta(days=d + 1), con=con)
            .profiles(binning, start=T0 + timedelta(days=d), end=T0 + timedelta(days=d + 1))
            for d in range(7)]
    for cohort in (ALL, Cohort("region", "EU"), Cohort(HOUR_OF_DAY, "13"), Cohort(DAY_OF_WEEK, "2")):
        merged = Profile.combine([d[cohort] for d in days if cohort in d])
        # the weekly profile spans the week even where the cohort (a weekday) is one day
        assert replace(merged, start=T0, end=T0 + timedelta(days=7)) == week[cohort]


def test_chunks_cover_the_window_and_give_the_same_profiles(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from loopwatch.storage import engines

    store = make_store(tmp_path, make_rows(3000, seed=6))
    con = store.connect()
    decisions = store.table("decisions", con=con)
    binning = fit_binning(decisions, store.spec)
    end = T0 + timedelta(days=9)  # two days past the data: empty days are covered too
    whole = profile_parts(decisions, store.spec, binning, start=T0, end=end, con=con)
    monkeypatch.setitem(engines.CHUNK_ROWS, "duckdb", 700)  # about 430 decisions a day
    chunks = list(iter_profile_parts(decisions, store.spec, binning, start=T0, end=end, con=con))
    assert len(chunks) >= 4
    # each chunk read from its own days' files gives the same parts
    scanned = list(iter_profile_parts(
        decisions, store.spec, binning, start=T0, end=end, con=con,
        scan=lambda first, last: store.table("decisions", con=con, between=Window(first, last))))
    assert [(c.start, c.end) for c in scanned] == [(c.start, c.end) for c in chunks]
    for got, want in zip(scanned, chunks, strict=True):
        assert got.parts.profiles(binning, start=got.start, end=got.end) == \
            want.parts.profiles(binning, start=want.start, end=want.end)
    assert [c.start for c in chunks] == [T0, *(c.end for c in chunks[:-1])]
    assert chunks[-1].end == end
    for chunk in chunks:  # each chunk holds only its own days
        days = chunk.parts.counts.column("day").to_pylist()
        assert all(chunk.start <= d < chunk.end for d in days)
    chunked = ProfileParts.concat([c.parts for c in chunks])
    assert chunked.profiles(binning, start=T0, end=end) == whole.profiles(binning, start=T0,
                                                                           end=end)


def test_days_whose_files_lack_a_later_column_profile_it_as_missing(tmp_path: Path) -> None:
    table = make_rows(1500, seed=9)
    store = make_store(tmp_path, table.set_column(table.schema.get_field_index("y"), "y",
                                                  pa.nulls(table.num_rows, pa.float64())))
    con = store.connect()
    decisions = store.table("decisions", con=con)
    binning = fit_binning(decisions, store.spec)
    end = T0 + timedelta(days=7)
    want = profile_parts(decisions, store.spec, binning, start=T0, end=end, con=con)

    def without_y(first: datetime, last: datetime) -> Any:
        # as files written before `y` was added to the spec read
        return store.table("decisions", con=con, between=Window(first, last)).drop("y")

    got = profile_parts(decisions, store.spec, binning, start=T0, end=end, con=con,
                        scan=without_y)
    assert got.profiles(binning, start=T0, end=end) == want.profiles(binning, start=T0, end=end)
    assert want.profiles(binning, start=T0, end=end)[ALL].numeric["y"].nulls == 1500


def test_a_window_that_starts_mid_day_keeps_its_last_partial_day(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from loopwatch.storage import engines

    table = make_rows(2000, seed=8)
    store = make_store(tmp_path, table)
    con = store.connect()
    decisions = store.table("decisions", con=con)
    binning = fit_binning(decisions, store.spec)
    start, end = T0 + timedelta(hours=12), T0 + timedelta(days=2, hours=12)
    expected = sum(start <= t < end for t in table.column("timestamp").to_pylist())
    monkeypatch.setitem(engines.CHUNK_ROWS, "duckdb", 100)
    chunks = list(iter_profile_parts(decisions, store.spec, binning, start=start, end=end,
                                     con=con))
    assert (chunks[0].start, chunks[-1].end) == (start, end)
    parts = ProfileParts.concat([c.parts for c in chunks])
    # parts are keyed by UTC day: the profile of the days touched holds every decision
    days = parts.profiles(binning, start=T0, end=T0 + timedelta(days=3))[ALL]
    assert days.n == expected


def test_empty_window_gives_an_empty_global_profile(tmp_path: Path) -> None:
    store = make_store(tmp_path, make_rows(100, seed=4))
    _, profiles = engine_profiles(store, None, T0 + timedelta(days=30), T0 + timedelta(days=31))
    assert list(profiles) == [ALL]
    assert profiles[ALL].n == 0
    assert math.isnan(profiles[ALL].numeric["x"].mean)


def test_all_null_and_constant_features(tmp_path: Path) -> None:
    table = make_rows(500, seed=5)
    table = table.set_column(table.schema.get_field_index("x"), "x", pa.nulls(500, pa.float64()))
    table = table.set_column(table.schema.get_field_index("y"), "y", pa.array([7.0] * 500))
    store = make_store(tmp_path, table)
    binning, profiles = engine_profiles(store, None, T0, T0 + timedelta(days=7))
    assert binning.numeric["x"] == ()
    p = profiles[ALL]
    assert p.numeric["x"].nulls == 500 and p.numeric["x"].count == 0
    assert list(p.numeric["x"].bins) == [0]
    assert p.numeric["y"].variance == 0.0
    assert list(p.numeric["y"].bins) == [0, 500, 0]


def test_values_outside_the_reference_range_land_in_the_end_bins(tmp_path: Path) -> None:
    table = make_rows(1000, seed=6)
    store = make_store(tmp_path, table)
    con = store.connect()
    decisions = store.table("decisions", con=con)
    binning = fit_binning(decisions, store.spec)
    late = make_rows(200, seed=7).to_pylist()
    for i, row in enumerate(late):
        row["decision_id"] = f"late-{i}"
        row["timestamp"] = T0 + timedelta(days=8)
        row["x"] = 1e6 if i % 2 else -1e6
    store.ingest("decisions", pa.Table.from_pylist(late, schema=table.schema), source="test")
    decisions = store.table("decisions", con=store.connect())
    parts = profile_parts(decisions, store.spec, binning, start=T0 + timedelta(days=8),
                          end=T0 + timedelta(days=9))
    bins = parts.profiles(binning, start=T0 + timedelta(days=8), end=T0 + timedelta(days=9))[ALL]
    assert bins.numeric["x"].bins[0] == 100
    assert bins.numeric["x"].bins[-1] == 100


def test_high_cardinality_categorical_counts_unseen_and_estimates_distinct(tmp_path: Path) -> None:
    n = 120_000
    rng = np.random.default_rng(8)
    table = make_rows(n, seed=8)
    values = np.char.add("v", rng.permutation(n).astype(str)).astype(object)
    table = table.set_column(table.schema.get_field_index("c"), "c", pa.array(values))
    store = make_store(tmp_path, table)
    binning, profiles = engine_profiles(store, None, T0, T0 + timedelta(days=7))
    p = profiles[ALL].categorical["c"]
    assert len(binning.categorical["c"]) == 10_000
    assert p.unseen == n - 10_000
    assert p.distinct_estimate == pytest.approx(n, rel=0.1)


def test_nan_counts_as_null_not_as_a_value(tmp_path: Path) -> None:
    # the store writes NaN as null; a Parquet file from elsewhere may hold real NaN
    import pyarrow.parquet as pq

    table = make_rows(300, seed=10)
    x = np.arange(300, dtype=float)
    x[::3] = np.nan
    table = table.set_column(table.schema.get_field_index("x"), "x", pa.array(x))
    store = make_store(tmp_path, make_rows(10, seed=11))
    directory = store.root / "decisions" / "model=m" / "date=2026-03-02"
    directory.mkdir(parents=True, exist_ok=True)
    with_model = table.append_column("model", pa.array(["m"] * 300))
    pq.write_table(with_model, directory / "part-external.parquet")
    _, profiles = engine_profiles(store, None, T0, T0 + timedelta(days=7))
    assert profiles[ALL].numeric["x"].nulls == 100
    assert profiles[ALL].numeric["x"].count == 200 + 10 - sum(
        math.isnan(v) if v is not None else True for v in make_rows(10, seed=11).column("x")
        .to_pylist())


def test_days_are_utc_across_a_dst_change_and_input_time_zones(tmp_path: Path) -> None:
    # Europe/Paris moves to summer time at 2026-03-29 01:00 UTC
    spec = make_spec(timezone="Europe/Paris")
    rows = []
    for i, local in enumerate(["2026-03-28 23:30:00", "2026-03-29 01:30:00",
                               "2026-03-29 03:30:00", "2026-03-30 00:30:00"]):
        rows.append({"decision_id": str(i), "timestamp": local, "score": 0.5, "region": "EU"})
    rows.append({"decision_id": "tz", "timestamp": "2026-03-29T23:30:00-05:00", "score": 0.5,
                 "region": "EU"})
    store = ParquetStore(tmp_path / "s", spec=spec)
    store.ingest("decisions", pa.Table.from_pylist(rows), source="test")
    start = datetime(2026, 3, 28, tzinfo=UTC)
    _, profiles = engine_profiles(store, None, start, start + timedelta(days=3))
    per_day = {}
    con = store.connect()
    parts = profile_parts(store.table("decisions", con=con), spec,
                          fit_binning(store.table("decisions", con=con), spec),
                          start=start, end=start + timedelta(days=3), con=con)
    for day, dim, n in zip(parts.moments.column("day").to_pylist(),
                           parts.moments.column("dim").to_pylist(),
                           parts.moments.column("n").to_pylist(), strict=True):
        if dim == 0:
            per_day[day.date().isoformat()] = per_day.get(day.date().isoformat(), 0) + n
    # 23:30 Paris on the 28th is 22:30 UTC on the 28th; 01:30 Paris (winter) is 00:30 UTC;
    # 03:30 Paris (summer) is 01:30 UTC; 00:30 Paris on the 30th is 22:30 UTC on the 29th;
    # 23:30 at -05:00 on the 29th is 04:30 UTC on the 30th
    assert per_day == {"2026-03-28": 1, "2026-03-29": 3, "2026-03-30": 1}
    hours = {c.value: p.n for c, p in profiles.items() if c.column == HOUR_OF_DAY}
    assert hours == {"22": 2, "0": 1, "1": 1, "4": 1}


def test_entity_columns_are_light_dimensions_named_by_value(tmp_path: Path) -> None:
    spec = make_spec(entities=["c"])
    table = make_rows(2000, seed=4)
    store = make_store(tmp_path, table, spec)
    _, profiles = engine_profiles(store, None, T0, T0 + timedelta(days=7))
    c = np.asarray(table.column("c").to_pylist(), object)
    for value in ("a", "new"):
        p = profiles[Cohort("c", value)]
        assert p.n == (c == value).sum()
        assert p.score.by_action.sum() == p.n and not p.binned
        assert not any(stats.bins.any() for stats in p.numeric.values())
    assert profiles[Cohort("region", "EU")].binned and profiles[ALL].binned


def test_a_later_run_reuses_the_compiled_queries_and_gives_the_same_profiles(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from loopwatch.storage.engines import Runner
    from loopwatch.storage.profile_queries import forget_compiled

    store = make_store(tmp_path, make_rows(3000, seed=5))
    con = store.connect()
    decisions = store.table("decisions", con=con)
    binning = fit_binning(decisions, store.spec)

    def run(day: int) -> dict[Cohort, Profile]:
        start = T0 + timedelta(days=day)
        end = start + timedelta(days=1)
        return profile_parts(decisions, store.spec, binning, start=start, end=end,
                             con=con).profiles(binning, start=start, end=end)

    forget_compiled()
    first = run(2)
    compiled: list[Any] = []
    original = Runner.sql

    def counted(self: Runner, expr: Any) -> str:
        compiled.append(expr)
        return original(self, expr)

    monkeypatch.setattr(Runner, "sql", counted)
    again, other_day = run(2), run(3)
    assert compiled == [], "a later run with the same codes compiles nothing again"
    assert again == first
    forget_compiled()
    assert run(3) == other_day
    assert compiled, "with the cache emptied the queries are compiled again"


def test_stacked_aggregates_equal_the_unions_of_group_bys(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Spark runs each aggregate as one group-by over rows stacked by (dimension, feature);
    # the same queries on DuckDB must return exactly what the unions of group-bys return
    from loopwatch.storage import engines

    table = make_rows(3000, seed=8)
    store = make_store(tmp_path, table, make_spec(entities=["c"]))
    store.ingest("outcomes", pa.table({
        "decision_id": table.column("decision_id").to_pylist()[:2000],
        "observed_at": [T0 + timedelta(days=30)] * 2000,
        "label": np.random.default_rng(3).random(2000) < 0.3,
        "value": np.random.default_rng(4).lognormal(3, 1, 2000)}), source="test")
    con = store.connect()
    decisions = store.table("decisions", con=con)
    # "new" and "d" are not in the reference: unseen values, counted in the sketches
    binning = fit_binning(decisions.filter(decisions.c.isin(["a", "b", "c"])), store.spec)
    end = T0 + timedelta(days=7)

    def run() -> ProfileParts:
        return profile_parts(decisions, store.spec, binning, start=T0, end=end, con=con,
                             outcomes=store.outcomes_latest(con=con))

    unions = run()
    monkeypatch.setitem(engines.STACKED, "duckdb", True)
    stacked = run()
    assert stacked.sketch.num_rows > 0 and stacked.labels.num_rows > 0
    for name in ("counts", "moments", "labels", "sketch", "by_bin"):
        got, want = getattr(stacked, name), getattr(unions, name)
        assert got.schema == want.schema, name
        floats = {f.name for f in got.schema if pa.types.is_floating(f.type)}

        def rows(t: pa.Table, floats: set[str] = floats) -> list[dict[str, Any]]:
            # sorted by everything but the sums, which engines add in any order
            return sorted(t.to_pylist(), key=lambda r: repr({k: v for k, v in r.items()
                                                              if k not in floats}))

        assert len(got) == len(want), name
        for a, b in zip(rows(got), rows(want), strict=True):
            assert {k: v for k, v in a.items() if k not in floats} == \
                {k: v for k, v in b.items() if k not in floats}, name
            for k in floats:
                assert a[k] == pytest.approx(b[k], rel=1e-9, nan_ok=True), (name, k)
