"""``watch --once`` delivers what its run wrote to the outbox, within ``alerts.flush_seconds``;
``loopwatch alerts deliveries`` shows what is pending and dead-lettered."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from loopwatch.cli.main import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "120", "LW_CLI_HOOK_SECRET": "k"})
    return result.exit_code, result.stdout


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.slow
def test_watch_once_delivers_then_exits_within_its_bound(tmp_path: Path) -> None:
    out_dir = tmp_path / "sim"
    assert run("simulate", "--days", "35", "--per-day", "400", "--incidents", "dropped_category",
               "--out", str(out_dir))[0] == 0
    spec_path = out_dir / "loopwatch.yaml"
    spec = yaml.safe_load(spec_path.read_text())
    log = tmp_path / "notifications.jsonl"
    spec["alerts"] = {"flush_seconds": 2, "retry_initial_seconds": 0.2, "retry_max_seconds": 0.5,
                      "sinks": [{"kind": "stdout", "path": str(log), "min_severity": "info"},
                                {"kind": "webhook", "url": f"http://127.0.0.1:{closed_port()}/x",
                                 "secret_env": "LW_CLI_HOOK_SECRET", "min_severity": "info"}]}
    spec_path.write_text(yaml.safe_dump(spec))
    started = time.monotonic()
    metrics = tmp_path / "loopwatch.prom"
    code, out = run("watch", "--once", "--spec", str(spec_path), "--as-of", "2026-02-04", "--format", "json",
                    "--metrics-file", str(metrics))
    took = time.monotonic() - started
    transitions = json.loads(out)["transitions"]
    assert transitions, "the simulated incident raises at least one alert"
    exposed = metrics.read_text()
    assert "loopwatch_alerts_open{" in exposed and "loopwatch_check_duration_seconds{" in exposed
    assert 'loopwatch_notifications{model="' in exposed
    written = [json.loads(line) for line in log.read_text().splitlines()]
    assert [w["action"] for w in written] == [t["action"] for t in transitions]
    assert len({w["idempotency_key"] for w in written}) == len(written)
    code, out = run("alerts", "deliveries", "--spec", str(spec_path), "--format", "json")
    shown = json.loads(out)
    assert code == 0, "pending is not dead: nothing to act on yet"
    assert {d["sink"] for d in shown["deliveries"]} == {"webhook"}
    assert all(d["state"] == "pending" and d["attempts"] >= 1 for d in shown["deliveries"])
    assert "ConnectionError" in shown["deliveries"][-1]["last_error"]
    assert took < 2 + 30, "the run itself plus at most flush_seconds of waiting"
    code, out = run("alerts", "deliveries", "--all", "--spec", str(spec_path))
    assert code == 0 and "stdout delivered" in out and "webhook pending" in out
