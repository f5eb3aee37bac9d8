"""``loopwatch alerts``, ``audit`` and ``watch``: the alert lifecycle from the command line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from loopwatch.cli.main import app
from loopwatch.core.alerts import AlertDraft, fingerprint_of
from loopwatch.core.findings import Finding, Severity
from loopwatch.core.spec import load_spec
from loopwatch.storage.control import ControlPlane

runner = CliRunner()
DAY0 = datetime(2026, 3, 1, tzinfo=UTC)
ENTITY = "merchant_category=crypto"


def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "loopwatch.yaml"
    path.write_text(yaml.safe_dump({
        "model": "m", "owner": "risk-team", "store": "./data",
        "features": [{"name": "amount", "dtype": "numeric"}], "entities": ["merchant_category"],
    }))
    return path


def coverage_draft(day: int) -> AlertDraft:
    finding = Finding(kind="coverage", check="coverage", statistic="share", start=DAY0 + timedelta(days=day),
                      end=DAY0 + timedelta(days=day + 1), value=1.0, severity=Severity.PAGE,
                      message="every decision gets one score", entity=ENTITY)
    return AlertDraft(fingerprint=fingerprint_of(model="m", kind="coverage", entity=ENTITY), model="m",
                      kind="coverage", severity=Severity.PAGE, onset=DAY0 + timedelta(days=day),
                      headline=f"{ENTITY} is not scored", findings=(finding,), entity=ENTITY,
                      owner="risk-team")


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "100"})
    return result.exit_code, result.output


def test_an_alert_from_open_to_resolved_on_the_command_line(tmp_path: Path) -> None:
    spec = str(spec_file(tmp_path))
    with ControlPlane.for_spec(load_spec(spec)) as plane:
        plane.apply(model="m", run_time=DAY0 + timedelta(days=1), drafts=[coverage_draft(0)])
    assert (tmp_path / "data" / "control.sqlite").exists(), "the default database lives in the store"

    code, out = run("alerts", "--spec", spec, "--format", "json")
    assert code == 1, "an open page-level alert is something to act on"
    (alert,) = json.loads(out)["alerts"]
    required = {"id", "fingerprint", "kind", "feature", "cohort", "entity", "source", "severity", "state",
                "onset", "raised_at", "resolved_at", "owner", "headline", "runbook", "findings"}
    assert required <= set(alert)
    assert (alert["id"], alert["state"], alert["severity"], alert["entity"]) == ("1", "open", "page", ENTITY)
    assert alert["onset"] == "2026-03-01T00:00:00+00:00" and alert["runbook"] is None
    assert [f["message"] for f in alert["findings"]] == ["every decision gets one score"]

    code, out = run("alerts", "show", "1", "--spec", spec)
    assert code == 0 and f"{ENTITY} is not scored" in out and "1 finding(s) grouped, 0 suppressed" in out

    code, out = run("alerts", "ack", "1", "--spec", spec, "--by", "ana", "--reason", "on it")
    assert code == 0 and "acknowledged by ana" in out
    assert run("alerts", "--spec", spec)[0] == 0, "an acknowledged alert no longer asks for action"
    code, out = run("alerts", "snooze", "1", "--until", "2h", "--spec", spec, "--by", "ana",
                    "--format", "json")
    assert code == 0 and json.loads(out)["alerts"][0]["state"] == "snoozed"
    code, out = run("alerts", "resolve", "1", "--spec", spec, "--by", "ben", "--reason", "fixed")
    assert code == 0 and "resolved" in out
    assert json.loads(run("alerts", "--spec", spec, "--format", "json")[1]) == {"alerts": []}
    listed = json.loads(run("alerts", "list", "--all", "--spec", spec, "--format", "json")[1])["alerts"]
    assert [a["state"] for a in listed] == ["resolved"] and listed[0]["resolved_at"] is not None

    code, out = run("audit", "--spec", spec, "--format", "json")
    entries = json.loads(out)["entries"]
    assert [(e["action"], e["actor"]) for e in entries] == [
        ("opened", "watch"), ("acknowledged", "ana"), ("snoozed", "ana"), ("resolved", "ben")]
    assert entries[1]["reason"] == "on it" and entries[3]["reason"] == "fixed"

    code, out = run("alerts", "stats", "--spec", spec, "--from", "2026-03-01", "--format", "json")
    (kind,) = json.loads(out)["kinds"]
    assert code == 0 and kind["kind"] == "coverage" and kind["raised"] == 1 and kind["mttd_hours"] == 24.0
    code, out = run("alerts", "stats", "--spec", spec, "--from", "2026-04-01", "--to", "2026-05-01")
    assert code == 0 and "none" in out


@pytest.mark.parametrize(("args", "message"), [
    (["alerts", "ack"], "alerts ack needs the id of an alert"),
    (["alerts", "list", "3"], "alerts list takes no alert id"),
    (["alerts", "snooze", "1"], "alerts snooze needs --until"),
    (["alerts", "ack", "9"], "alert 9: no such alert"),
    (["alerts", "ack", "x"], "expected a number such as 12"),
    (["alerts", "stats", "--from", "2026-05-01", "--to", "2026-04-01"], "--from: must be before --to"),
    (["watch"], "give either --once"),
    (["watch", "--once", "--every", "1d"], "give either --once"),
    (["watch", "--every", "1d", "--as-of", "2026-03-01"], "--as-of: only with --once"),
    (["watch", "--every", "daily"], "--every: expected a duration"),
])
def test_alert_commands_refuse_bad_usage_with_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    code, out = run(*args, "--spec", str(spec_file(tmp_path)))
    assert code == 2 and message in " ".join(out.split())


def test_a_database_url_in_the_spec_is_refused_naming_the_setting(tmp_path: Path) -> None:
    path = spec_file(tmp_path)
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**data, "control": {"database": "postgresql://u:secret@db/x"}}))
    code, out = run("alerts", "--spec", str(path))
    assert code == 2 and "LOOPWATCH_CONTROL_URL" in out and "secret" not in out


@pytest.mark.slow
def test_watch_once_applies_a_day_once_and_check_changes_no_alert(tmp_path: Path) -> None:
    out_dir = tmp_path / "sim"
    assert run("simulate", "--days", "35", "--per-day", "400", "--incidents", "dropped_category",
               "--out", str(out_dir))[0] == 0
    spec = str(out_dir / "loopwatch.yaml")
    assert run("check", "--spec", spec, "--as-of", "2026-02-04")[0] in (0, 1)
    assert not list(out_dir.rglob("control.sqlite")), "check is read-only: it opens no control plane"
    code, out = run("watch", "--once", "--spec", spec, "--as-of", "2026-02-04T06:00", "--format", "json")
    first = json.loads(out)
    assert code in (0, 1) and first["applied"] and first["run_time"] == "2026-02-04T00:00:00+00:00"
    assert code == int(any(a["severity"] == "page" for a in first["alerts"]))
    assert len(first["transitions"]) == len(first["alerts"]) == sum(
        t["action"] == "opened" for t in first["transitions"])
    code, out = run("watch", "--once", "--spec", spec, "--as-of", "2026-02-04", "--format", "json")
    again = json.loads(out)
    assert not again["applied"] and again["transitions"] == [] and again["findings"] is None
    assert [a["id"] for a in again["alerts"]] == [a["id"] for a in first["alerts"]]
    code, out = run("watch", "--once", "--spec", spec, "--as-of", "2026-02-03")
    assert "already applied: nothing changed" in out
