"""A real Alertmanager receives alerts and their resolution; a real Prometheus scrapes the exposition.

Both are Debian's packages (``prometheus-alertmanager``, ``prometheus``), started here on free ports;
absent on a developer's machine they skip with the reason, under CI=true they fail (``.ci/run``
installs them).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from loopwatch.core.alerts import AlertDraft, fingerprint_of
from loopwatch.core.findings import Finding, Severity
from loopwatch.core.sinks import AlertSinks, Sink
from loopwatch.delivery import deliver
from loopwatch.delivery.worker import repost_live
from loopwatch.storage.control import ControlPlane
from loopwatch.storage.control.outbox import Outbox

pytest.importorskip("prometheus_client")
from loopwatch.service.exposition import LatestRun, registry, serve

DAY0 = datetime(2026, 3, 1, tzinfo=UTC)


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the Prometheus tests must run, not skip)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return json.loads(answer.read())


def wait_for(probe: Callable[[], Any], what: str, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            found = probe()
            if found:
                return found
        except Exception as exc:  # not up yet
            last = exc
        time.sleep(0.3)
    raise AssertionError(f"{what} within {seconds}s (last error: {last})")


@contextlib.contextmanager
def start(binary: str, args: list[str], tmp: Path) -> Iterator[subprocess.Popen[bytes]]:
    path = shutil.which(binary)
    if path is None:
        unavailable(f"{binary} is not installed (Debian package {binary})")
    log = (tmp / f"{binary}.log").open("wb")
    process = subprocess.Popen([str(path), *args], stdout=log, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.kill()
        process.wait(10)
        log.close()


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    config = tmp_path / "alertmanager.yml"
    config.write_text("route:\n  receiver: none\nreceivers:\n  - name: none\n")
    port = free_port()
    args = [f"--config.file={config}", f"--storage.path={tmp_path / 'am'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="]
    with start("prometheus-alertmanager", args, tmp_path):
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: urllib.request.urlopen(f"{url}/-/ready", timeout=2).status == 200,
                 "Alertmanager ready")
        yield url


def draft(entity: str, severity: Severity = Severity.PAGE) -> AlertDraft:
    found = (Finding(kind="coverage", check="coverage", statistic="unscored_share", start=DAY0,
                     end=DAY0 + timedelta(days=1), value=0.03, interval=(0.02, 0.04), severity=severity,
                     message="unscored", entity=entity),)
    return AlertDraft(fingerprint=fingerprint_of(model="fraud", kind="coverage", entity=entity),
                      model="fraud", kind="coverage", severity=severity, onset=DAY0,
                      headline=f"{entity} is not scored", findings=found, entity=entity)


def test_alertmanager_shows_the_alert_firing_then_resolved(tmp_path: Path, alertmanager: str) -> None:
    config = AlertSinks(sinks=(Sink(kind="alertmanager", url=alertmanager),), retry_initial_seconds=0.1,
                        retry_max_seconds=0.5)
    now = datetime.now(UTC).replace(microsecond=0)
    with ControlPlane(url=f"sqlite:///{tmp_path / 'c.sqlite'}", sinks=config.sinks) as plane:
        plane.apply(model="fraud", run_time=now - timedelta(days=3), drafts=[draft("mcc=crypto")])
        assert deliver(Outbox(plane.engine), config, within=10).delivered == 1
        (firing,) = get(f"{alertmanager}/api/v2/alerts")
        assert firing["status"]["state"] == "active"
        assert firing["labels"] == {"alertname": "loopwatch_coverage", "model": "fraud", "kind": "coverage",
                                    "entity": "mcc=crypto"}
        assert firing["annotations"]["severity"] == "page" and firing["annotations"]["alert_id"] == "1"
        # a firing alert holds for hold_seconds (25 h) unless posted again; each run re-posts it
        holds = datetime.fromisoformat(firing["endsAt"].replace("Z", "+00:00"))
        assert timedelta(hours=24) < holds - datetime.now(UTC) <= timedelta(hours=25)
        assert repost_live(Outbox(plane.engine), config, live={"1"}, clock=lambda: time.time() + 3600) == 1
        (again,) = get(f"{alertmanager}/api/v2/alerts")
        later = datetime.fromisoformat(again["endsAt"].replace("Z", "+00:00"))
        assert timedelta(minutes=59) < later - holds < timedelta(minutes=61)
        assert repost_live(Outbox(plane.engine), config, live=set()) == 0, "only live alerts are re-posted"
        plane.apply(model="fraud", run_time=now - timedelta(days=2), drafts=[])
        plane.apply(model="fraud", run_time=now - timedelta(days=1), drafts=[])
        assert deliver(Outbox(plane.engine), config, within=10).delivered == 1
    # a resolved alert leaves Alertmanager's list of active alerts; unfiltered it shows its end
    assert get(f"{alertmanager}/api/v2/alerts?active=true") == []
    groups = get(f"{alertmanager}/api/v2/alerts/groups")
    assert all(not g["alerts"] for g in groups)


def test_prometheus_scrapes_open_alerts_and_a_figure(tmp_path: Path) -> None:
    port = free_port()
    with ControlPlane(url=f"sqlite:///{tmp_path / 'c.sqlite'}") as plane:
        day = datetime(2026, 3, 2, tzinfo=UTC)
        run = plane.apply(model="fraud", run_time=day,
                          drafts=[draft("mcc=a"), draft("mcc=b"), draft("mcc=c", Severity.WARNING)])
        plane.acknowledge("2", actor="ana")
        latest = LatestRun(findings=tuple(f for d in (draft("mcc=a"),) for f in d.findings), seconds=1.5,
                           run_time=run.run_time.timestamp())
        serve(registry(plane, "fraud", latest), port)
        config = tmp_path / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: loopwatch\n"
                          f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n")
        web = free_port()
        args = [f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{web}"]
        with start("prometheus", args, tmp_path):
            api = f"http://127.0.0.1:{web}/api/v1/query?query="

            def query(promql: str) -> list[Any]:
                answer = get(api + urllib.request.quote(promql))
                assert answer["status"] == "success"
                result: list[Any] = answer["data"]["result"]
                return result

            pages = wait_for(lambda: query('sum(loopwatch_alerts_open{severity="page"})'),
                             "Prometheus scraped the exposition")
            assert float(pages[0]["value"][1]) == 2
            by_state = query('sum by (state) (loopwatch_alerts_open{severity="page"})')
            assert {r["metric"]["state"]: float(r["value"][1]) for r in by_state} == {
                "open": 1, "acknowledged": 1}
            (value,) = query('loopwatch_finding_value{entity="mcc=a"}')
            assert float(value["value"][1]) == 0.03
            (upper,) = query('loopwatch_finding_value_upper{entity="mcc=a"}')
            assert float(upper["value"][1]) == 0.04
