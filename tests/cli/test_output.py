"""What the commands print on a simulated store: 80 columns when piped, nothing cut off, cohorts in
natural order, ``--cohort`` honoured everywhere, exact errors."""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner, Result

from loopwatch.cli.main import app
from loopwatch.core.spec import load_spec
from loopwatch.evaluation.report import EvaluationReport, evaluate

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "sim"
    result = runner.invoke(app, ["simulate", "--days", "40", "--per-day", "500", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "loopwatch.yaml"


@pytest.fixture(scope="module")
def report(sim: Path) -> EvaluationReport:
    """The evaluation the command renders, from the library."""
    return evaluate(load_spec(sim))


@functools.cache
def run(*args: str, columns: int = 80) -> Result:
    """The command's result at ``columns`` wide (each evaluation takes seconds: tests share them)."""
    return runner.invoke(app, list(args), env={"COLUMNS": str(columns)})


def assert_fits(text: str, width: int = 80) -> None:
    assert text.strip()
    widest = max(text.splitlines(), key=cell_len)
    assert cell_len(widest) <= width, widest
    assert "…" not in text


def words(text: str) -> str:
    return " ".join(text.split())


def test_evaluate_fits_80_columns_and_shows_every_metric_with_its_interval(sim: Path,
                                                                          report: EvaluationReport) -> None:
    result = run("evaluate", "--spec", str(sim))
    assert result.exit_code == report.exit_code
    assert_fits(result.stdout)
    everything = report.cohorts[0]
    assert str(everything.cohort) == "all"
    auc = everything.metrics["roc_auc"]
    lines = result.stdout.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("all "))  # in the first table
    assert lines[row].split()[:4] == ["all", f"{everything.n:,}", f"{everything.maturity.coverage:.1%}",
                                      f"{auc.value:.3f}"]
    shown = "not enough data" if auc.status == "not_enough_data" else f"{auc.low:.3f}–{auc.high:.3f}"
    assert shown in lines[row + 1]
    assert ("immature" in lines[row + 1]) == (not everything.maturity.mature)
    assert report.compared is not None
    compared, reference = report.compared, report.reference
    assert (f"labels have matured for {compared.start:%Y-%m-%d} → {compared.end:%Y-%m-%d}, "
            f"compared with the reference ({reference.start:%Y-%m-%d} → {reference.end:%Y-%m-%d})"
            ) in words(result.stdout)
    assert "none mature yet" not in result.stdout
    for header in ("ROC AUC", "precision", "recall", "false pos. rate", "decision rate", "base rate"):
        assert header in words(result.stdout)


def test_evaluate_shows_whole_cohort_columns_up_to_the_row_limit_and_names_the_rest(
        sim: Path, report: EvaluationReport) -> None:
    result = run("evaluate", "--spec", str(sim))
    sizes: dict[str, int] = {}
    for c in report.cohorts:
        sizes[c.cohort.column] = sizes.get(c.cohort.column, 0) + 1
    first_table = result.stdout.split("\n\n")[1]
    shown = {line.strip() for line in first_table.splitlines() if re.match(r"^[a-z_]+\s*$", line)}
    rows = sum(sizes[c] for c in shown) + 1
    assert rows <= 25 and shown
    order = ["region", "device", "customer_type", "merchant_category", "source", "hour_of_day", "day_of_week"]
    left_out = [c for c in order if c not in shown]
    assert left_out and all(rows + sizes[c] > 25 for c in left_out)
    note = ", ".join(f"{c} ({sizes[c]} cohorts)" for c in left_out)
    assert (f"not shown: {note} — --cohort COLUMN shows one column, --rows 0 every row"
            in words(result.stdout))


def test_evaluate_orders_hour_of_day_as_numbers(sim: Path) -> None:
    result = run("evaluate", "--spec", str(sim), "--cohort", "hour_of_day", "--rows", "0")
    assert_fits(result.stdout)
    first_table = result.stdout.split("\n\n")[1]
    hours = [int(m.group(1)) for m in re.finditer(r"^  (\d+) ", first_table, re.M)]
    assert hours == list(range(24))


def test_cohort_column_narrows_tables_fairness_findings_json_and_exit_code(sim: Path,
                                                                          report: EvaluationReport) -> None:
    data = json.loads(run("evaluate", "--spec", str(sim), "--cohort", "region", "--format", "json").stdout)
    assert {c["cohort"] for c in data["cohorts"]} == {str(c.cohort) for c in report.cohorts
                                                      if c.cohort.column == "region"}
    assert data["fairness"] and {g["column"] for g in data["fairness"]} == {"region"}
    assert {g["highest"]["cohort"] for g in data["fairness"]} <= {"AFR", "APAC", "EU", "LATAM", "NA"}
    assert all(f["cohort"].startswith("region=") for f in data["findings"])
    assert data["days"] == []
    auc = {c["cohort"]: c for c in data["cohorts"]}["region=EU"]["metrics"]["roc_auc"]
    assert auc["n"] > 0 and auc["status"] in ("ok", "not_enough_data")
    if auc["status"] == "ok":
        assert auc["low"] <= auc["value"] <= auc["high"]
    else:  # few positives in the small simulated store: a value, no interval, and why
        assert auc["low"] is None and auc["high"] is None and "positives" in auc["reason"]
    table = run("evaluate", "--spec", str(sim), "--cohort", "region")
    assert table.exit_code == (1 if any(f["severity"] == "page" for f in data["findings"]) else 0)
    assert_fits(table.stdout)
    fairness = table.stdout.split("fairness:")[1].split("\n\n")[0]
    assert "region" in fairness and "device" not in table.stdout and "customer_type" not in table.stdout


def test_unknown_cohort_column_or_value_is_a_usage_error_naming_what_there_is(sim: Path) -> None:
    result = run("evaluate", "--spec", str(sim), "--cohort", "nosuch")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == ("error: --cohort: unknown cohort column 'nosuch'; the cohort columns are: all, "
                             "region, device, customer_type, merchant_category, source, hour_of_day, "
                             "day_of_week\n")
    result = run("evaluate", "--spec", str(sim), "--cohort", "region=Atlantis", "--format", "json")
    assert result.exit_code == 2
    assert result.stderr == ("error: --cohort: no cohort 'region=Atlantis' in this window; its values here: "
                             "AFR, APAC, EU, LATAM, NA\n")
    result = run("profile", "--spec", str(sim), "--cohort", "region=Atlantis")
    assert result.exit_code == 2
    assert result.stderr.endswith("error: --cohort: no cohort 'region=Atlantis' in this window; its values "
                                  "here: AFR, APAC, EU, LATAM, NA\n")
    result = run("profile", "--spec", str(sim), "--cohort", "nosuch=1")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --cohort: unknown cohort column 'nosuch'; the cohort columns")


def test_a_wide_terminal_gets_one_table_of_metrics(sim: Path) -> None:
    narrow = run("evaluate", "--spec", str(sim), "--cohort", "region")
    wide = run("evaluate", "--spec", str(sim), "--cohort", "region", columns=200)
    assert_fits(wide.stdout, 200)
    headers = [line for line in wide.stdout.splitlines() if line.startswith("cohort ")]
    assert len(headers) == 2  # realized metrics, label-free estimates
    assert "ROC AUC" in headers[0] and "base rate" in headers[0]
    assert len([line for line in narrow.stdout.splitlines() if line.startswith("cohort ")]) == 3


def test_check_summary_profile_compare_and_ingest_fit_80_columns(sim: Path, tmp_path: Path) -> None:
    check = run("check", "--spec", str(sim), "--as-of", "2026-02-06", "--info", "--findings")
    assert check.exit_code in (0, 1), check.output
    assert_fits(check.stdout)
    data = json.loads(run("check", "--spec", str(sim), "--as-of", "2026-02-06", "--format", "json").stdout)
    assert check.exit_code == (1 if any(f["severity"] == "page" for f in data["findings"]) else 0)
    for finding in data["findings"]:
        assert words(finding["message"]) in words(check.stdout)
    alerts = run("check", "--spec", str(sim), "--as-of", "2026-02-06")
    assert alerts.exit_code == check.exit_code
    assert_fits(alerts.stdout)
    warned = [f for f in data["findings"] if f["severity"] != "info"]
    held = [f for a in data["alerts"] for f in (*a["findings"], *a["suppressed"])]
    assert sorted(map(str, warned)) == sorted(str(f) for f in held if f["severity"] != "info")
    for alert in data["alerts"]:
        assert words(alert["headline"]) in words(alerts.stdout)
    for args in (["summary"], ["profile"], ["profile", "--cohort", "merchant_category=crypto_exchange"]):
        result = run(*args, "--spec", str(sim))
        assert result.exit_code == 0, result.output
        assert_fits(result.stdout)
    assert "minority_performance_drop" in run("summary", "--spec", str(sim)).stdout
    days = sim.parent / "store" / "decisions" / "model=card-fraud"
    compare = run("compare", "--spec", str(sim), "--reference", str(days / "date=2026-01-1*" / "*.parquet"),
                  "--current", str(days / "date=2026-02-0*" / "*.parquet"))
    assert compare.exit_code in (0, 1), compare.output
    assert_fits(compare.stdout)
    assert "billing_shipping_match" in compare.stdout
    csv = tmp_path / ("a-file-name-long-enough-to-need-folding-in-a-table-of-eighty-columns-" * 2 + ".csv")
    csv.write_text("decision_id,timestamp,score,amount\nx1,2026-02-01T00:00:00Z,0.5,oops\n")
    ingest = run("ingest", "decisions", str(csv), "--spec", str(sim), "--store", str(tmp_path / "store"))
    assert ingest.exit_code == 1
    assert_fits(ingest.stdout)
    assert "quarantined 1 × amount: expected a number" in words(ingest.stdout)


def test_piped_output_is_80_columns_and_plain(sim: Path, report: EvaluationReport) -> None:
    env: dict[str, Any] = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.run([sys.executable, "-c", "from loopwatch.cli.main import main; main()", "evaluate",
                           "--spec", str(sim)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == report.exit_code, proc.stderr
    assert proc.stderr == ""
    assert_fits(proc.stdout)
    assert "\x1b[" not in proc.stdout
