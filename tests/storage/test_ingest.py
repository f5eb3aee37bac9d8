"""File and in-memory ingest: good rows land, bad ones go to quarantine, counts are exact."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loopwatch.errors import InputError
from loopwatch.storage import ingest
from loopwatch.storage.ingest import ingest_file, ingest_table
from loopwatch.storage.parquet_store import ParquetStore


class Progress:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def __call__(self, done: int, total: int) -> None:
        self.calls.append((done, total))

    def assert_complete(self, total: int) -> None:
        assert self.calls, "progress was never reported"
        done = [d for d, _ in self.calls]
        assert done == sorted(done)
        assert {t for _, t in self.calls} == {total}
        assert done[-1] == total


def stored(store: ParquetStore) -> dict[str, dict[str, Any]]:
    return {r["decision_id"]: r for r in store.read("decisions").to_pylist()}


# --- CSV -----------------------------------------------------------------------------

CSV = """decision_id,timestamp,score,amount,country,new_user,region,colour
d1,2026-03-01T10:00:00Z,0.9,12.5,FR,true,NA,red
d2,2026-03-01T10:05:00Z,0.1,,,,EU,
d3,2026-03-01T10:06:00Z,0.2,12,FR,false
d4,2026-03-01T10:07:00Z,0.3,twelve,FR,1,EU,blue
d5,2026-03-01T10:08:00Z,0.4,7,DE,0,US,green
"""


def test_csv_lands_good_rows_and_quarantines_malformed_and_bad_ones(
    store: ParquetStore, tmp_path: Path
) -> None:
    path = tmp_path / "decisions.csv"
    path.write_text(CSV)
    progress = Progress()
    report = ingest_file(store, "decisions", path, on_progress=progress)
    assert report.rows_read == 5
    assert (report.result.written, report.result.quarantined) == (3, 2)
    assert report.result.unknown_columns == ("colour",)
    progress.assert_complete(path.stat().st_size)
    rows = stored(store)
    assert set(rows) == {"d1", "d2", "d5"}
    assert rows["d1"]["region"] == "NA"  # North America, not a missing value
    assert (rows["d1"]["amount"], rows["d1"]["new_user"]) == (12.5, True)
    assert (rows["d2"]["amount"], rows["d2"]["country"], rows["d2"]["new_user"]) == (
        None, None, None)
    assert "colour" not in store.read("decisions").column_names
    quarantined = {r["reason"]: json.loads(r["row"]) for r in store.read("quarantine").to_pylist()}
    bad_value = quarantined.pop("amount: expected a number; got 'twelve'")
    assert bad_value["decision_id"] == "d4"
    ((reason, malformed),) = quarantined.items()
    assert reason.endswith("expected 8 fields; got 6")
    assert malformed["line"].startswith("d3,")


def test_csv_whose_every_line_is_malformed_quarantines_every_line(
    store: ParquetStore, tmp_path: Path
) -> None:
    path = tmp_path / "decisions.csv"
    path.write_text("decision_id,timestamp,score\nd1,2026-03-01T10:00:00Z\nd2\n")
    progress = Progress()
    report = ingest_file(store, "decisions", path, on_progress=progress)
    assert (report.rows_read, report.result.written, report.result.quarantined) == (2, 0, 2)
    assert store.count("quarantine") == 2
    progress.assert_complete(path.stat().st_size)


def test_csv_without_a_required_column_is_an_input_error_naming_it(
    store: ParquetStore, tmp_path: Path
) -> None:
    path = tmp_path / "decisions.csv"
    path.write_text("decision_id,timestamp,amount\nd1,2026-03-01T10:00:00Z,1\n")
    with pytest.raises(InputError, match=r"no column 'score'"):
        ingest_file(store, "decisions", path)
    assert not store.root.exists()  # nothing written, not even an empty store


# --- Parquet -------------------------------------------------------------------------


def parquet_rows(n: int) -> pa.Table:
    return pa.table({
        "decision_id": [f"d{i}" for i in range(n)],
        "timestamp": pa.array([datetime(2026, 3, 1, i % 24, tzinfo=UTC) for i in range(n)],
                              pa.timestamp("ms", tz="UTC")),
        "score": [i / n for i in range(n)],
        # every seventh amount is not a number; Parquet strings are cast by the validator
        "amount": ["many" if i % 7 == 3 else str(i) for i in range(n)],
        "region": ["NA", "EU", None] * (n // 3) + ["EU"] * (n % 3),
    })


def test_parquet_is_read_in_batches_with_exact_counts_and_progress(
    store: ParquetStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "BATCH_ROWS", 10)
    path = tmp_path / "decisions.parquet"
    pq.write_table(parquet_rows(95), path, row_group_size=30)
    progress = Progress()
    report = ingest_file(store, "decisions", path, on_progress=progress)
    bad = sum(1 for i in range(95) if i % 7 == 3)
    assert report.rows_read == 95
    assert (report.result.written, report.result.quarantined) == (95 - bad, bad)
    assert len(progress.calls) >= 10
    progress.assert_complete(95)
    rows = stored(store)
    assert set(rows) == {f"d{i}" for i in range(95) if i % 7 != 3}
    assert rows["d0"]["region"] == "NA"
    assert rows["d2"]["region"] is None
    assert rows["d5"]["amount"] == 5.0


def test_parquet_without_a_required_column_is_an_input_error_naming_it(
    store: ParquetStore, tmp_path: Path
) -> None:
    path = tmp_path / "decisions.parquet"
    pq.write_table(parquet_rows(3).drop_columns(["timestamp"]), path)
    with pytest.raises(InputError, match=r"no column 'timestamp'"):
        ingest_file(store, "decisions", path)


def test_a_file_that_is_not_parquet_is_an_input_error(
    store: ParquetStore, tmp_path: Path
) -> None:
    path = tmp_path / "decisions.parquet"
    path.write_text("decision_id\nd1\n")
    with pytest.raises(InputError, match=r"not a readable Parquet file"):
        ingest_file(store, "decisions", path)


# --- JSON Lines ----------------------------------------------------------------------


def test_jsonl_quarantines_malformed_and_non_object_lines_and_skips_blank_ones(
    store: ParquetStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "BATCH_ROWS", 2)
    good = [{"decision_id": f"d{i}", "timestamp": "2026-03-01T10:00:00Z", "score": 0.5,
             "amount": i, "region": "NA"} for i in range(5)]
    lines = [json.dumps(good[0]), "", json.dumps(good[1]), '{"decision_id": "x", ',
             "   ", json.dumps(good[2]), "[1, 2]", json.dumps(good[3]),
             json.dumps({**good[4], "score": "high"}), ""]
    path = tmp_path / "decisions.jsonl"
    path.write_text("\n".join(lines) + "\n")
    progress = Progress()
    report = ingest_file(store, "decisions", path, on_progress=progress)
    assert report.rows_read == 7
    assert (report.result.written, report.result.quarantined) == (4, 3)
    progress.assert_complete(path.stat().st_size)
    assert set(stored(store)) == {"d0", "d1", "d2", "d3"}
    assert stored(store)["d0"]["region"] == "NA"
    reasons = sorted(r["reason"] for r in store.read("quarantine").to_pylist())
    assert reasons[0].startswith("line 4: not valid JSON")
    assert reasons[1] == "line 7: expected a JSON object; got list"
    assert reasons[2] == "score: expected a number; got 'high'"


def test_resent_file_is_not_counted_twice(store: ParquetStore, tmp_path: Path) -> None:
    path = tmp_path / "decisions.ndjson"
    path.write_text("".join(json.dumps({"decision_id": f"d{i}", "score": 0.1,
                                        "timestamp": "2026-03-01T00:00:00Z"}) + "\n"
                            for i in range(4)))
    ingest_file(store, "decisions", path)
    again = ingest_file(store, "decisions", path)
    assert (again.rows_read, again.result.written, again.result.duplicates) == (4, 0, 4)
    assert store.count("decisions") == 4


# --- errors about the file as a whole ------------------------------------------------


def test_unknown_suffix_is_an_input_error_listing_the_known_ones(
    store: ParquetStore, tmp_path: Path
) -> None:
    path = tmp_path / "decisions.xlsx"
    path.write_text("x")
    with pytest.raises(InputError, match=r"suffix '\.xlsx'; expected one of .*\.csv"):
        ingest_file(store, "decisions", path)


def test_missing_file_is_an_input_error_naming_it(store: ParquetStore, tmp_path: Path) -> None:
    path = tmp_path / "nowhere.csv"
    with pytest.raises(InputError, match=r"nowhere\.csv: no such file"):
        ingest_file(store, "decisions", path)


# --- in memory -----------------------------------------------------------------------

ROWS: list[dict[str, Any]] = [
    {"decision_id": "a", "timestamp": datetime(2026, 3, 1, 10, tzinfo=UTC), "score": 0.9,
     "amount": 12.5, "country": "FR", "new_user": True, "region": "NA"},
    {"decision_id": "b", "timestamp": datetime(2026, 3, 1, 11, tzinfo=UTC), "score": 0.2,
     "amount": None, "country": None, "new_user": False, "region": "EU"},
    {"decision_id": "c", "timestamp": datetime(2026, 3, 2, 9, tzinfo=UTC), "score": None,
     "amount": 3.0, "country": "DE", "new_user": None, "region": "US"},
]


@pytest.mark.parametrize("make", [
    pytest.param(lambda: ROWS, id="list-of-dicts"),
    pytest.param(lambda: pa.Table.from_pylist(ROWS), id="arrow"),
    pytest.param(lambda: pd.DataFrame(ROWS), id="pandas"),
    pytest.param(lambda: pl.DataFrame(ROWS), id="polars"),
])
def test_in_memory_tables_of_every_kind_land_identically(
    tmp_path: Path, spec: Any, make: Any
) -> None:
    store = ParquetStore(tmp_path / "s", spec=spec)
    report = ingest_table(store, "decisions", make(), source="mem")
    assert report.rows_read == 3
    assert (report.result.written, report.result.quarantined) == (2, 1)
    assert report.result.reasons == {"score: required value is missing": 1}
    expected = [{k: v for k, v in r.items()} for r in ROWS[:2]]
    got = [{k: r[k] for k in expected[0]} for r in store.read("decisions").to_pylist()]
    assert sorted(got, key=lambda r: r["decision_id"]) == expected


def test_list_of_rows_with_mixed_types_quarantines_only_the_bad_rows(
    store: ParquetStore,
) -> None:
    rows = [
        {"decision_id": "a", "timestamp": "2026-03-01T10:00:00Z", "score": 0.5, "amount": 1},
        {"decision_id": "b", "timestamp": "2026-03-01T10:00:00Z", "score": 0.5, "amount": "x"},
        {"decision_id": "c", "timestamp": "2026-03-01T10:00:00Z", "score": 0.5,
         "amount": 10**30},
        {"decision_id": "d", "timestamp": "2026-03-01T10:00:00Z", "score": 0.5,
         "amount": [1, 2]},
    ]
    report = ingest_table(store, "decisions", rows)
    assert (report.result.written, report.result.quarantined) == (2, 2)
    assert stored(store)["c"]["amount"] == 1e30


def test_in_memory_table_without_a_required_column_is_an_input_error(
    store: ParquetStore,
) -> None:
    with pytest.raises(InputError, match=r"no column 'score'"):
        ingest_table(store, "decisions", pd.DataFrame({"decision_id": ["a"],
                                                       "timestamp": ["2026-03-01"]}))
    with pytest.raises(InputError, match=r"no column 'score'"):
        ingest_table(store, "decisions", [{"decision_id": "a", "timestamp": "2026-03-01"}])


def test_an_object_that_is_not_a_table_is_an_input_error(store: ParquetStore) -> None:
    with pytest.raises(InputError, match=r"cannot read a dict as a table"):
        ingest_table(store, "decisions", {"decision_id": "a"})


def test_pandas_nanosecond_times_are_stored_to_the_microsecond(store: ParquetStore) -> None:
    frame = pd.DataFrame({
        "decision_id": ["a"], "score": [0.5],
        "timestamp": pd.to_datetime(["2026-03-01 10:00:00.123456789"], utc=True),
    })
    assert ingest_table(store, "decisions", frame).result.written == 1
    assert store.read("decisions").column("timestamp").to_pylist() == [
        datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)]


def test_json_lines_without_a_required_key_in_any_row_is_an_input_error(tmp_path: Path) -> None:
    from loopwatch.core.spec import spec_from_mapping

    spec = spec_from_mapping({"model": "m", "features": [{"name": "x", "dtype": "numeric"}]})
    store = ParquetStore(tmp_path / "s", spec=spec)
    path = tmp_path / "d.jsonl"
    path.write_text('{"timestamp": "2026-01-01T00:00:00Z", "score": 0.1}\n' * 3)
    with pytest.raises(InputError, match="no column 'decision_id'"):
        ingest_file(store, "decisions", path)
    assert not store.root.exists()  # nothing written, not even an empty store
