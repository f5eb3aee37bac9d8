"""summarize: counts, rates and cohorts of a store, checked against a direct count of its rows."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from loopwatch.core.spec import Spec
from loopwatch.storage.parquet_store import ParquetStore
from loopwatch.storage.summary import summarize

START = datetime(2026, 3, 1, 8, tzinfo=UTC)
ACTIONS = ["approve", "block", "review", "approve", "approve"]
REGIONS = ["EU", "EU", "NA", "US", "NA", None, "EU"]


def test_summary_of_an_empty_store_has_no_rates(store: ParquetStore) -> None:
    store.write("decisions", store.schema("decisions").conform_rows([], source="t"))
    summary = summarize(store)
    assert (summary.decisions, summary.outcomes, summary.quarantined) == (0, 0, 0)
    assert summary.decision_rate is None
    assert summary.label_coverage is None
    assert summary.base_rate is None


def test_summary_counts_match_the_rows(tmp_path: Path, spec: Spec) -> None:
    store = ParquetStore(tmp_path / "s", spec=spec)
    decisions = [{
        "decision_id": f"d{i}",
        "timestamp": START + timedelta(hours=7 * i),
        "score": i / 40,
        "action": ACTIONS[i % len(ACTIONS)],
        "region": REGIONS[i % len(REGIONS)],
        "model_version": "v2" if i >= 30 else "v1",
    } for i in range(40)]
    store.ingest("decisions", pa.Table.from_pylist(decisions), source="t")
    labelled = {f"d{i}": i % 3 == 0 for i in range(0, 40, 2)}
    store.ingest("outcomes", pa.Table.from_pylist([
        {"decision_id": k, "observed_at": START + timedelta(days=20), "label": v}
        for k, v in labelled.items()]), source="t")
    # a correction flips d2 to positive; it must count once, with its latest label
    store.ingest("outcomes", pa.Table.from_pylist([
        {"decision_id": "d2", "observed_at": START + timedelta(days=25), "label": True}]),
        source="t")
    labelled["d2"] = True
    store.ingest("decisions", pa.Table.from_pylist([
        {"decision_id": "bad", "timestamp": START, "score": "x"}]), source="t")

    summary = summarize(store)
    times = [d["timestamp"] for d in decisions]
    assert summary.decisions == 40
    assert summary.outcomes == len(labelled) + 1
    assert summary.quarantined == 1
    assert summary.quarantine_reasons == {"score: expected a number; got 'x'": 1}
    assert (summary.first_decision, summary.last_decision) == (min(times), max(times))
    assert summary.days == len({t.date() for t in times})
    assert summary.model_versions == ("v1", "v2")
    flagged = sum(d["action"] in ("block", "review") for d in decisions)
    assert summary.decision_rate == flagged / 40
    assert summary.labelled == len(labelled)
    assert summary.label_coverage == len(labelled) / 40
    assert summary.positive_labels == sum(labelled.values())
    assert summary.base_rate == sum(labelled.values()) / len(labelled)
    regions = Counter("(null)" if d["region"] is None else d["region"] for d in decisions)
    assert summary.cohorts == {"region": dict(regions)}
    as_json = summary.to_dict()
    assert as_json["first_decision"] == min(times).isoformat()
    assert as_json["base_rate"] == summary.base_rate
