"""The same profile from DuckDB, PostgreSQL and PySpark on the same data.

One Ibis query plan (:func:`~loopwatch.storage.profiling.profile_parts`) runs on
each engine; the bins are fitted once, on DuckDB, and shared. The plan of a one-off
comparison (:func:`~loopwatch.storage.window.window_parts`, one bucket of the global
cohort) must give each engine's global profile of the window as well. Every count must
be equal (numeric bins and nulls, categorical codes and nulls, score by label
and by action, latency bins, errors, volume), sums within 1e-9 relative
(engines add in different orders), minima and maxima equal.

The sketches of unseen categorical values are the exception, and on purpose:
each engine's ``hash()`` differs (DuckDB's 64-bit hash, PostgreSQL's
``hashtextextended``, Spark's 32-bit Murmur3), so the HyperLogLog registers
differ and so, slightly, do the distinct-count estimates. They are compared
within HyperLogLog error, with each other and with the exact count.

PostgreSQL (127.0.0.1:5432) and Spark (local mode, Java 17) are skipped when
absent on a developer's machine and fail the run under ``CI=true``
(``tests/conftest.py``).
"""

from __future__ import annotations

import gc
import math
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from loopwatch.core.profile import ALL, HLL_REGISTERS, Binning, Cohort, Profile
from loopwatch.core.profile_parts import ProfileParts
from loopwatch.core.spec import Spec, spec_from_mapping
from loopwatch.storage import profiling
from loopwatch.storage.engines import Views
from loopwatch.storage.fitting import fit_binning
from loopwatch.storage.parquet_store import ParquetStore
from loopwatch.storage.profiling import iter_profile_parts, profile_parts
from loopwatch.storage.window import window_parts

pytestmark = [
    pytest.mark.slow,
    # ibis 12.0.0's PySpark backend returns results through pandas, and both it and
    # PySpark 4.0 use options and keywords that pandas 3 deprecates; not ours to fix
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),
    # PySpark leaves the sockets it reads results from to the garbage collector
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]

T0 = datetime(2026, 3, 1, tzinfo=UTC)
#: HyperLogLog's relative standard error with 2**10 registers is 1.04 / 32 ≈ 3.3%; two
#: independent hashes differ by about 4.6%. 15% (over 3 standard errors) plus 2 values of
#: slack for small counts, where one register collision moves the estimate by one.
HLL_TOLERANCE = 0.15
HLL_SLACK = 2.0


# --- data -------------------------------------------------------------------------------

def make_spec() -> Spec:
    return spec_from_mapping({
        "model": "m",
        "features": [{"name": "x", "dtype": "numeric"}, {"name": "y", "dtype": "numeric"},
                     {"name": "c", "dtype": "categorical"}, {"name": "b", "dtype": "boolean"}],
        "cohorts": ["region"],
    })


