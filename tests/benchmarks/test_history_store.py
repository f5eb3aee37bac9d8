"""The history benchmark's smaller stores, made of the largest one's first days, hold what
writing them day by day would have written."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"


@pytest.fixture()
def bench(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ModuleType]:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    history_bench = importlib.import_module("history_bench")
    monkeypatch.setattr(history_bench, "DATA", tmp_path / "data")
    # the profiles are the library's (tested elsewhere); here only the stores' rows are compared
    monkeypatch.setattr(history_bench, "_bring_up_to_date", lambda directory, days: None)
    yield history_bench
    sys.modules.pop("history_bench", None)


def _rows(directory: Path, kind: str) -> tuple[list[str], pa.Table]:
    files = sorted((directory / kind).rglob("*.parquet"))
    tables = [pq.read_table(f, partitioning=None) for f in files]
    table = pa.concat_tables(tables)
    key = "decision_id"
    return [str(f.relative_to(directory).parent) for f in files], table.sort_by(
        [(key, "ascending")] + ([("observed_at", "ascending")] if kind == "outcomes" else []))


def test_a_derived_store_is_the_store_written_day_by_day(bench: ModuleType, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    derived = bench.prepare([5, 9], 400)[5]
    assert derived == tmp_path / "data" / "400x5" and (derived / ".complete").exists()
    monkeypatch.setattr(bench, "DATA", tmp_path / "written")
    written = bench.build(5, 400)
    for kind in ("decisions", "outcomes"):
        parts, rows = _rows(derived, kind)
        expected_parts, expected = _rows(written, kind)
        assert parts == expected_parts  # one file per day, the same days (and the day after)
        assert rows.num_rows > 0 and rows.equals(expected), kind
    # the larger store holds more: the derived one is not simply a copy of it
    assert _rows(tmp_path / "data" / "400x9", "decisions")[1].num_rows == 10 * 400
    assert _rows(derived, "decisions")[1].num_rows == 6 * 400
