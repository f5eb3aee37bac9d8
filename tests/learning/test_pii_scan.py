"""The PII scan samples in the engine and finds planted personal data in undeclared columns, and finds
nothing in the simulators' normal fields."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from loopwatch.core.spec import spec_from_mapping
from loopwatch.learning.pii_scan import scan_pii
from loopwatch.simulate.churn import ChurnConfig, simulate_churn
from loopwatch.simulate.fraud import SimulationConfig, SimulationResult, simulate
from loopwatch.storage.parquet_store import ParquetStore

SPEC = spec_from_mapping({
    "model": "support",
    "features": [{"name": "note", "dtype": "categorical"}, {"name": "channel", "dtype": "categorical"},
                 {"name": "contact", "dtype": "categorical", "pii": "hash"}],
    "cohorts": ["region"],
})


def _store(tmp_path: Path, plant: Callable[[int], dict[str, Any]], n: int = 2_000) -> ParquetStore:
    rows = [{"decision_id": f"dec-{i:09d}", "timestamp": f"2026-03-0{1 + i % 7}T10:00:00Z", "score": 0.2,
             "note": f"ticket {i} about order {i * 7919 % 100_000}", "channel": "web", "region": "EU",
             "contact": f"someone{i}@example.com", **plant(i)} for i in range(n)]
    store = ParquetStore(tmp_path / "store", spec=SPEC, pii_key=b"k" * 32)
    store.ingest("decisions", pa.Table.from_pylist(rows), source="test")
    return store


def test_planted_emails_phones_and_cards_are_found_in_the_columns_they_are_in(tmp_path: Path) -> None:
    def plant(i: int) -> dict[str, Any]:
        if i % 20 == 0:
            return {"note": f"customer wrote from ann{i}@example.org"}
        if i % 20 == 1:
            return {"channel": "call +1 415 555 2671"}
        if i % 50 == 2:
            return {"note": "card 4111 1111 1111 1111 declined"}
        return {}

    scan = scan_pii(_store(tmp_path, plant), sample_rows=100_000)
    found = {(f.column, f.kind): f for f in scan.found}
    assert set(found) == {("note", "email"), ("channel", "phone"), ("note", "card")}
    assert scan.exit_code == 1 and scan.rows == scan.sampled == 2_000
    # every planted row is matched, and the share is of the sampled rows
    assert found["note", "email"].confirmed == 100 and found["note", "email"].share == pytest.approx(0.05)
    assert found["channel", "phone"].share == pytest.approx(0.05)
    assert found["note", "card"].confirmed == 40 and found["note", "card"].share == pytest.approx(0.02)
    # examples are masked: the report never repeats what it found
    assert found["note", "card"].examples == ("************1111",)
    assert all("@" in e and "ann" not in e for e in found["note", "email"].examples)
    # the column declared pii: hash is not scanned (its stored values are digests)
    assert "contact" not in scan.columns and "decision_id" in scan.columns


def test_a_large_store_is_sampled_in_the_engine_and_the_share_estimated(tmp_path: Path) -> None:
    store = _store(tmp_path, lambda i: {"note": f"x{i}@example.net"} if i % 10 == 0 else {}, n=6_000)
    scan = scan_pii(store, sample_rows=1_500, candidates=50, seed=3)
    assert scan.rows == 6_000 and 900 < scan.sampled < 2_300
    (email,) = scan.found
    assert email.read == 50 and email.confirmed == 50
    assert email.share == pytest.approx(0.1, abs=0.03)


def test_near_misses_are_not_reported(tmp_path: Path) -> None:
    def plant(i: int) -> dict[str, Any]:
        return {"note": ["card 4111 1111 1111 1112", "ref 0000000000000000", "v1.2.3-rc.4",
                         "@handle", "2026-03-01 10:00:00", "1234567"][i % 6]}

    scan = scan_pii(_store(tmp_path, plant))
    assert scan.found == () and scan.exit_code == 0


def _written(result: SimulationResult, tmp_path: Path) -> ParquetStore:
    store = ParquetStore(tmp_path / "store", spec=result.spec)
    store.ingest("decisions", result.decisions, source="simulator")
    return store


@pytest.mark.parametrize("make", [
    lambda: simulate(SimulationConfig(days=6, decisions_per_day=800, seed=5,
                                      start=datetime(2026, 1, 1, tzinfo=UTC))),
    lambda: simulate_churn(ChurnConfig(days=6, decisions_per_day=800, seed=5,
                                       start=datetime(2026, 1, 1, tzinfo=UTC))),
], ids=["fraud", "churn"])
def test_the_simulators_normal_fields_hold_no_personal_data(
        make: Callable[[], SimulationResult], tmp_path: Path) -> None:
    scan = scan_pii(_written(make(), tmp_path), candidates=2_000)
    assert scan.sampled == scan.rows > 4_000
    assert {"decision_id", "model_version", "source"} <= set(scan.columns)
    assert scan.found == ()
