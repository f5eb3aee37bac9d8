"""Quarantined rows carry their source and position; ``loopwatch quarantine`` lists them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from loopwatch.core.spec import spec_from_mapping
from loopwatch.storage.ingest import ingest_table
from loopwatch.storage.parquet_store import ParquetStore

CSV = """decision_id,timestamp,score,tenure,spend,tickets,plan,mobile,region,action
a,2026-03-01T10:00:00Z,0.2,1,2,3,basic,true,EU,none
b,2026-03-01T10:00:00Z,2.5,1,2,3,basic,true,EU,none
c,2026-03-01T10:00:00Z,0.2,1
d,2026-03-01T10:00:00Z,0.2,ten,2,3,basic,true,EU,none
e,2026-03-01T10:00:00Z,0.3,1,2,3,basic,true,EU,none
"""


def _listing(project: Any, *args: str) -> dict[str, Any]:
    result = project.run("quarantine", "--format", "json", *args)
    assert result.exit_code == 0, result.stdout + result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_each_source_gives_the_line_or_row_of_a_rejected_row(project: Any, churn: Any) -> None:
    csv = project.root / "d.csv"
    csv.write_text(CSV)
    assert project.run("ingest", "decisions", str(csv)).exit_code == 1
    rows = churn.decisions(days=1)
    jsonl = project.root / "d.jsonl"
    jsonl.write_text(json.dumps(rows[0]) + "\n\n{not json\n"
                     + json.dumps({**rows[1], "score": -1}) + "\n")
    assert project.run("ingest", "decisions", str(jsonl)).exit_code == 1
    parquet = project.root / "d.parquet"
    pq.write_table(pa.Table.from_pylist([rows[2], {**rows[3], "tenure": float("inf")}]), parquet)
    assert project.run("ingest", "decisions", str(parquet)).exit_code == 1
    spec = spec_from_mapping(churn.spec, base_dir=project.root)
    ingest_table(ParquetStore(project.store, spec=spec), "decisions",
                 [rows[4], rows[5], {**rows[6], "timestamp": "yesterday"}])
    listed = _listing(project)
    found = {(r["source"], r["position"]): r["reason"] for r in listed["rows"]}
    assert listed["total"] == len(found) == 7
    assert found[(str(csv), "row 2")].startswith("score: 2.5 is outside the score range [0, 1]")
    assert found[(str(csv), "line 4")] == "line 4: expected 10 fields; got 4"
    # a CSV's rows are counted among its well-formed records: 'd' is the fourth
    assert found[(str(csv), "row 3")] == "tenure: expected a number; got 'ten'"
    assert found[(str(jsonl), "line 3")].startswith("line 3: not valid JSON")
    assert found[(str(jsonl), "line 4")].startswith("score: -1.0 is outside")
    assert found[(str(parquet), "row 2")] == "tenure: expected a finite number; got inf"
    assert found[("python", "row 3")].startswith("timestamp: expected an ISO 8601 time")


def test_the_listing_filters_by_reason_and_time(project: Any) -> None:
    csv = project.root / "d.csv"
    csv.write_text(CSV)
    project.run("ingest", "decisions", str(csv))
    assert [r["position"] for r in _listing(project, "--reason", "SCORE")["rows"]] == ["row 2"]
    today = datetime.now(UTC).date()
    assert _listing(project, "--from", f"{today}", "--to", f"{today}")["total"] == 3
    assert _listing(project, "--to", f"{today - timedelta(days=1)}")["total"] == 0
    assert _listing(project, "--limit", "1")["total"] == 3
    assert len(_listing(project, "--limit", "1")["rows"]) == 1
    table = project.run("quarantine")
    assert table.exit_code == 0
    text = " ".join(table.stdout.split())
    assert "row 2" in text and "line 4" in text and "outside the score range" in text


def test_an_empty_quarantine_says_so(project: Any, churn: Any) -> None:
    spec = spec_from_mapping(churn.spec, base_dir=project.root)
    ingest_table(ParquetStore(project.store, spec=spec), "decisions", churn.decisions(days=1))
    result = project.run("quarantine")
    assert result.exit_code == 0
    assert "no quarantined rows match" in result.stdout


def test_a_bad_time_is_a_usage_error(project: Any) -> None:
    result = project.run("quarantine", "--from", "last tuesday")
    assert result.exit_code == 2
    assert "--from: expected an ISO 8601 date or time" in " ".join(result.stderr.split())
