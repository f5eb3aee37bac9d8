"""The embedded Parquet store: idempotent rows, atomic files, outcome joins, quarantine, zones."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loopwatch.core.spec import Spec, spec_from_mapping
from loopwatch.core.window import Window
from loopwatch.errors import StoreError
from loopwatch.storage import atomic
from loopwatch.storage.parquet_store import ParquetStore

DAY = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def later(days: float) -> datetime:
    return DAY + timedelta(days=days)


def make_spec(**extra: Any) -> Spec:
    return spec_from_mapping({
        "model": "fraud",
        "features": [{"name": "amount", "dtype": "numeric"}],
        "cohorts": ["region"],
        **extra,
    })


def decision(i: int | str, *, at: datetime = DAY, **extra: Any) -> dict[str, Any]:
    """A valid decision row with id ``d<i>``."""
    return {"decision_id": f"d{i}" if isinstance(i, int) else i, "timestamp": at.isoformat(),
            "score": 0.5, "amount": 10.0, "region": "EU", **extra}


def outcome(i: int | str, *, at: datetime, label: Any, **extra: Any) -> dict[str, Any]:
    return {"decision_id": f"d{i}" if isinstance(i, int) else i, "observed_at": at.isoformat(),
            "label": label, **extra}


def write(store: ParquetStore, kind: Any, rows: list[dict[str, Any]], source: str = "test") -> Any:
    return store.write(kind, store.schema(kind).conform_rows(rows, source=source))


def ids(store: ParquetStore, kind: Any = "decisions") -> Counter[str]:
    return Counter(store.read(kind).column("decision_id").to_pylist())


def joined_rows(store: ParquetStore) -> dict[str, dict[str, Any]]:
    table = store.joined().to_pyarrow()
    rows = table.to_pylist()
    assert len({r["decision_id"] for r in rows}) == len(rows), "a decision appears twice"
    return {r["decision_id"]: r for r in rows}


# --- idempotency ---------------------------------------------------------------------


def test_resent_decision_is_not_counted_twice_across_writes(store: ParquetStore) -> None:
    first = write(store, "decisions", [decision(1), decision(2)])
    second = write(store, "decisions", [decision(2), decision(3)])
    assert (first.written, first.duplicates) == (2, 0)
    assert (second.written, second.duplicates) == (1, 1)
    assert ids(store) == Counter({"d1": 1, "d2": 1, "d3": 1})
    assert store.count("decisions") == 3


def test_resent_decision_within_one_batch_is_written_once(store: ParquetStore) -> None:
    result = write(store, "decisions", [decision(1), decision(1), decision(2), decision(1)])
    assert (result.written, result.duplicates) == (2, 2)
    assert ids(store) == Counter({"d1": 1, "d2": 1})


def test_resent_decision_is_not_counted_twice_by_another_store_on_the_same_directory(
    tmp_path: Path, spec: Spec
) -> None:
    one = ParquetStore(tmp_path / "s", spec=spec)
    two = ParquetStore(tmp_path / "s", spec=spec)
    write(one, "decisions", [decision(1)])
    result = write(two, "decisions", [decision(1), decision(2)])
    assert (result.written, result.duplicates) == (1, 1)
    # and the first instance learns of the second one's files too
    again = write(one, "decisions", [decision(2)])
    assert (again.written, again.duplicates) == (0, 1)
    assert ids(ParquetStore(tmp_path / "s", spec=spec)) == Counter({"d1": 1, "d2": 1})


def test_same_decision_id_on_another_day_is_a_new_decision(store: ParquetStore) -> None:
    write(store, "decisions", [decision(1)])
    result = write(store, "decisions", [decision(1, at=later(1))])
    assert result.written == 1
    assert store.count("decisions") == 2


def test_decisions_are_partitioned_by_utc_date(store: ParquetStore) -> None:
    write(store, "decisions", [decision(1, at=DAY), decision(2, at=later(2))])
    dates = sorted(p.parent.name for p in store.files("decisions"))
    assert dates == ["date=2026-03-01", "date=2026-03-03"]


def test_a_table_between_two_times_holds_their_rows_and_opens_only_their_days_files(
        store: ParquetStore) -> None:
    # DAY is noon: rows at noon of days 0..4, and one just before midnight of day 1
    write(store, "decisions", [decision(i, at=later(i)) for i in range(5)]
          + [decision("late", at=later(1.49))])
    # a broken file in day 4's partition: reading it would fail
    (store.files("decisions")[-1].parent / "part-broken.parquet").write_bytes(b"not parquet")
    start, end = datetime(2026, 3, 2, 13, tzinfo=UTC), datetime(2026, 3, 5, tzinfo=UTC)
    con = store.connect()
    table = store.table("decisions", con=con, between=Window(start, end))
    got = sorted(table.to_pyarrow().column("decision_id").to_pylist())
    assert got == ["d2", "d3", "late"]  # d1 is before 13:00 of day 1, d4 is on day 4
    # a range of days without files: an empty table with the stored columns, twice over
    for _ in range(2):
        empty = store.table("decisions", con=con, between=Window(later(10), later(11)))
        assert empty.count().to_pyarrow().as_py() == 0
        assert set(store.schema("decisions").arrow.names) <= set(empty.columns)
    # quarantine rows are selected by the time they were rejected
    write(store, "decisions", [decision("bad", amount="lots")])
    now = datetime.now(UTC)
    recent = store.table("quarantine", con=con, between=Window(now - timedelta(hours=1),
                                                              now + timedelta(hours=1)))
    assert recent.to_pyarrow().column("reason").to_pylist() == [
        "amount: expected a number; got 'lots'"]
    assert store.table("quarantine", con=con, between=Window(start, end)).count().to_pyarrow().as_py() == 0


# --- outcomes and the join -----------------------------------------------------------


def test_outcomes_before_with_and_long_after_their_decision_all_join(store: ParquetStore) -> None:
    # d1's outcome arrives before its decision is logged, d2's in the same hour,
    # d3's ninety days later; d4 has no outcome yet
    write(store, "outcomes", [outcome(1, at=later(-1), label=True, value=5.0)])
    write(store, "decisions", [decision(i) for i in (1, 2, 3, 4)])
    write(store, "outcomes", [outcome(2, at=DAY, label=False)])
    write(store, "outcomes", [outcome(3, at=later(90), label=True, value=7.5)])
    rows = joined_rows(store)
    assert set(rows) == {"d1", "d2", "d3", "d4"}
    assert {k: r["label"] for k, r in rows.items()} == {
        "d1": True, "d2": False, "d3": True, "d4": None}
    assert rows["d3"]["value"] == 7.5
    assert rows["d3"]["observed_at"] == later(90)
    assert rows["d4"]["observed_at"] is None


def test_corrected_outcome_replaces_the_earlier_label(store: ParquetStore) -> None:
    write(store, "decisions", [decision(1), decision(2)])
    write(store, "outcomes", [outcome(1, at=later(1), label=False), outcome(2, at=later(1),
                                                                            label=True)])
    write(store, "outcomes", [outcome(1, at=later(30), label=True)])  # chargeback
    rows = joined_rows(store)
    assert rows["d1"]["label"] is True
    assert rows["d1"]["observed_at"] == later(30)
    assert rows["d2"]["label"] is True
    assert store.count("outcomes") == 3  # history kept; the join takes the latest


def test_correction_written_before_the_original_still_wins(store: ParquetStore) -> None:
    write(store, "decisions", [decision(1)])
    write(store, "outcomes", [outcome(1, at=later(30), label=True)])
    write(store, "outcomes", [outcome(1, at=later(1), label=False)])
    assert joined_rows(store)["d1"]["label"] is True


def test_resent_identical_outcome_is_not_duplicated(store: ParquetStore) -> None:
    write(store, "decisions", [decision(1)])
    first = write(store, "outcomes", [outcome(1, at=later(2), label=True)])
    again = write(store, "outcomes", [outcome(1, at=later(2), label=True)] * 2)
    assert (first.written, again.written, again.duplicates) == (1, 0, 2)
    assert store.count("outcomes") == 1
    assert len(store.joined().to_pyarrow()) == 1


def test_decisions_without_outcomes_have_a_null_label(store: ParquetStore) -> None:
    write(store, "decisions", [decision(1), decision(2)])
    table = store.joined().to_pyarrow()
    assert table.column("label").null_count == 2
    assert sorted(table.column("decision_id").to_pylist()) == ["d1", "d2"]


def test_joined_has_the_same_columns_for_an_empty_and_a_filled_store(
    store: ParquetStore,
) -> None:
    write(store, "decisions", [])  # a store, with nothing in it
    empty = store.joined().to_pyarrow().schema
    write(store, "decisions", [decision(1)])
    write(store, "outcomes", [outcome(1, at=later(1), label=True)])
    filled = store.joined().to_pyarrow().schema
    assert filled.names == empty.names
    assert "date" not in filled.names


# --- atomic writes -------------------------------------------------------------------


def test_failed_write_leaves_no_visible_file_no_rows_and_no_temp_file(
    store: ParquetStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_write(table: pa.Table, where: Any, **kwargs: Any) -> None:
        where.write(b"PAR1 half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq, "write_table", half_write)
    with pytest.raises(StoreError) as info:
        write(store, "decisions", [decision(1)])
    message = str(info.value)
    assert "No space left on device" in message
    partition = store.root / "decisions" / "model=fraud" / "date=2026-03-01"
    assert str(partition) in message
    assert list(partition.iterdir()) == []  # neither part-*.parquet nor .part-*.tmp
    assert store.count("decisions") == 0
    assert store.read("decisions").num_rows == 0


def test_rows_of_a_failed_write_are_written_when_resent(
    store: ParquetStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise OSError(5, "Input/output error")

    with monkeypatch.context() as patch:
        patch.setattr(pq, "write_table", fail)
        with pytest.raises(StoreError):
            write(store, "decisions", [decision(1)])
    assert write(store, "decisions", [decision(1)]).written == 1
    assert ids(store) == Counter({"d1": 1})


def test_failed_rename_is_a_store_error_naming_the_file(
    store: ParquetStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_rename(src: Any, dst: Any) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic.os, "rename", no_rename)
    with pytest.raises(StoreError, match=r"cannot write .*part-[0-9a-f]+\.parquet: Permission"):
        write(store, "decisions", [decision(1)])
    monkeypatch.undo()
    assert store.count("decisions") == 0


def test_readers_ignore_temporary_files(store: ParquetStore) -> None:
    write(store, "decisions", [decision(1)])
    partition = store.files("decisions")[0].parent
    (partition / ".part-dead.parquet.tmp").write_bytes(b"PAR1 partial")
    assert store.read("decisions").num_rows == 1
    assert store.joined().to_pyarrow().num_rows == 1


# --- quarantine ----------------------------------------------------------------------


def test_rejected_row_lands_in_quarantine_with_kind_source_reason_and_row(
    store: ParquetStore,
) -> None:
    result = write(store, "decisions", [decision(1), decision(2, amount="lots")], source="api")
    assert (result.written, result.quarantined) == (1, 1)
    assert result.reasons == Counter({"amount: expected a number": 1})
    rows = store.read("quarantine").to_pylist()
    assert len(rows) == 1
    (row,) = rows
    assert (row["kind"], row["source"]) == ("decisions", "api")
    assert row["reason"] == "amount: expected a number; got 'lots'"
    assert json.loads(row["row"])["decision_id"] == "d2"
    assert json.loads(row["row"])["amount"] == "lots"
    assert row["received_at"] is not None


def test_rejected_outcome_lands_in_quarantine_as_an_outcome(store: ParquetStore) -> None:
    write(store, "outcomes", [outcome(1, at=DAY, label="perhaps")])
    (row,) = store.read("quarantine").to_pylist()
    assert row["kind"] == "outcomes"
    assert row["reason"].startswith("label: expected true or false")


def test_quarantine_never_holds_a_dropped_feature_and_only_the_hash_of_a_hashed_one(
    tmp_path: Path,
) -> None:
    spec = make_spec(features=[
        {"name": "amount", "dtype": "numeric"},
        {"name": "email", "dtype": "categorical", "pii": "hash"},
        {"name": "ssn", "dtype": "categorical", "pii": "drop"},
    ])
    store = ParquetStore(tmp_path / "s", spec=spec, pii_key=b"secret")
    rows = [
        decision(1, email="ann@example.com", ssn="123-45-6789"),
        decision(2, email="bob@example.com", ssn="987-65-4321", amount="much"),
    ]
    write(store, "decisions", rows)
    stored = store.read("decisions")
    assert "ssn" not in stored.column_names
    digest = stored.column("email").to_pylist()[0]
    assert digest != "ann@example.com"
    assert len(digest) == 64
    (quarantined,) = store.read("quarantine").to_pylist()
    text = quarantined["row"]
    row = json.loads(text)
    assert "ssn" not in row
    assert "987-65-4321" not in text
    assert "bob@example.com" not in text
    assert len(row["email"]) == 64
    # the same keyed hash in the store and in quarantine, so a quarantined row can be matched
    write(store, "decisions", [decision(3, email="bob@example.com")])
    assert row["email"] in store.read("decisions").column("email").to_pylist()


def test_hashed_feature_cannot_be_written_without_a_key(tmp_path: Path) -> None:
    spec = make_spec(features=[{"name": "email", "dtype": "categorical", "pii": "hash"}])
    store = ParquetStore(tmp_path / "s", spec=spec)
    with pytest.raises(ValueError, match=r"LOOPWATCH_PII_KEY"):
        store.ingest("decisions", pa.Table.from_pylist([decision(1, email="a@b.c")]),
                     source="test")
    assert not (tmp_path / "s" / "decisions").exists()


# --- time zones ----------------------------------------------------------------------


def test_naive_times_are_read_in_the_spec_time_zone_and_stored_in_utc(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path / "s", spec=make_spec(timezone="Europe/Paris"))
    rows = [
        {**decision(1), "timestamp": "2026-07-01T01:30:00"},  # CEST: 23:30 UTC the day before
        {**decision(2), "timestamp": datetime(2026, 1, 15, 0, 30)},  # CET: 23:30 UTC
        {**decision(3), "timestamp": "2026-07-01T01:30:00+00:00"},  # aware: kept
        {**decision(4), "timestamp": datetime(2026, 7, 1, 1, 30, tzinfo=UTC)},
    ]
    result = write(store, "decisions", rows)
    assert result.written == 4
    got = {r["decision_id"]: r["timestamp"] for r in store.read("decisions").to_pylist()}
    assert got == {
        "d1": datetime(2026, 6, 30, 23, 30, tzinfo=UTC),
        "d2": datetime(2026, 1, 14, 23, 30, tzinfo=UTC),
        "d3": datetime(2026, 7, 1, 1, 30, tzinfo=UTC),
        "d4": datetime(2026, 7, 1, 1, 30, tzinfo=UTC),
    }
    by_date = {p.parent.name: set(pq.read_table(p).column("decision_id").to_pylist())
               for p in store.files("decisions")}
    assert by_date == {"date=2026-06-30": {"d1"}, "date=2026-01-14": {"d2"},
                       "date=2026-07-01": {"d3", "d4"}}


def test_naive_times_in_an_arrow_table_are_read_in_the_spec_time_zone(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path / "s", spec=make_spec(timezone="Europe/Paris"))
    table = pa.table({
        "decision_id": ["a", "b"],
        "timestamp": pa.array([datetime(2026, 7, 1, 1, 30), datetime(2026, 7, 1, 12, 0)],
                              pa.timestamp("ms")),
        "score": [0.1, 0.2],
    })
    store.ingest("decisions", table, source="test")
    assert store.read("decisions").column("timestamp").to_pylist() == [
        datetime(2026, 6, 30, 23, 30, tzinfo=UTC), datetime(2026, 7, 1, 10, 0, tzinfo=UTC)]


def test_naive_times_that_daylight_saving_makes_ambiguous_or_skips_do_not_crash(
    tmp_path: Path,
) -> None:
    store = ParquetStore(tmp_path / "s", spec=make_spec(timezone="Europe/Paris"))
    ambiguous, skipped = datetime(2026, 10, 25, 2, 30), datetime(2026, 3, 29, 2, 30)
    table = pa.table({"decision_id": ["a", "b"], "timestamp": [ambiguous, skipped],
                      "score": [0.1, 0.2]})
    assert store.ingest("decisions", table, source="test").written == 2
    rows = write(store, "decisions", [decision("c", at=ambiguous), decision("d", at=skipped)])
    assert rows.written == 2
    got = {r["decision_id"]: r["timestamp"] for r in store.read("decisions").to_pylist()}
    # the earlier of the two readings of an ambiguous time, as Python's fold=0
    assert got["a"] == got["c"] == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert got["b"] == got["d"]
