"""``loopwatch demo``: a short run end to end, its incidents.json against the ground truth and the control
plane, the mitigations it set, a store the other commands open, and a directory it must not replace."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loopwatch.cli.main import app

runner = CliRunner()


def test_a_directory_holding_something_else_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--days", "31"])
    assert result.exit_code == 2
    assert "--out" in result.stderr and "not empty" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


@pytest.mark.slow
def test_a_short_demo_times_each_incident_from_the_alerts_it_leaves(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--out", str(out), "--days", "40", "--per-day", "2000",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    found = json.loads((out / "incidents.json").read_text())
    assert json.loads(result.stdout) == found
    truth = json.loads((out / "ground_truth.json").read_text())
    assert [r["incident"] for r in found["incidents"]] == [i["kind"] for i in truth["incidents"]]
    assert found["runs"] == 10  # the days after the 30-day reference window
    listed = runner.invoke(app, ["alerts", "--spec", str(out / "loopwatch.yaml"), "--all",
                                 "--format", "json"])
    assert listed.exit_code in (0, 1), listed.output
    alerts = {a["id"]: a for a in json.loads(listed.stdout)["alerts"]}
    detected = [r for r in found["incidents"] if r["detected_at"] is not None]
    assert detected, found  # some incident of the first ten days is caught
    for r in detected:
        alert = alerts[r["alert_id"]]
        assert r["finding"] == alert["headline"] and r["alert_kind"] == alert["kind"]
        onset, at = datetime.fromisoformat(r["onset"]), datetime.fromisoformat(r["detected_at"])
        assert at > onset
        assert r["days_to_detect"] == pytest.approx((at - onset).total_seconds() / 86400, abs=0.01)
    # the unscored category (onset on day 31) pages on coverage, and the spec's rule sent it to review
    unscored = next(r for r in found["incidents"] if r["incident"] == "dropped_category")
    assert unscored["severity"] == "page" and unscored["alert_kind"] == "coverage", unscored
    flags = runner.invoke(app, ["flags", "list", "--spec", str(out / "loopwatch.yaml"), "--format", "json"])
    assert flags.exit_code == 0, flags.output
    by_alert = {f["alert_id"]: f for f in json.loads(flags.stdout)["flags"] if f["automatic"]}
    flag = by_alert[unscored["alert_id"]]
    assert flag["kind"] == "review_threshold"
    assert flag["mitigation"]["cohort"] == "merchant_category=crypto_exchange"
    assert unscored["mitigation"]["id"] == flag["id"]
    assert found["mitigations"] and {m["id"] for m in found["mitigations"]} == {
        f["id"] for f in by_alert.values()}
    # the report beside it, built from the same profiles and alerts
    html = (out / "report.html").read_text()
    assert html.lstrip().lower().startswith("<!doctype html") and "crypto_exchange" in html
    # the store and control plane it leaves open for the other commands
    spec = str(out / "loopwatch.yaml")
    checked = runner.invoke(app, ["check", "--spec", spec, "--as-of", unscored["detected_at"][:10],
                                  "--format", "json"])
    assert checked.exit_code == 1, checked.output  # that day pages
    assert any(f["kind"] == "coverage" for f in json.loads(checked.stdout)["findings"])
    evaluated = runner.invoke(app, ["evaluate", "--spec", spec, "--format", "json"])
    assert evaluated.exit_code in (0, 1), evaluated.output
    assert json.loads(evaluated.stdout)
