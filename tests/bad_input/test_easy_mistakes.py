"""A newcomer's easy mistakes: a clear message naming the problem, exit 2, no traceback,
and nothing stored changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from loopwatch.core.spec import spec_from_mapping
from loopwatch.errors import InputError, SpecError
from loopwatch.storage.ingest import ingest_table
from loopwatch.storage.parquet_store import ParquetStore


def _files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes: 'nothing stored changes' is their equality."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _text(result: Any) -> str:
    return " ".join((result.stdout + result.stderr).split())


def _assert_clean_error(result: Any, *words: str) -> None:
    text = _text(result)
    assert result.exit_code == 2, text
    assert "Traceback" not in text and "Exception ignored" not in text, text
    assert "error:" in text, text
    for word in words:
        assert word in text, (word, text)


@pytest.fixture
def stored(project: Any, churn: Any) -> Any:
    """The churn project with two days of decisions stored."""
    spec = spec_from_mapping(churn.spec, base_dir=project.root)
    ingest_table(ParquetStore(project.store, spec=spec), "decisions", churn.decisions(days=2))
    return project


def test_a_hashed_feature_without_the_key_is_a_clear_error_and_writes_nothing(
        stored: Any, churn: Any) -> None:
    spec = {**churn.spec, "features": [*churn.spec["features"],
                                       {"name": "email", "dtype": "categorical", "pii": "hash"}]}
    stored.spec.write_text(yaml.safe_dump(spec))
    before = _files(stored.store)
    path = stored.root / "d.jsonl"
    path.write_text("".join(json.dumps({**r, "email": "a@b.c"}) + "\n"
                            for r in churn.decisions(seed=3, days=1)))
    result = stored.run("ingest", "decisions", str(path), env={"LOOPWATCH_PII_KEY": ""})
    _assert_clean_error(result, "features ['email'] have pii: hash", "set LOOPWATCH_PII_KEY")
    assert _files(stored.store) == before


def test_init_into_a_missing_folder_names_it(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from loopwatch.cli.main import app

    target = tmp_path / "a" / "b" / "c.yaml"
    result = CliRunner().invoke(app, ["init", "--spec", str(target)])
    _assert_clean_error(result, f"the folder {target.parent} does not exist",
                        f"mkdir -p {target.parent}")
    assert not (tmp_path / "a").exists()


def test_init_onto_a_directory_names_it(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from loopwatch.cli.main import app

    result = CliRunner().invoke(app, ["init", "--spec", str(tmp_path)])
    _assert_clean_error(result, f"{tmp_path} is a directory")


def test_no_positive_action_is_a_spec_error_naming_the_key(project: Any, churn: Any) -> None:
    project.spec.write_text(yaml.safe_dump({**churn.spec, "positive_actions": []}))
    result = project.run("summary")
    _assert_clean_error(result, "positive_actions: expected at least one action")
    with pytest.raises(SpecError, match="positive_actions"):
        spec_from_mapping({**churn.spec, "positive_actions": []})
    # without an action column, the threshold decides: no positive action is needed
    no_action = {**churn.spec, "positive_actions": [], "threshold": 0.5,
                 "columns": {**churn.spec["columns"], "action": None}}
    assert spec_from_mapping(no_action).positive_actions == ()


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_binary_file_is_not_text_and_nothing_is_stored(stored: Any, suffix: str) -> None:
    before = _files(stored.store)
    path = stored.root / f"photo{suffix}"
    path.write_bytes(b"decision_id,timestamp,score\n" + bytes(range(256)) * 20)
    result = stored.run("ingest", "decisions", str(path))
    _assert_clean_error(result, f"{path}: not a", "NUL byte at offset", "expected UTF-8 text")
    assert _files(stored.store) == before


def test_another_encoding_is_named(stored: Any) -> None:
    path = stored.root / "latin1.csv"
    path.write_bytes("decision_id,timestamp,score\nd,2026-03-01T00:00:00Z,0.5,café\n".encode("latin-1"))
    result = stored.run("ingest", "decisions", str(path))
    _assert_clean_error(result, "byte 0xe9 at offset", "is not UTF-8")


def test_a_malformed_line_that_is_not_utf8_far_into_a_file_prints_no_ignored_exception(
        stored: Any, capfd: pytest.CaptureFixture[str]) -> None:
    good = "".join(f"x{i},2026-03-01T00:00:00Z,0.5\n" for i in range(4000))
    path = stored.root / "late.csv"
    path.write_bytes(b"decision_id,timestamp,score\n" + good.encode() + b"bad,\xff\xfe\n")
    result = stored.run("ingest", "decisions", str(path))
    _assert_clean_error(result, f"{path}: not a readable CSV file", "not UTF-8")
    assert "Exception ignored" not in capfd.readouterr().err


def test_ingest_table_names_an_unknown_kind(project: Any, churn: Any) -> None:
    import pandas as pd

    store = ParquetStore(project.store, spec=spec_from_mapping(churn.spec))
    with pytest.raises(InputError, match="unknown kind 'decision'; did you mean 'decisions'"):
        ingest_table(store, "decision", pd.DataFrame(churn.decisions(days=1)))  # type: ignore[arg-type]


def test_the_public_api_takes_a_time_as_text_and_a_spec_as_a_path(stored: Any, churn: Any) -> None:
    import pandas as pd

    import loopwatch

    store = ParquetStore(stored.store, spec=spec_from_mapping(churn.spec, base_dir=stored.root))
    rows = pd.DataFrame(churn.decisions(seed=9, days=20))
    rows["decision_id"] = "again-" + rows["decision_id"]
    report = loopwatch.ingest_table(store, "decisions", rows)
    assert report.result.written == len(rows)
    run = loopwatch.run_checks(stored.spec, as_of="2026-03-20", store=store)
    assert run.as_of.isoformat() == "2026-03-20T00:00:00+00:00"
    with pytest.raises(InputError, match="unknown kind 'decision'"):
        loopwatch.ingest_table(store, "decision", rows)  # type: ignore[arg-type]


def test_the_engine_never_draws_a_progress_bar_into_standard_output() -> None:
    from loopwatch.storage.duckdb_engine import duckdb_connection

    setting = duckdb_connection().raw_sql("SELECT current_setting('enable_progress_bar')").fetchone()
    assert setting == (False,)
