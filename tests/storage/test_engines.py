"""The engines a profile plan runs on: any other backend is an input error that says which."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from loopwatch.errors import InputError
from loopwatch.storage.engines import Runner, Views


def test_a_backend_the_profile_plan_does_not_support_is_an_input_error_naming_it() -> None:
    with pytest.raises(InputError, match=r"duckdb, postgres and pyspark; got 'clickhouse'"):
        Runner(SimpleNamespace(name="clickhouse"))


def test_spark_joins_the_code_tables_by_broadcast_not_by_shuffling_the_decisions(spark: Any) -> None:
    # Spark knows no size for rows from Python: without the broadcast mark it plans a
    # sort-merge join, which shuffles and sorts every decision of the window
    import ibis

    views = Views(spark)
    try:
        codes = views.codes("d0", ["0", "1", "2"])
        decisions = ibis.memtable({"v": [str(i % 4) for i in range(10_000)]})
        joined = decisions.left_join(codes, decisions.v == codes._v_d0)
        assert joined.count().execute() == 10_000  # (registers the decisions with Spark)
        assert joined.filter(joined._c_d0.isnull()).count().execute() == 2_500  # "3" has no code
        assert joined.filter(joined.v == "2")._c_d0.max().execute() == 2
        plan = spark.raw_sql(f"EXPLAIN {spark.compile(joined)}").toPandas().iloc[0, 0]
        assert "BroadcastHashJoin" in plan and "SortMergeJoin" not in plan, plan
    finally:
        views.drop()
