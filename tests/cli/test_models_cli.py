"""``loopwatch models``: register, list, promote and archive from the command line, with the audit log."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from loopwatch.cli.main import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "120"})
    return result.exit_code, result.output


def test_a_version_registered_promoted_and_archived_on_the_command_line(tmp_path: Path) -> None:
    spec = tmp_path / "loopwatch.yaml"
    spec.write_text(yaml.safe_dump({"model": "m", "owner": "risk-team", "store": "./data", "features": [
        {"name": "amount", "dtype": "numeric"}, {"name": "merchant_category", "dtype": "categorical"}]}))
    artifact = tmp_path / "m-1.joblib"
    artifact.write_bytes(b"not read at registration")
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "part-0.parquet").write_bytes(b"rows")
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"all": {"auc": 0.9}}))
    s = str(spec)
    code, out = run("models", "register", "1", "--spec", s, "--artifact", str(artifact), "--by", "ana",
                    "--training-from", "2026-01-01", "--training-to", "2026-02-01",
                    "--training-data", str(tmp_path / "train"), "--metrics", str(metrics), "--format", "json")
    assert code == 0, out
    shown = json.loads(out)
    assert shown["stage"] == "candidate" and shown["owner"] == "risk-team"
    assert shown["features"] == ["amount", "merchant_category"] and shown["metrics"] == {"all": {"auc": 0.9}}
    assert shown["data_fingerprint"].startswith("sha256:") and len(shown["data_fingerprint"]) == 71
    assert shown["training_start"] == "2026-01-01T00:00:00+00:00"
    assert shown["artifact_sha256"] == "sha256:" + hashlib.sha256(b"not read at registration").hexdigest()

    code, out = run("models", "promote", "1", "--spec", s, "--to", "production", "--reason", "first",
                    "--format", "json")
    assert code == 0 and json.loads(out)["alias"] == "champion"
    assert [(h["from"], h["to"]) for h in json.loads(out)["history"]] == [(None, "candidate"),
                                                                            ("candidate", "production")]
    code, out = run("models", "archive", "1", "--spec", s, "--reason", "retired")
    assert code == 0 and "archived" in out
    code, out = run("models", "list", "--spec", s, "--format", "json")
    assert code == 0 and json.loads(out)["versions"] == []
    code, out = run("models", "list", "--spec", s, "--all")
    assert code == 0 and "archived" in out and "m · model versions" in out

    code, out = run("audit", "--spec", s, "--format", "json")
    assert code == 0
    assert [e["action"] for e in json.loads(out)["entries"]] == ["model_registered", "stage_changed",
                                                                 "stage_changed"]

    # a file changed since its registration is refused before it is unpickled
    artifact.write_bytes(b"something else")
    code, out = run("gate", "--spec", s, "--version", "1")
    assert code == 2 and "changed since it was registered" in out


def test_bad_registry_input_exits_2_naming_it(tmp_path: Path) -> None:
    spec = tmp_path / "loopwatch.yaml"
    spec.write_text(yaml.safe_dump({"model": "m", "store": "./data",
                                    "features": [{"name": "amount", "dtype": "numeric"}]}))
    s = str(spec)
    code, out = run("models", "register", "1", "--spec", s, "--artifact", str(tmp_path / "missing.pkl"))
    assert code == 2 and "--artifact" in out and "no such file" in out
    (tmp_path / "a.pkl").write_bytes(b"x")
    code, out = run("models", "register", "1", "--spec", s, "--artifact", str(tmp_path / "a.pkl"),
                    "--features", "amount,colour")
    assert code == 2 and "colour" in out
    code, out = run("models", "promote", "9", "--spec", s, "--to", "canary", "--reason", "x")
    assert code == 2 and "has no version 9" in out
    code, out = run("models", "promote", "1", "--spec", s, "--to", "canary")
    assert code == 2 and "--reason" in out
    assert "Traceback" not in out
