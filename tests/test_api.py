"""The top-level functions: a spec or its path, times as strings, dates or datetimes, results as frames."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import loopwatch
from loopwatch.cli.main import app
from loopwatch.core.findings import findings_frame
from loopwatch.evaluation.report import evaluate as evaluate_profiles
from loopwatch.monitoring.job import run_checks as run_job
from loopwatch.simulate.synthetic import drift_dataset, drift_job_spec

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("api") / "sim"
    result = CliRunner().invoke(app, ["simulate", "--days", "40", "--per-day", "300", "--out", str(out),
                                      "--incidents", "all"])
    assert result.exit_code == 0, result.output
    return out / "loopwatch.yaml"


def test_run_checks_takes_a_path_and_a_time_as_text_a_date_or_a_datetime(sim: Path) -> None:
    spec = loopwatch.load_spec(sim)
    expected = run_job(spec, as_of=datetime(2026, 2, 5, tzinfo=UTC))
    for as_of in ("2026-02-05", date(2026, 2, 5), datetime(2026, 2, 5, 12, tzinfo=UTC)):
        run = loopwatch.run_checks(str(sim), as_of=as_of, update=False)
        assert run.as_of == expected.as_of and run.current == expected.current
        assert [f.to_dict() for f in run.findings] == [f.to_dict() for f in expected.findings]
    assert loopwatch.run_checks(sim, as_of="2026-02-05", update=False).findings == expected.findings


def test_a_check_run_has_a_short_repr_and_a_frame_of_its_findings(sim: Path) -> None:
    run = loopwatch.run_checks(sim, as_of="2026-02-10")
    assert run.findings, "the simulated incidents should produce findings"
    text = repr(run)
    assert text.startswith("<CheckRun as of 2026-02-10: ") and len(text) < 120 and "\n" not in text
    frame = run.to_frame()
    assert len(frame) == len(run.findings)
    assert list(frame["severity"]) == [str(f.severity) for f in run.findings]
    assert list(frame["value"]) == [f.value for f in run.findings]
    assert frame.equals(findings_frame(run.findings))
    assert all(len(repr(f)) < 160 for f in run.findings)


def test_each_tested_finding_reports_its_q_value_within_the_fdr(sim: Path) -> None:
    spec = loopwatch.load_spec(sim)
    run = loopwatch.run_checks(spec, as_of="2026-02-10", update=False)
    tested = [f for f in run.findings if f.evidence.get("p_value") is not None
              and not math.isnan(f.evidence["p_value"])]
    assert tested
    for f in tested:
        assert f.evidence["p_value"] <= f.evidence["q_value"] <= spec.monitoring.fdr


def test_evaluate_takes_strings_or_a_window(sim: Path) -> None:
    spec = loopwatch.load_spec(sim)
    expected = evaluate_profiles(spec, start=datetime(2026, 1, 20, tzinfo=UTC),
                                 end=datetime(2026, 2, 1, tzinfo=UTC))
    by_text = loopwatch.evaluate(sim, start="2026-01-20", end="2026-02-01", update=False)
    by_window = loopwatch.evaluate(spec, window=loopwatch.Window.of("2026-01-20", "2026-02-01"),
                                   update=False)
    assert by_text.to_dict() == by_window.to_dict() == expected.to_dict()
    frame = by_text.to_frame()
    assert len(frame) == len(by_text.rows()) and {"metric", "value", "low", "high"} <= set(frame.columns)
    assert repr(by_text).startswith(f"<EvaluationReport {spec.model} 2026-01-20..")
    with pytest.raises(ValueError, match="either window or start and end"):
        loopwatch.evaluate(spec, start="2026-01-20", window=loopwatch.Window.of("2026-01-20", "2026-02-01"))


def test_compare_takes_paths_and_gives_a_row_per_feature(tmp_path: Path) -> None:
    spec = drift_job_spec()
    for side, shifted in (("reference", False), ("current", True)):
        pq.write_table(drift_dataset(20_000, shifted=shifted, seed=2), tmp_path / f"{side}.parquet")
    result = loopwatch.compare(spec, str(tmp_path / "reference.parquet"), [tmp_path / "current.parquet"])
    frame = result.to_frame()
    assert list(frame["feature"]) == [f.feature for f in result.features]
    assert sorted(frame.loc[frame["drifted"], "feature"]) == sorted(result.drifted)
    assert repr(result) == (f"<Comparison 20000 vs 20000 rows: {len(result.drifted)} of "
                            f"{len(result.features)} features drifted>")


def test_a_missing_spec_file_is_a_spec_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(loopwatch.SpecError, match=r"nowhere\.yaml"):
        loopwatch.run_checks(tmp_path / "nowhere.yaml", as_of="2026-02-01")
    with pytest.raises(ValueError, match="ISO 8601"):
        loopwatch.run_checks(drift_job_spec(), as_of="yesterday")
