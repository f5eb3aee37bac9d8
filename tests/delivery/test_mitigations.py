"""Automatic mitigations under guardrails, flags set and reverted by hand, and ``loopwatch.Flags``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine
from typer.testing import CliRunner

import loopwatch
from loopwatch.cli.main import app
from loopwatch.core.alerts import AlertDraft, fingerprint_of
from loopwatch.core.automations import AutoMitigation
from loopwatch.core.findings import Finding, Severity
from loopwatch.core.flags import UseBaseline
from loopwatch.core.spec import load_spec
from loopwatch.storage.control import ControlFlags, ControlPlane, Flags

DAY0 = datetime(2026, 3, 1, tzinfo=UTC)
RULE = AutoMitigation(on="coverage", action="review_threshold", threshold=0.0, cohort_from_alert=True)


def day(n: int) -> datetime:
    return DAY0 + timedelta(days=n)


def draft(entity: str, severity: Severity = Severity.PAGE, kind: str = "coverage") -> AlertDraft:
    found = (Finding(kind=kind, check=kind, statistic="unscored_share", start=day(0),  # type: ignore[arg-type]
                     end=day(1), value=0.4, severity=severity, message="m", entity=entity),)
    return AlertDraft(fingerprint=fingerprint_of(model="fraud", kind=kind, entity=entity),  # type: ignore[arg-type]
                      model="fraud", kind=kind, severity=severity, onset=day(0),  # type: ignore[arg-type]
                      headline=f"{entity} is not scored", findings=found, entity=entity)


def actions(plane: ControlPlane) -> list[tuple[str, str | None]]:
    return [(e.action, e.alert_id) for e in plane.audit(model="fraud") if e.action.startswith("mitigation")]


def test_only_pages_act_at_most_once_per_interval_and_every_act_is_audited(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    with ControlPlane(url=url, mitigations=[RULE], mitigation_interval="2d") as plane:
        plane.apply(model="fraud", run_time=day(1), drafts=[draft("c=warn", Severity.WARNING),
                                                            draft("c=other", kind="volume")])
        assert ControlFlags(plane.engine).rows("fraud") == [], "a warning, or a kind with no rule, never acts"
        plane.apply(model="fraud", run_time=day(2), drafts=[draft("c=a"), draft("c=b")])
        (row,) = ControlFlags(plane.engine).rows("fraud")
        assert row["automatic"] and row["mitigation"]["cohort"] == "c=a"
        assert row["mitigation"]["threshold"] == 0
        assert actions(plane) == [("mitigation_set", "3"), ("mitigation_skipped", "4")]
        plane.apply(model="fraud", run_time=day(3), drafts=[draft("c=a"), draft("c=b"), draft("c=d")])
        assert len(ControlFlags(plane.engine).rows("fraud")) == 1, "day 3 is within 2d of day 2"
        plane.apply(model="fraud", run_time=day(5), drafts=[draft("c=e")])
        cohorts = [r["mitigation"]["cohort"] for r in ControlFlags(plane.engine).rows("fraud")]
        assert sorted(cohorts) == ["c=a", "c=e"]


def test_a_flag_in_force_is_not_set_again_and_an_alert_without_a_feature_disables_none(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    disable = AutoMitigation(on="health", action="disable_feature", feature_from_alert=True)
    with ControlPlane(url=url, mitigations=[RULE, disable], mitigation_interval="1h",
                      resolve_after=2) as plane:
        plane.apply(model="fraud", run_time=day(1), drafts=[draft("c=a")])
        plane.apply(model="fraud", run_time=day(2), drafts=[])
        plane.apply(model="fraud", run_time=day(3), drafts=[])  # resolved: two healthy runs
        # c=a is back (reopened, a raising transition) while its flag still holds
        plane.apply(model="fraud", run_time=day(4), drafts=[draft("c=a")])
        (row,) = ControlFlags(plane.engine).rows("fraud")
        skipped = [e for e in plane.audit(model="fraud") if e.action == "mitigation_skipped"]
        assert [e.reason for e in skipped] == [f"flag {row['id']} with the same effect is in force"]
        ControlFlags(plane.engine).revert(row["id"], actor="ana", reason="fixed upstream")
        plane.apply(model="fraud", run_time=day(5), drafts=[draft("c=b")])
        assert [r["mitigation"]["cohort"] for r in ControlFlags(plane.engine).rows("fraud")] == ["c=b"]
        # a health page on several features names none: nothing to disable, and the run goes on
        plane.apply(model="fraud", run_time=day(7), drafts=[draft("several", kind="health")])
        assert len(ControlFlags(plane.engine).rows("fraud")) == 1
        last = plane.audit(model="fraud")[-1]
        assert (last.action, last.reason) == ("mitigation_skipped",
                                              "the alert names no single feature to disable")


def test_flags_client_caches_for_its_ttl_and_sees_a_revert_after(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    ticks = [0.0]
    with ControlPlane(url=url) as plane:
        store = ControlFlags(plane.engine)
        reader = Flags(url=url, ttl=5.0, clock=lambda: ticks[0])
        assert not reader.current("fraud")
        store.set(UseBaseline(id="b-1", model="fraud", who="ana", why="drift", when=datetime.now(UTC)))
        assert not reader.current("fraud"), "within the ttl the cached snapshot is served"
        ticks[0] = 5.0
        assert reader.current("fraud").baseline is not None and reader.current("fraud").baseline.id == "b-1"
        store.revert("b-1", actor="ben", reason="model fixed")
        ticks[0] = 10.0
        assert not reader.current("fraud")
        assert [(e.action, e.actor) for e in plane.audit(model="fraud")] == [
            ("mitigation_set", "ana"), ("mitigation_reverted", "ben")]
        with pytest.raises(loopwatch.InputError, match="already reverted"):
            store.revert("b-1", actor="ben")
        reader.engine.dispose()
        plane.engine.dispose()
        ticks[0] = 20.0
        reader.engine = create_engine("sqlite:////nonexistent/dir/x.sqlite")  # the database is gone
        assert not reader.current("fraud") and reader.last_error is not None, "last good snapshot kept"
        reader.close()


runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "120"})
    return result.exit_code, result.stdout


@pytest.mark.slow
def test_the_dropped_category_page_raises_its_review_threshold_and_a_revert_undoes_it(tmp_path: Path) -> None:
    out_dir = tmp_path / "sim"
    assert run("simulate", "--days", "35", "--per-day", "2000", "--incidents", "dropped_category",
               "--out", str(out_dir))[0] == 0
    spec_path = out_dir / "loopwatch.yaml"
    data = yaml.safe_load(spec_path.read_text())
    data["alerts"] = {"mitigations": [{"on": "coverage", "action": "review_threshold", "threshold": 0.0,
                                       "cohort_from_alert": True}]}
    spec_path.write_text(yaml.safe_dump(data))
    spec = str(spec_path)
    code, out = run("watch", "--once", "--spec", spec, "--as-of", "2026-02-02", "--format", "json")
    pages = [a for a in json.loads(out)["alerts"] if a["severity"] == "page" and a["kind"] == "coverage"]
    assert [a["entity"] for a in pages] == ["merchant_category=crypto_exchange"]
    audit = json.loads(run("audit", "--spec", spec, "--format", "json")[1])["entries"]
    (set_entry,) = [e for e in audit if e["action"] == "mitigation_set"]
    assert set_entry["alert_id"] == pages[0]["id"] and set_entry["detail"]["automatic"] is True
    reader = loopwatch.Flags.for_spec(load_spec(spec), ttl=0)
    (review,) = reader.current(data["model"]).review_thresholds
    assert review.cohort == "merchant_category=crypto_exchange" and review.threshold == 0.0
    assert review.applies({"merchant_category": "crypto_exchange"})
    listed = json.loads(run("flags", "--spec", spec, "--format", "json")[1])["flags"]
    assert [f["id"] for f in listed] == [review.id]
    code, out = run("flags", "revert", review.id, "--spec", spec, "--by", "ana", "--reason", "schema fixed")
    assert code == 0 and "reverted" in out
    assert not reader.current(data["model"])
    audit = json.loads(run("audit", "--spec", spec, "--format", "json")[1])["entries"]
    assert [(e["action"], e["actor"]) for e in audit if e["action"].startswith("mitigation")] == [
        ("mitigation_set", "watch (automatic)"), ("mitigation_reverted", "ana")]
    assert run("flags", "revert", review.id, "--spec", spec, "--by", "ana")[0] == 2
    reader.close()
