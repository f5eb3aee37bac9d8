"""Files missing spec columns, resent decisions that differ, and outcomes with no decision:
each is reported with what and where, never accepted in silence."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from loopwatch.core.spec import spec_from_mapping
from loopwatch.storage.ingest import ingest_table
from loopwatch.storage.parquet_store import ParquetStore


def _csv(path: Path, rows: list[dict[str, Any]], drop: tuple[str, ...] = ()) -> Path:
    names = [k for k in rows[0] if k not in drop]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, names, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _text(result: Any) -> str:
    return " ".join((result.stdout + result.stderr).split())


def test_a_file_without_declared_columns_lands_with_a_warning_naming_them(
        project: Any, churn: Any) -> None:
    rows = churn.decisions(days=2)
    path = _csv(project.root / "d.csv", rows, drop=("action", "plan", "region"))
    result = project.run("ingest", "decisions", str(path))
    # a warning, not an error: the rows are good, and the check's schema findings page on a
    # feature that stopped arriving
    assert result.exit_code == 0, _text(result)
    assert "Traceback" not in _text(result)
    assert (f"warning: {path}: no column 'plan', 'region', 'action', which the spec declares; "
            "stored as missing in every row") in _text(result)
    store = ParquetStore(project.store, spec=spec_from_mapping(churn.spec))
    assert store.count("decisions") == len(rows)  # the rows land
    as_json = project.run("ingest", "decisions", str(path), "--format", "json")
    [report] = json.loads(as_json.stdout)["files"]
    assert report["missing_columns"] == ["plan", "region", "action"]
    assert report["duplicates"] == len(rows)


def test_a_file_with_every_declared_column_exits_0(project: Any, churn: Any) -> None:
    path = _csv(project.root / "d.csv", churn.decisions(days=1))
    result = project.run("ingest", "decisions", str(path))
    assert result.exit_code == 0, _text(result)
    assert "warning" not in _text(result)


def test_a_resent_decision_with_another_score_is_quarantined_and_the_stored_one_kept(
        project: Any, churn: Any) -> None:
    rows = churn.decisions(days=1)
    spec = spec_from_mapping(churn.spec, base_dir=project.root)
    store = ParquetStore(project.store, spec=spec)
    ingest_table(store, "decisions", rows)
    changed = [{**rows[0], "score": 0.999}, rows[1]]  # one differs, one is an exact resend
    path = project.root / "again.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in changed))
    result = project.run("ingest", "decisions", str(path), "--format", "json")
    assert result.exit_code == 1, _text(result)
    [report] = json.loads(result.stdout)["files"]
    assert (report["written"], report["duplicates"], report["quarantined"]) == (0, 1, 1)
    [rejected] = store.read("quarantine").to_pylist()
    assert rejected["reason"] == (f"score: a resent decision differs from the one stored under its id; "
                                  f"stored {rows[0]['score']!r}, resent 0.999 (the stored decision is kept)")
    assert rejected["source"] == str(path)
    stored = {r["decision_id"]: r["score"] for r in store.read("decisions").to_pylist()}
    assert stored[rows[0]["decision_id"]] == rows[0]["score"]


def test_outcomes_for_unknown_decisions_are_stored_and_reported(project: Any, churn: Any) -> None:
    rows = churn.decisions(days=1)
    spec = spec_from_mapping(churn.spec, base_dir=project.root)
    ingest_table(ParquetStore(project.store, spec=spec), "decisions", rows)
    labels = churn.outcomes(rows[:5]) + [
        {"decision_id": name, "observed_at": "2026-03-09T00:00:00+00:00", "label": True}
        for name in ("nope-1", "nope-2")]
    path = project.root / "o.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in labels))
    result = project.run("ingest", "outcomes", str(path))
    assert result.exit_code == 0, _text(result)
    assert ("warning: 2 stored outcomes name a decision id with no stored decision "
            "(e.g. 'nope-1', 'nope-2'); they join when their decision arrives") in _text(result)
    as_json = json.loads(project.run("ingest", "outcomes", str(path), "--format", "json").stdout)
    assert (as_json["outcomes_without_decision"], as_json["examples"]) == (2, ["nope-1", "nope-2"])
