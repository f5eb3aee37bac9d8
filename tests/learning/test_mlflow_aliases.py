"""Stage changes of a version imported from MLflow are written back there as aliases, on a real
MLflow registry (SQLite backend, no server)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from loopwatch.cli.main import app

# MLflow's own SQL store uses SQLAlchemy features 2.1 deprecates: its warnings, not ours
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def registry_uri(tmp_path_factory: pytest.TempPathFactory, mlflow: Any) -> str:
    """One SQLite MLflow registry for the module: its first use runs MLflow's migrations (slow)."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri).search_registered_models()
    return uri


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_promotions_move_the_mlflow_aliases_and_archive_leaves_only_archived(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow: Any, registry_uri: str) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = registry_uri
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("fraud")
    made = []
    for week in (1, 2):
        artifact = tmp_path / f"fraud-{week}.joblib"
        artifact.write_bytes(b"x")
        made.append(client.create_model_version("fraud", source=artifact.as_uri()).version)
    first, second = (str(v) for v in made)
    client.set_registered_model_alias("fraud", "team-pick", first)  # not ours: left alone
    spec = tmp_path / "loopwatch.yaml"
    spec.write_text(yaml.safe_dump({"model": "fraud", "store": "./data",
                                    "features": [{"name": "amount", "dtype": "numeric"}]}))
    common = ("--spec", str(spec), "--mlflow-uri", uri, "--by", "ana")
    for number in (first, second):
        code, out = _run("models", "import", "--from", f"models:/fraud/{number}", *common)
        assert code == 0, out

    def aliases() -> dict[str, str]:
        return {k: str(v) for k, v in client.get_registered_model("fraud").aliases.items()}

    code, out = _run("models", "promote", f"mlflow-{first}", "--to", "canary", "--reason", "try it", *common)
    assert code == 0, out
    assert f"models:/fraud@canary is version {first}" in out
    assert aliases() == {"team-pick": first, "canary": first}
    code, out = _run("models", "promote", f"mlflow-{first}", "--to", "production", "--reason", "good",
                     *common)
    assert code == 0, out
    assert aliases() == {"team-pick": first, "champion": first}
    assert client.get_model_version_by_alias("fraud", "champion").version == made[0]
    # the second version replaces the first in production: @champion moves to it
    code, out = _run("models", "promote", f"mlflow-{second}", "--to", "production", "--reason", "better",
                     *common)
    assert code == 0, out
    assert aliases() == {"team-pick": first, "champion": second}
    code, out = _run("models", "archive", f"mlflow-{second}", "--reason", "retired", "--format", "json",
                     *common)
    assert code == 0, out
    assert aliases() == {"team-pick": first, "archived": second}


def test_without_a_uri_the_stage_changes_and_the_missing_alias_is_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow: Any, registry_uri: str) -> None:
    uri = registry_uri
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("fraud-eu")  # an MLflow name of its own: the module shares one registry
    number = str(client.create_model_version("fraud-eu", source=(tmp_path / "m.joblib").as_uri()).version)
    spec = tmp_path / "loopwatch.yaml"
    spec.write_text(yaml.safe_dump({"model": "fraud", "store": "./data",
                                    "features": [{"name": "amount", "dtype": "numeric"}]}))
    code, out = _run("models", "import", "--from", f"models:/fraud-eu/{number}", "--spec", str(spec),
                     "--mlflow-uri", uri, "--by", "ana")
    assert code == 0, out
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    code, out = _run("models", "promote", f"mlflow-{number}", "--to", "shadow", "--reason", "watch it",
                     "--spec", str(spec), "--by", "ana")
    assert code == 2 and "no MLflow URI is configured" in out and "stage change stands" in out
    assert client.get_registered_model("fraud-eu").aliases == {}
    code, out = _run("models", "show", f"mlflow-{number}", "--spec", str(spec), "--format", "json")
    assert json.loads(out)["stage"] == "shadow"
    # the URI from the environment is used when --mlflow-uri is not given
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    code, out = _run("models", "promote", f"mlflow-{number}", "--to", "canary", "--reason", "try it",
                     "--spec", str(spec), "--by", "ana")
    assert code == 0, out
    held = client.get_registered_model("fraud-eu").aliases
    assert {k: str(v) for k, v in held.items()} == {"canary": number}
