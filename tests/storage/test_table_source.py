"""A table on an Ibis backend as a source: columns read as the store keeps them, clear errors.

These run on an in-memory DuckDB database (no server); the same projection runs on
PostgreSQL and Spark in tests/storage/test_source_parity.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import pytest

from loopwatch.core.spec import Spec, spec_from_mapping
from loopwatch.errors import InputError, SpecError, StoreError
from loopwatch.storage.table_source import TableSource


def make_spec(**source: Any) -> Spec:
    return spec_from_mapping({
        "model": "m",
        "features": [{"name": "x", "dtype": "numeric"}, {"name": "c", "dtype": "categorical"}],
        "source": {"decisions": "d", "outcomes": "o", **source},
    })


@pytest.fixture
def con() -> Any:
    con = ibis.duckdb.connect()
    con.raw_sql("CREATE TABLE d (decision_id TEXT, timestamp TIMESTAMPTZ, score DOUBLE, x INTEGER, "
                "c INTEGER)")
    con.raw_sql("INSERT INTO d VALUES ('a', '2026-01-01 10:00+00', 0.5, 3, 7), "
                "('b', '2026-01-02 10:00+00', 0.9, NULL, 8)")
    con.raw_sql("CREATE TABLE o (decision_id TEXT, observed_at TIMESTAMPTZ, label INTEGER)")
    con.raw_sql("INSERT INTO o VALUES ('a', '2026-01-03 00:00+00', 1), "
                "('a', '2026-01-04 00:00+00', 0)")
    return con


def source(con: Any, tmp_path: Path, **kw: Any) -> TableSource:
    return TableSource(spec=make_spec(**kw), con=con, root=tmp_path, location="duckdb (d, o)")


def test_columns_are_read_as_the_store_keeps_them(con: Any, tmp_path: Path) -> None:
    rows = source(con, tmp_path).joined().order_by("decision_id").to_pyarrow().to_pylist()
    assert [(r["decision_id"], r["x"], r["c"], r["label"], r["action"]) for r in rows] == [
        ("a", 3.0, "7", False, None),  # the latest outcome (0) wins; no action column: null
        ("b", None, "8", None, None),
    ]


def test_versions_are_per_day_and_change_only_with_that_days_rows(con: Any, tmp_path: Path) -> None:
    before = source(con, tmp_path).versions("decisions")
    assert sorted(before) == ["2026-01-01", "2026-01-02"]
    con.raw_sql("INSERT INTO d VALUES ('c', '2026-01-02 11:00+00', 0.1, 1, 7)")
    after = source(con, tmp_path).versions("decisions")
    assert after["2026-01-01"] == before["2026-01-01"]
    assert after["2026-01-02"] != before["2026-01-02"]
    assert source(con, tmp_path).count("decisions") == 3


def test_a_type_that_cannot_be_read_names_the_column_and_the_type(con: Any, tmp_path: Path) -> None:
    con.raw_sql("ALTER TABLE d ALTER x TYPE TEXT")
    with pytest.raises(InputError, match=r"decisions table d: column 'x' has type string, which "
                                         r"cannot be read as a number"):
        source(con, tmp_path).table("decisions")


def test_a_missing_required_column_is_named(con: Any, tmp_path: Path) -> None:
    con.raw_sql("ALTER TABLE d DROP COLUMN score")
    with pytest.raises(InputError, match=r"has no column 'score'.*found: decision_id, timestamp"):
        source(con, tmp_path).table("decisions")


def test_a_missing_table_is_a_store_error_naming_it(con: Any, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"cannot read the decisions table elsewhere\.d"):
        source(con, tmp_path, decisions="elsewhere.d").count("decisions")


def test_nothing_is_quarantined_and_outcomes_may_be_absent(con: Any, tmp_path: Path) -> None:
    spec = spec_from_mapping({"model": "m", "features": [{"name": "x", "dtype": "numeric"}],
                              "source": {"decisions": "d"}})
    only = TableSource(spec=spec, con=con, root=tmp_path, location="duckdb")
    assert only.count("quarantine") == 0 and only.count("outcomes") == 0
    assert only.versions("outcomes") == {}
    assert only.joined().count().to_pyarrow().as_py() == 2


def test_the_spec_refuses_a_password_and_a_source_without_tables() -> None:
    with pytest.raises(SpecError, match=r"source\.url: a password does not belong in the spec"):
        make_spec(engine="postgres", url="postgresql://u:hunter2@db/x")
    with pytest.raises(SpecError, match="name the decisions table"):
        spec_from_mapping({"model": "m", "features": [{"name": "x", "dtype": "numeric"}],
                           "source": {"engine": "postgres"}})
