"""Importing a version from an MLflow registry (the optional ``mlflow`` extra, part of ``dev``): an alias
maps to our stage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from loopwatch.cli.main import app
from loopwatch.learning.mlflow_import import parse_model_uri


# MLflow's own SQL store uses SQLAlchemy features 2.1 deprecates: its warnings, not ours
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_version_behind_the_champion_alias_is_imported_into_production(tmp_path: Path, mlflow: Any) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("fraud")
    artifact = tmp_path / "fraud-7.joblib"
    artifact.write_bytes(b"x")
    made = client.create_model_version("fraud", source=artifact.as_uri(), description="weekly retrain",
                                       tags={"owner": "risk-team", "features": "amount",
                                             "training_start": "2026-01-01T00:00:00+00:00",
                                             "training_end": "2026-02-01T00:00:00+00:00"})
    client.set_registered_model_alias("fraud", "champion", made.version)
    spec = tmp_path / "loopwatch.yaml"
    spec.write_text(yaml.safe_dump({"model": "fraud", "store": "./data",
                                    "features": [{"name": "amount", "dtype": "numeric"}]}))
    result = CliRunner().invoke(app, ["models", "import", "--spec", str(spec), "--from",
                                      "models:/fraud@champion", "--mlflow-uri", uri, "--follow-alias",
                                      "--by", "ana", "--format", "json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert (shown["version"], shown["stage"], shown["alias"]) == (f"mlflow-{made.version}", "production",
                                                                  "champion")
    assert shown["artifact"] == str(artifact) and shown["owner"] == "risk-team"
    assert shown["source"] == f"mlflow:models:/fraud/{made.version}" and shown["features"] == ["amount"]
    assert shown["training_start"] == "2026-01-01T00:00:00+00:00"
    assert [h["to"] for h in shown["history"]] == ["candidate", "production"]
    missing = CliRunner().invoke(app, ["models", "import", "--spec", str(spec), "--from",
                                       "models:/fraud@shadow", "--mlflow-uri", uri])
    assert missing.exit_code == 2 and "models:/fraud@shadow" in missing.output


def test_model_uris_are_parsed_or_refused() -> None:
    assert parse_model_uri("models:/fraud/12") == ("fraud", "12", None)
    with pytest.raises(Exception, match="expected models:/NAME/VERSION"):
        parse_model_uri("runs:/abc/model")
