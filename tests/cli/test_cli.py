"""The loopwatch command: exact messages, exit codes 0/1/2, JSON for scripts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from loopwatch.cli.main import app

runner = CliRunner()


def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "loopwatch.yaml"
    path.write_text(yaml.safe_dump({
        "model": "m",
        "features": [{"name": "amount", "dtype": "numeric"},
                     {"name": "merchant", "dtype": "categorical"}],
        "cohorts": ["region"],
        "store": "./data",
    }))
    return path


def test_init_writes_a_valid_spec_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "loopwatch.yaml"
    first = runner.invoke(app, ["init", "--spec", str(target)])
    assert first.exit_code == 0
    assert "wrote" in first.output
    again = runner.invoke(app, ["init", "--spec", str(target)])
    assert again.exit_code == 2
    assert "exists; pass --force to overwrite it" in again.output
    assert runner.invoke(app, ["init", "--spec", str(target), "--force"]).exit_code == 0


def test_missing_spec_is_a_usage_error_naming_the_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["summary", "--spec", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2
    assert "no spec at" in result.output
    assert "loopwatch init" in result.output


def test_invalid_spec_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "loopwatch.yaml"
    path.write_text("model: m\nfeatures:\n  - name: a\n    dtype: numerc\n")
    result = runner.invoke(app, ["summary", "--spec", str(path)])
    assert result.exit_code == 2
    assert "features[0].dtype: expected one of" in " ".join(result.output.split())


def test_ingest_reports_counts_and_exits_1_when_rows_are_quarantined(tmp_path: Path) -> None:
    spec = spec_file(tmp_path)
    csv = tmp_path / "decisions.csv"
    csv.write_text(
        "decision_id,timestamp,score,amount,merchant,region,note\n"
        "a,2026-01-01T10:00:00Z,0.2,10.5,food,NA,x\n"
        "b,2026-01-01T11:00:00Z,0.9,oops,travel,EU,y\n"
        "c,2026-01-02T11:00:00Z,0.4,3,food,EU,z\n"
    )
    result = runner.invoke(app, ["ingest", "decisions", str(csv), "--spec", str(spec),
                                 "--format", "json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)["files"][0]
    assert report["rows_read"] == 3
    assert report["written"] == 2
    assert report["quarantined"] == 1
    assert report["reasons"] == {"amount: expected a number": 1}
    assert report["unknown_columns"] == ["note"]
    again = runner.invoke(app, ["ingest", "decisions", str(csv), "--spec", str(spec),
                                "--format", "json"])
    assert json.loads(again.stdout)["files"][0]["duplicates"] == 2


def test_ingest_of_a_file_without_the_id_column_is_an_input_error(tmp_path: Path) -> None:
    spec = spec_file(tmp_path)
    csv = tmp_path / "decisions.csv"
    csv.write_text("timestamp,score\n2026-01-01T10:00:00Z,0.2\n")
    result = runner.invoke(app, ["ingest", "decisions", str(csv), "--spec", str(spec)])
    assert result.exit_code == 2
    assert "no column 'decision_id'" in result.output


def test_ingest_of_an_unknown_format_names_the_suffix(tmp_path: Path) -> None:
    spec = spec_file(tmp_path)
    path = tmp_path / "decisions.xlsx"
    path.write_text("x")
    result = runner.invoke(app, ["ingest", "decisions", str(path), "--spec", str(spec)])
    assert result.exit_code == 2
    assert "cannot tell the format from the suffix '.xlsx'" in " ".join(result.output.split())


@pytest.mark.parametrize("env", [False, True])
def test_store_option_and_environment_override_the_spec(tmp_path: Path, env: bool,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    spec = spec_file(tmp_path)
    rows = tmp_path / "d.jsonl"
    rows.write_text('{"decision_id": "a", "timestamp": "2026-01-01T00:00:00Z", "score": 0.1}\n')
    other = tmp_path / "elsewhere"
    args = ["ingest", "decisions", str(rows), "--spec", str(spec)]
    if env:
        monkeypatch.setenv("LOOPWATCH_STORE", str(other))
    else:
        args += ["--store", str(other)]
    assert runner.invoke(app, args).exit_code == 0
    assert list(other.glob("decisions/model=m/date=2026-01-01/*.parquet"))
    assert not (tmp_path / "data").exists()


def test_summary_and_compact_on_a_small_store(tmp_path: Path) -> None:
    spec = spec_file(tmp_path)
    for i in range(3):
        rows = tmp_path / f"d{i}.jsonl"
        rows.write_text("".join(
            json.dumps({"decision_id": f"{i}-{j}", "timestamp": f"2026-01-0{1 + j % 2}T00:00:00Z",
                        "score": 0.5, "action": "block" if j == 0 else "approve",
                        "region": "EU" if j % 2 else "NA"}) + "\n" for j in range(4)))
        assert runner.invoke(app, ["ingest", "decisions", str(rows), "--spec", str(spec)]).exit_code == 0
    outcomes = tmp_path / "o.jsonl"
    outcomes.write_text(json.dumps({"decision_id": "0-0", "observed_at": "2026-02-01T00:00:00Z",
                                    "label": True, "value": 10}) + "\n")
    assert runner.invoke(app, ["ingest", "outcomes", str(outcomes), "--spec", str(spec)]).exit_code == 0
    first = runner.invoke(app, ["summary", "--spec", str(spec), "--format", "json"])
    assert first.exit_code == 0, (first.output, first.exception)
    before = json.loads(first.stdout)
    assert before["decisions"] == 12
    assert before["outcomes"] == 1
    assert before["decision_rate"] == pytest.approx(3 / 12)
    assert before["label_coverage"] == pytest.approx(1 / 12)
    assert before["base_rate"] == 1.0
    assert before["cohorts"]["region"] == {"EU": 6, "NA": 6}
    assert before["days"] == 2
    result = runner.invoke(app, ["compact", "--spec", str(spec)])
    assert result.exit_code == 0
    assert "compacted 2 partitions: 7 files -> 3" in result.output
    after = json.loads(runner.invoke(app, ["summary", "--spec", str(spec), "--format", "json"]).stdout)
    assert after == before
    table = runner.invoke(app, ["summary", "--spec", str(spec)])
    assert table.exit_code == 0
    assert "decision rate" in table.output and "25.0%" in table.output


def test_simulate_writes_a_store_that_summary_reads_back_with_exact_counts(tmp_path: Path) -> None:
    from loopwatch.simulate.fraud import SimulationConfig, simulate

    out = tmp_path / "sim"
    args = ["simulate", "--days", "35", "--per-day", "400", "--incidents", "dropped_category",
            "--seed", "3", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    expected = simulate(SimulationConfig(days=35, decisions_per_day=400,
                                         incidents=("dropped_category",), seed=3))
    summary = json.loads(runner.invoke(app, ["summary", "--spec", str(out / "loopwatch.yaml"),
                                             "--format", "json"]).stdout)
    assert summary["decisions"] == expected.decisions.num_rows
    assert summary["outcomes"] == expected.outcomes.num_rows
    assert summary["quarantined"] == 0
    truth = summary["ground_truth"]
    assert [i["kind"] for i in truth["incidents"]] == ["dropped_category"]
    assert truth["start"].startswith("2026-01-01")
    again = runner.invoke(app, args)
    assert again.exit_code == 2
    assert "is not empty; choose an empty or new directory" in " ".join(again.output.split())


def test_simulate_rejects_an_unknown_incident_kind(tmp_path: Path) -> None:
    result = runner.invoke(app, ["simulate", "--incidents", "meteor", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown kind 'meteor'" in result.output


def test_profile_command_is_incremental_and_reports_a_cohort(tmp_path: Path) -> None:
    spec = spec_file(tmp_path)
    rows = tmp_path / "d.jsonl"
    rows.write_text("".join(json.dumps({
        "decision_id": str(i), "timestamp": f"2026-01-0{1 + i % 3}T0{i % 10}:00:00Z",
        "score": i / 40, "amount": float(i), "merchant": "food" if i % 2 else None,
        "region": "EU" if i % 4 else "NA"}) + "\n" for i in range(40)))
    assert runner.invoke(app, ["ingest", "decisions", str(rows), "--spec", str(spec)]).exit_code == 0
    first = json.loads(runner.invoke(app, ["profile", "--spec", str(spec), "--format", "json"]).stdout)
    assert first["update"]["days_profiled"] == 3
    assert first["profile"]["n"] == 40
    assert first["profile"]["numeric"]["amount"]["mean"] == pytest.approx(19.5)
    assert first["profile"]["categorical"]["merchant"]["nulls"] == 20
    again = runner.invoke(app, ["profile", "--spec", str(spec), "--cohort", "region=NA",
                                "--format", "json"])
    data = json.loads(again.stdout)
    assert data["update"]["days_profiled"] == 0
    assert data["profile"]["cohort"] == "region=NA"
    assert data["profile"]["n"] == 10
    bad = runner.invoke(app, ["profile", "--spec", str(spec), "--cohort", "region"])
    assert bad.exit_code == 2
    assert "expected 'all' or COLUMN=VALUE" in bad.output


def test_a_bad_setting_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPWATCH_ENGINE_MEMORY", "lots")
    result = runner.invoke(app, ["summary", "--spec", str(spec_file(tmp_path))])
    assert result.exit_code == 2
    assert "LOOPWATCH_ENGINE_MEMORY: String should match pattern" in " ".join(result.output.split())
    assert "got 'lots'" in result.output


def test_compact_reports_in_json_too(tmp_path: Path) -> None:
    spec = spec_file(tmp_path)
    for name in ("a", "b"):
        rows = tmp_path / f"{name}.jsonl"
        rows.write_text(f'{{"decision_id": "{name}", "timestamp": "2026-01-01T00:00:00Z", "score": 0.1}}\n')
        assert runner.invoke(app, ["ingest", "decisions", str(rows), "--spec", str(spec)]).exit_code == 0
    result = runner.invoke(app, ["compact", "--spec", str(spec), "--format", "json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"partitions": 1, "files_before": 2, "files_after": 1,
                                         "duplicates_removed": 0}


def test_bad_option_values_are_usage_errors_with_exact_messages(tmp_path: Path) -> None:
    spec = str(spec_file(tmp_path))
    result = runner.invoke(app, ["check", "--spec", spec, "--as-of", "yesterday"])
    assert (result.exit_code, result.stderr) == (
        2, "error: --as-of: expected an ISO 8601 date or time such as 2026-03-01; got 'yesterday'\n")
    result = runner.invoke(app, ["check", "--spec", spec, "--checks", "drift,psii"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --checks: unknown check 'psii'")
    assert "Known: coverage, drift, health, performance, schema, slice, staleness, system" in result.stderr
    # watch shares check's --checks option and its validation
    result = runner.invoke(app, ["watch", "--once", "--spec", spec, "--checks", "drift,psii"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --checks: unknown check 'psii'")
    result = runner.invoke(app, ["evaluate", "--spec", spec, "--from", "2026-13-01"])
    assert (result.exit_code, result.stderr) == (
        2, "error: --from: expected an ISO 8601 date or time such as 2026-03-01; got '2026-13-01'\n")
    result = runner.invoke(app, ["evaluate", "--spec", spec, "--cohort", "region="])
    assert (result.exit_code, result.stderr) == (
        2, "error: --cohort: expected 'all', COLUMN or COLUMN=VALUE; got 'region='\n")


def test_a_failure_of_loopwatch_itself_exits_2_with_its_traceback_never_1(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import loopwatch.storage.summary

    def broken(store: object) -> None:
        raise RuntimeError("the engine fell over")

    monkeypatch.setattr(loopwatch.storage.summary, "summarize", broken)
    result = runner.invoke(app, ["summary", "--spec", str(spec_file(tmp_path))])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.endswith("error: unexpected RuntimeError (a bug in loopwatch; the traceback is "
                                  "above): the engine fell over\n")


def test_error_messages_are_printed_as_written_not_read_as_markup(tmp_path: Path) -> None:
    path = tmp_path / "[bold]odd[/bold].yaml"
    result = runner.invoke(app, ["summary", "--spec", str(path)])
    assert result.exit_code == 2
    assert f"no spec at {path}" in result.stderr


def test_an_interrupted_command_exits_130_not_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import loopwatch.storage.summary

    def interrupted(store: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(loopwatch.storage.summary, "summarize", interrupted)
    result = runner.invoke(app, ["summary", "--spec", str(spec_file(tmp_path))])
    assert (result.exit_code, result.stderr) == (130, "interrupted\n")