def make_rows(n: int, seed: int, days: int = 8, reference_days: int = 3) -> pa.Table:
    """A decision log (after tests/storage/test_profiling.py's builder) with what engines
    disagree on: nulls everywhere, values unseen in the reference days, a drifting feature."""
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.integers(0, days * 86400, n))
    late = seconds >= reference_days * 86400

    def nullable(values: Any, rate: float, type_: pa.DataType) -> pa.Array:
        return pa.array(values, type_, mask=rng.random(n) < rate)

    x = rng.normal(size=n) + np.where(seconds >= 5 * 86400, 3.0, 0.0)  # drifts out of range
    x[rng.random(n) < 0.1] = np.nan  # the store writes NaN as null
    c = rng.choice(np.array(["a", "b", "c", "d"], dtype=object), n)
    unseen = late & (rng.random(n) < 0.3)
    c[unseen] = np.char.add("u", rng.integers(0, 400, unseen.sum()).astype(str)).astype(object)
    action = rng.choice(np.array(["block", "approve", "review"], dtype=object), n)
    action[late & (rng.random(n) < 0.05)] = "escalate"  # an action the reference lacks
    return pa.table({
        "decision_id": [f"{seed}-{i}" for i in range(n)],
        "timestamp": pa.array([T0 + timedelta(seconds=int(s)) for s in seconds],
                              pa.timestamp("us", tz="UTC")),
        "score": rng.random(n),
        "x": x,
        # y is missing on the whole of day 6: its minimum and maximum are null there
        "y": pa.array(rng.lognormal(size=n), pa.float64(),
                      mask=(rng.random(n) < 0.05) | (seconds // 86400 == 6)),
        "c": nullable(c, 0.05, pa.string()),
        "b": nullable(rng.random(n) < 0.3, 0.05, pa.bool_()),
        "region": nullable(rng.choice(np.array(["EU", "NA", "AFR"], dtype=object), n,
                                      p=[0.5, 0.45, 0.05]), 0.02, pa.string()),
        "action": nullable(action, 0.02, pa.string()),
        "latency_ms": nullable(rng.lognormal(2, 1, n), 0.02, pa.float64()),
        "error": pa.array(rng.choice(np.array([None, "timeout"], dtype=object), n,
                                     p=[0.98, 0.02]), pa.string()),
    })


def write_nan_file(store: ParquetStore, day: datetime, seed: int) -> None:
    """A Parquet file from elsewhere, with real NaN (which the store itself never writes)."""
    rows = make_rows(300, seed=seed, days=1, reference_days=0).to_pylist()
    for i, row in enumerate(rows):
        row["decision_id"] = f"external-{i}"
        row["timestamp"] = day + (row["timestamp"] - T0)
    schema = store.schema("decisions").arrow
    conformed = store.schema("decisions").conform(pa.Table.from_pylist(rows), source="test").table
    table = conformed.select(schema.names)
    x = np.linspace(-2.0, 6.0, table.num_rows)
    x[::3] = np.nan  # 100 NaN
    y = table.column("y")
    y_values = y.fill_null(1.0).to_numpy().copy()
    y_values[1::4] = np.nan
    table = table.set_column(schema.get_field_index("x"), "x", pa.array(x))
    table = table.set_column(schema.get_field_index("y"), "y",
                             pa.array(y_values, mask=y.is_null().to_numpy(zero_copy_only=False)))
    directory = store.root / "decisions" / "model=m" / f"date={day:%Y-%m-%d}"
    directory.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.cast(schema), directory / "part-external.parquet")


@dataclass(frozen=True)
class Case:
    """Data in a store, a binning fitted on DuckDB, and DuckDB's profiles of a window."""

    name: str
    spec: Spec
    binning: Binning
    start: datetime
    end: datetime
    decision_files: list[Path]
    decisions: pa.Table  # every stored row, as the other engines load it
    outcomes: pa.Table  # the latest outcome of each decision
    expected: dict[Cohort, Profile]
    unseen_distinct: dict[str, int]  # exact distinct unseen values in the window, per feature
    duckdb_seconds: float
    store: ParquetStore


def _case(name: str, store: ParquetStore, reference: tuple[datetime, datetime],
          start: datetime, end: datetime) -> Case:
    spec = store.spec
    con = store.connect()
    decisions = store.table("decisions", con=con)
    ts = decisions[spec.columns.timestamp]
    binning = fit_binning(decisions.filter((ts >= reference[0]) & (ts < reference[1])), spec)
    outcomes = store.outcomes_latest(con=con)
    began = time.perf_counter()
    parts = profile_parts(decisions, spec, binning, start=start, end=end, outcomes=outcomes,
                          con=con)
    expected = parts.profiles(binning, start=start, end=end)
    seconds = time.perf_counter() - began
    raw = store.read("decisions")
    latest = outcomes.to_pyarrow()
    return Case(name=name, spec=spec, binning=binning, start=start, end=end,
                decision_files=store.files("decisions"), decisions=raw, outcomes=latest,
                expected=expected, unseen_distinct=_unseen_distinct(raw, spec, binning, start, end),
                duckdb_seconds=seconds, store=store)


def _unseen_distinct(raw: pa.Table, spec: Spec, binning: Binning, start: datetime,
                     end: datetime) -> dict[str, int]:
    ts = raw.column(spec.columns.timestamp)
    window = raw.filter(pc.and_(pc.greater_equal(ts, pa.scalar(start, ts.type)),
                                pc.less(ts, pa.scalar(end, ts.type))))
    out = {}
    for name, categories in binning.categorical.items():
        column = window.column(name)
        text = (pc.if_else(column, "true", "false") if pa.types.is_boolean(column.type)
                else column.cast(pa.string()))
        values = set(pc.unique(text.drop_null()).to_pylist())
        out[name] = len(values - set(categories))
    return out


@pytest.fixture(scope="module")
def decision_log(tmp_path_factory: pytest.TempPathFactory) -> Case:
    """4,000 decisions over 8 days, half of them labelled (some labels corrected), plus a
    file with real NaN; bins from the first 3 days; the profile of days 0-6."""
    root = tmp_path_factory.mktemp("decision_log")
    store = ParquetStore(root / "store", spec=make_spec())
    table = make_rows(4000, seed=1)
    assert store.ingest("decisions", table, source="test").quarantined == 0
    write_nan_file(store, T0 + timedelta(days=4), seed=2)
    rng = np.random.default_rng(3)
    ids = table.column("decision_id").to_pylist()
    labelled = sorted(rng.choice(len(ids), len(ids) // 2, replace=False))
    labels = rng.random(len(labelled)) < 0.2
    first = pa.table({"decision_id": [ids[i] for i in labelled],
                      "observed_at": [T0 + timedelta(days=9)] * len(labelled), "label": labels})
    corrected = first.slice(0, 200)
    corrected = corrected.set_column(2, "label", pc.invert(corrected.column("label")))
    corrected = corrected.set_column(1, "observed_at", pa.array(
        [T0 + timedelta(days=10)] * 200, pa.timestamp("us", tz="UTC")))
    for outcomes in (first, corrected):
        assert store.ingest("outcomes", outcomes, source="test").quarantined == 0
    return _case("decision_log", store, (T0, T0 + timedelta(days=3)),
                 T0, T0 + timedelta(days=7))


@pytest.fixture(scope="module")
def simulated_fraud(tmp_path_factory: pytest.TempPathFactory) -> Case:
    """The simulated card-fraud system: 40 days × 2,000 decisions with every incident."""
    from loopwatch.simulate.fraud import SimulationConfig, simulate

    root = tmp_path_factory.mktemp("simulated_fraud")
    result = simulate(SimulationConfig(days=40, decisions_per_day=2_000, incidents=("all",),
                                       seed=7))
    store = ParquetStore(root / "store", spec=result.spec)
    assert store.ingest("decisions", result.decisions, source="simulation").quarantined == 0
    assert store.ingest("outcomes", result.outcomes, source="simulation").quarantined == 0
    reference = result.spec.reference
    assert reference is not None
    start = datetime.fromisoformat(result.ground_truth["start"])
    end = datetime.fromisoformat(result.ground_truth["end"])
    return _case("simulated_fraud", store, (reference.start, reference.end), start, end)


CASES = ("decision_log", "simulated_fraud")


@pytest.fixture(params=CASES)
def case(request: pytest.FixtureRequest) -> Case:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


# --- engines ----------------------------------------------------------------------------

def _unique(prefix: str) -> str:
    return f"lw_parity_{prefix}_{uuid.uuid4().hex[:12]}"


Plan = Callable[[Case, Any, Any, Any], dict[Cohort, Profile]]


def _run(case: Case, decisions: Any, outcomes: Any, con: Any) -> dict[Cohort, Profile]:
    parts = profile_parts(decisions, case.spec, case.binning, start=case.start, end=case.end,
                          outcomes=outcomes, con=con)
    return parts.profiles(case.binning, start=case.start, end=case.end)


def _run_window(case: Case, decisions: Any, outcomes: Any, con: Any) -> dict[Cohort, Profile]:
    """The window's decisions as one bucket (window_parts), as a {ALL: profile} mapping."""
    ts = decisions[case.spec.columns.timestamp]
    window = decisions.filter((ts >= case.start) & (ts < case.end))
    parts = window_parts(window, case.spec, case.binning, day=case.start, outcomes=outcomes,
                         con=con)
    return parts.profiles(case.binning, start=case.start, end=case.end, cohorts=[ALL])


@pytest.fixture
def on_postgres(postgres: Any) -> Iterator[Callable[..., dict[Cohort, Profile]]]:
    """Load a case's decisions and latest outcomes into uniquely named tables; drop them after."""
    created: list[str] = []

    def run(case: Case, plan: Plan = _run) -> dict[Cohort, Profile]:
        names = _unique("decisions"), _unique("outcomes")
        created.extend(names)
        decisions = postgres.create_table(names[0], case.decisions)
        outcomes = postgres.create_table(names[1], case.outcomes)
        return plan(case, decisions, outcomes, postgres)

    try:
        yield run
    finally:
        for name in created:
            postgres.drop_table(name, force=True)


@pytest.fixture
def on_spark(spark: Any, tmp_path: Path) -> Iterator[Callable[..., dict[Cohort, Profile]]]:
    """Read a case's Parquet files (decisions as stored, NaN included) as temporary views."""
    session = spark._session
    created: list[str] = []

    def run(case: Case, plan: Plan = _run) -> dict[Cohort, Profile]:
        names = _unique("decisions"), _unique("outcomes")
        created.extend(names)
        session.read.parquet(*[str(f) for f in case.decision_files]).createOrReplaceTempView(
            names[0])
        path = tmp_path / f"{names[1]}.parquet"
        pq.write_table(case.outcomes, path)
        session.read.parquet(str(path)).createOrReplaceTempView(names[1])
        return plan(case, spark.table(names[0]), spark.table(names[1]), spark)

    try:
        yield run
    finally:
        for name in created:
            session.catalog.dropTempView(name)
        release_spark_sockets()


def release_spark_sockets() -> None:
    """Collect PySpark's unclosed result sockets now, while their warning is ignored, so
    that the garbage collector does not raise it later inside an unrelated test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


# --- comparison -------------------------------------------------------------------------

def _close(a: float, b: float) -> bool:
    return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))


def assert_same_profile(got: Profile, want: Profile, where: str) -> None:
    """Exact on every count and extreme, 1e-9 relative on sums, HLL error on the sketch."""
    assert (got.n, got.binning, got.start, got.end) == (want.n, want.binning, want.start,
                                                        want.end), where
    assert got.numeric.keys() == want.numeric.keys(), where
    for name, w in want.numeric.items():
        g = got.numeric[name]
        at = f"{where}: numeric {name}"
        assert (g.count, g.nulls) == (w.count, w.nulls), at
        assert (g.minimum, g.maximum) == (w.minimum, w.maximum), at
        assert g.bins.tolist() == w.bins.tolist(), at
        assert _close(g.total, w.total) and _close(g.total_sq, w.total_sq), \
            f"{at}: sums {g.total}, {g.total_sq} vs {w.total}, {w.total_sq}"
    assert got.categorical.keys() == want.categorical.keys(), where
    for name, w in want.categorical.items():
        g = got.categorical[name]
        at = f"{where}: categorical {name}"
        assert g.nulls == w.nulls, at
        assert g.counts.tolist() == w.counts.tolist(), at
        # registers differ with the hash (see the module docstring): compare estimates
        assert_hll_close(g.distinct_estimate, w.distinct_estimate, at)
        assert (g.unseen_sketch > 0).any() == (w.unseen_sketch > 0).any(), at
    assert got.score.by_label.tolist() == want.score.by_label.tolist(), f"{where}: score by label"
    assert got.score.by_action.tolist() == want.score.by_action.tolist(), \
        f"{where}: score by action"
    gs, ws = got.system, want.system
    assert gs.latency.tolist() == ws.latency.tolist(), f"{where}: latency bins"
    assert (gs.latency_count, gs.errors) == (ws.latency_count, ws.errors), f"{where}: system"
    assert _close(gs.latency_total, ws.latency_total), f"{where}: latency sum"
    assert got.by_bin.keys() == want.by_bin.keys(), where
    for name, w_bins in want.by_bin.items():
        g_bins = got.by_bin[name]
        at = f"{where}: score and decisions by bin of {name}"
        assert g_bins.n.tolist() == w_bins.n.tolist(), at
        assert g_bins.positive.tolist() == w_bins.positive.tolist(), at
        assert all(_close(a, b) for a, b in zip(g_bins.score_sum, w_bins.score_sum, strict=True)), at


def assert_hll_close(got: float, want: float, where: str) -> None:
    assert abs(got - want) <= HLL_TOLERANCE * max(got, want) + HLL_SLACK, \
        f"{where}: distinct estimate {got} vs {want}"


def assert_same_profiles(got: dict[Cohort, Profile], case: Case, engine: str) -> None:
    assert sorted(got, key=str) == sorted(case.expected, key=str), engine
    for cohort, want in case.expected.items():
        assert_same_profile(got[cohort], want, f"{case.name} on {engine}, cohort {cohort}")
    # every engine's sketch estimates the true number of distinct unseen values
    for name, exact in case.unseen_distinct.items():
        seen = np.count_nonzero(got[ALL].categorical[name].counts[:-1])
        assert_hll_close(got[ALL].categorical[name].distinct_estimate - seen, exact,
                         f"{case.name} on {engine}: unseen {name}")


# --- tests ------------------------------------------------------------------------------

def test_cases_cover_what_engines_disagree_on(decision_log: Case) -> None:
    # a parity test is only as good as its data: make sure the traps are in it
    p = decision_log.expected[ALL]
    raw = decision_log.decisions
    assert pc.sum(pc.is_nan(raw.column("x").drop_null())).as_py() == 100  # real NaN in Parquet
    assert p.numeric["x"].nulls > 100 and p.numeric["y"].nulls > 0
    day = pc.floor_temporal(raw.column("timestamp"), unit="day")
    day6 = raw.filter(pc.equal(day, pa.scalar(T0 + timedelta(days=6), day.type)))
    assert day6.num_rows and day6.column("y").null_count == day6.num_rows  # null min and max
    assert p.numeric["x"].bins[-1] > 0  # values above the reference range
    assert p.categorical["c"].unseen > 0 and p.categorical["c"].nulls > 0
    assert decision_log.unseen_distinct["c"] > 300
    assert p.categorical["b"].nulls > 0
    assert Cohort("region", "(null)") in decision_log.expected
    assert decision_log.outcomes.num_rows == 2000  # the latest of each; 200 were corrected
    assert p.score.by_label[0].sum() and p.score.by_label[1].sum() and p.score.by_label[2].sum()
    assert p.score.by_action[-1].sum() > 0  # an action the reference lacks, or none
    assert p.system.errors > 0 and p.system.latency_count < p.n
    assert 0 < int(np.count_nonzero(p.categorical["c"].unseen_sketch)) < HLL_REGISTERS


def test_duckdb_matches_a_direct_count_of_unseen_values(case: Case) -> None:
    for name, exact in case.unseen_distinct.items():
        stats = case.expected[ALL].categorical[name]
        seen = np.count_nonzero(stats.counts[:-1])
        assert_hll_close(stats.distinct_estimate - seen, exact, f"{case.name}: unseen {name}")


def _postgres_run_objects(con: Any) -> set[str]:
    # temporary tables and the views over them live in pg_temp, which list_tables omits
    with con.raw_sql(r"SELECT relname FROM pg_class WHERE relname LIKE '\_lw\_%'") as cursor:
        return {row[0] for row in cursor.fetchall()}


def test_postgres_profile_equals_duckdb(case: Case, on_postgres: Callable[[Case], Any],
                                        postgres: Any, record_property: Any) -> None:
    before = _postgres_run_objects(postgres)
    began = time.perf_counter()
    got = on_postgres(case)
    record_property("seconds", round(time.perf_counter() - began, 2))
    record_property("duckdb_seconds", round(case.duckdb_seconds, 2))
    assert_same_profiles(got, case, "postgres")
    # the run's views and code tables are gone (they would pile up on a shared server)
    assert _postgres_run_objects(postgres) <= before


def test_spark_profile_equals_duckdb(case: Case, on_spark: Callable[[Case], Any], spark: Any,
                                     record_property: Any) -> None:
    before = set(spark.list_tables())
    began = time.perf_counter()
    got = on_spark(case)
    record_property("seconds", round(time.perf_counter() - began, 2))
    assert_same_profiles(got, case, "pyspark")
    assert {t for t in spark.list_tables() if t.startswith("_lw_")} <= before


def test_spark_fetches_its_window_in_day_groups_with_the_same_profile(
        decision_log: Case, on_spark: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    # Spark keeps the window's projection as one job and fetches its aggregates a few days
    # at a time (here a day at a time): the groups add up to the same profile
    monkeypatch.setattr(profiling, "FETCH_ROWS", 1)
    chunks: list[Any] = []

    def plan(case: Case, decisions: Any, outcomes: Any, con: Any) -> dict[Cohort, Profile]:
        chunks.extend(iter_profile_parts(decisions, case.spec, case.binning, start=case.start,
                                         end=case.end, outcomes=outcomes, con=con))
        return ProfileParts.concat([c.parts for c in chunks]).profiles(
            case.binning, start=case.start, end=case.end)

    got = on_spark(decision_log, plan)
    assert len(chunks) > 1
    assert_same_profiles(got, decision_log, "pyspark")


def test_an_empty_window_is_the_same_empty_profile(decision_log: Case,
                                                   on_postgres: Callable[[Case], Any],
                                                   on_spark: Callable[[Case], Any]) -> None:
    later = T0 + timedelta(days=30)
    empty = replace(decision_log, start=later, end=later + timedelta(days=1),
                    expected={ALL: decision_log.binning.empty(later, later + timedelta(days=1))},
                    unseen_distinct={})
    for engine, run in (("postgres", on_postgres), ("pyspark", on_spark)):
        got = run(empty)
        assert list(got) == [ALL], engine
        assert got[ALL].n == 0 and math.isinf(got[ALL].numeric["x"].minimum), engine
        assert_same_profile(got[ALL], empty.expected[ALL], engine)


def test_the_window_plan_gives_the_global_profile_on_duckdb(case: Case) -> None:
    con = case.store.connect()
    got = _run_window(case, case.store.table("decisions", con=con),
                      case.store.outcomes_latest(con=con), con)
    assert list(got) == [ALL]
    want = case.expected[ALL]
    assert_same_profile(got[ALL], want, f"{case.name}: window plan on duckdb")
    # the same engine hashes alike: the sketches are equal register by register
    for name, stats in want.categorical.items():
        assert got[ALL].categorical[name].unseen_sketch.tolist() == stats.unseen_sketch.tolist()
    assert got[ALL] == want


@pytest.mark.parametrize("engine", ["postgres", "pyspark"])
def test_the_window_plan_gives_the_global_profile_on(engine: str, case: Case,
                                                     on_postgres: Callable[..., Any],
                                                     on_spark: Callable[..., Any]) -> None:
    run = on_postgres if engine == "postgres" else on_spark
    got = run(case, _run_window)
    assert list(got) == [ALL], engine
    assert_same_profile(got[ALL], case.expected[ALL], f"{case.name}: window plan on {engine}")


def test_spark_joins_the_code_tables_by_broadcast_not_by_shuffling_the_decisions(spark: Any) -> None:
    # Spark knows no size for rows from Python: without the broadcast mark it plans a
    # sort-merge join, which shuffles and sorts every decision of the window
    session = spark._session
    session.range(10_000).selectExpr("cast(id % 4 AS string) AS v").createOrReplaceTempView(
        "_lw_test_decisions")
    views = Views(spark)
    try:
        codes = views.codes("d0", ["0", "1", "2"])
        decisions = spark.table("_lw_test_decisions")
        sql = str(spark.compile(decisions.left_join(codes, decisions.v == codes._v_d0)))
        plan = session.sql(f"EXPLAIN {sql}").collect()[0][0]
        assert "BroadcastHashJoin" in plan and "SortMergeJoin" not in plan, plan
        joined = session.sql(sql)
        assert joined.count() == 10_000
        assert joined.filter("_c_d0 IS NULL").count() == 2_500  # "3" has no code
        assert joined.filter("v = '2'").agg({"_c_d0": "max"}).collect()[0][0] == 2
    finally:
        views.drop()
        session.catalog.dropTempView("_lw_test_decisions")
