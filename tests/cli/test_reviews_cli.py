"""``loopwatch reviews``: turnaround and agreement per cohort as a table or JSON; bad input exits 2."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import yaml
from typer.testing import CliRunner

from loopwatch.cli.main import app
from loopwatch.core.spec import load_spec
from loopwatch.storage.parquet_store import ParquetStore

runner = CliRunner()
START = datetime(2026, 3, 1, tzinfo=UTC)


def _spec(tmp_path: Path, *, label_source: bool = True) -> Path:
    spec = {"model": "m", "store": "./store", "cohorts": ["region"],
            "features": [{"name": "amount", "dtype": "numeric"}],
            "outcomes": {"label_source": "label_source"} if label_source else {}}
    path = tmp_path / "loopwatch.yaml"
    path.write_text(yaml.safe_dump(spec))
    store = ParquetStore.for_spec(load_spec(path))
    n = 40
    store.ingest("decisions", pa.table({
        "decision_id": [f"d{i}" for i in range(n)],
        "timestamp": [START + timedelta(hours=i) for i in range(n)],
        "score": [0.5] * n, "amount": [1.0] * n, "region": ["EU" if i % 2 else "US" for i in range(n)],
        "action": ["review"] * n}), source="test")
    if label_source:
        rows = [{"decision_id": f"d{i}", "observed_at": START + timedelta(hours=i + (2 if i % 2 else 10)),
                 "label": i % 4 == 0, "label_source": "review"} for i in range(n - 4)]
        rows += [{"decision_id": f"d{i}", "observed_at": START + timedelta(days=40), "label": i % 4 == 0,
                  "label_source": "chargeback"} for i in range(n - 4)]
        store.ingest("outcomes", pa.Table.from_pylist(rows), source="test")
    return path


def test_json_gives_each_cohort_and_ranks_the_longest_wait(tmp_path: Path) -> None:
    path = _spec(tmp_path)
    result = runner.invoke(app, ["reviews", "--spec", str(path), "--min-reviews", "5", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    by = {c["cohort"]: c for c in data["cohorts"]}
    assert by["region=EU"]["hours_median"] == 2.0 and by["region=US"]["hours_median"] == 10.0
    assert by["all"]["waiting"] == 4 and by["all"]["agreement"] == 1.0 and by["all"]["kappa"] == 1.0
    assert data["longest_wait"] == ["region=US", "region=EU"]


def test_the_table_names_the_longest_wait(tmp_path: Path) -> None:
    result = runner.invoke(app, ["reviews", "--spec", str(_spec(tmp_path)), "--min-reviews", "5"],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "longest review wait (p90): region=US 10 h, region=EU 2 h" in result.stdout


def test_a_spec_without_label_source_is_an_input_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["reviews", "--spec", str(_spec(tmp_path, label_source=False))])
    assert result.exit_code == 2 and "outcomes name no label_source column" in result.stderr
