"""``loopwatch features``: the registry as a table or JSON, exit 1 on a flag or found PII, 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import yaml
from typer.testing import CliRunner

from loopwatch.cli.main import app
from loopwatch.core.spec import load_spec
from loopwatch.storage.parquet_store import ParquetStore

runner = CliRunner()


def _spec(tmp_path: Path, *, owner: str | None = "payments") -> Path:
    spec = {"model": "m", "store": "./store", "features": [
        {"name": "amount", "dtype": "numeric", "owner": owner, "importance": 0.5,
         "expectations": {"min": 0, "max": 100}},
        {"name": "note", "dtype": "categorical", "owner": "support", "importance": 0.1,
         "deprecated_after": "2026-02-01"}]}
    path = tmp_path / "loopwatch.yaml"
    path.write_text(yaml.safe_dump(spec))
    rows = [{"decision_id": f"d{i}", "timestamp": "2026-03-01T10:00:00Z", "score": 0.5, "amount": float(i),
             "note": "mail bob@example.com" if i == 3 else "ok"} for i in range(20)]
    store = ParquetStore.for_spec(load_spec(path))
    assert store.ingest("decisions", pa.Table.from_pylist(rows), source="test").written == 20
    return path


def test_flags_are_listed_and_exit_1(tmp_path: Path) -> None:
    path = _spec(tmp_path, owner=None)
    result = runner.invoke(app, ["features", "--spec", str(path), "--on", "2026-03-01"],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    assert "2 flags" in result.stdout and "missing_owner" in result.stdout and "deprecated" in result.stdout


def test_json_holds_every_feature_and_the_scan_with_masked_examples(tmp_path: Path) -> None:
    path = _spec(tmp_path)
    result = runner.invoke(app, ["features", "--spec", str(path), "--on", "2026-01-01", "--scan-pii",
                                 "--format", "json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert [f["name"] for f in data["features"]] == ["amount", "note"] and data["flags"] == []
    (found,) = data["pii_scan"]["found"]
    assert (found["column"], found["kind"], found["examples"]) == ("note", "email", ["b**@e******.com"])
    assert "bob@" not in result.stdout


def test_a_clean_registry_exits_0_and_offline_reads_no_store(tmp_path: Path) -> None:
    path = _spec(tmp_path)
    assert runner.invoke(app, ["features", "--spec", str(path), "--on", "2026-01-01"]).exit_code == 0
    (tmp_path / "store").rename(tmp_path / "gone")
    result = runner.invoke(app, ["features", "--spec", str(path), "--on", "2026-01-01", "--offline"])
    assert result.exit_code == 0, result.output


def test_bad_options_are_usage_errors(tmp_path: Path) -> None:
    path = _spec(tmp_path)
    for args, message in ((["--on", "soon"], "--on: expected a day such as 2026-03-01; got 'soon'"),
                          (["--phone-region", "XX"], "--phone-region: expected a region code"),
                          (["--offline", "--scan-pii"], "--scan-pii: reads the logged decisions")):
        result = runner.invoke(app, ["features", "--spec", str(path), *args])
        assert result.exit_code == 2 and message in result.stderr, (args, result.output)


def test_registered_model_versions_decide_which_features_are_unused(tmp_path: Path) -> None:
    path = _spec(tmp_path)
    artifact = tmp_path / "model.pkl"
    artifact.write_bytes(b"model")
    registered = runner.invoke(app, ["models", "register", "v1", "--spec", str(path), "--artifact",
                                     str(artifact), "--features", "amount", "--by", "ci"])
    assert registered.exit_code == 0, registered.output
    result = runner.invoke(app, ["features", "--spec", str(path), "--on", "2026-01-01", "--format", "json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert [(f["feature"], f["kind"], f["message"]) for f in data["flags"]] == [
        ("note", "unused", "no registered model version uses it")]
    assert data["features"][0]["used_by"] == ["v1"]
