"""The outbox against real receivers in another process: webhook, PagerDuty Events v2 and Slack.

Contract under test: every notification reaches each sink **at least once and in order**; an outage
(connection refused, then 500s, then 429s) loses nothing and, once the receiver is up, it accepts
each notification exactly once; a worker killed between the receiver's acceptance and marking the
row delivered causes at most one duplicate, carrying the same idempotency key (the receiver drops it).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from loopwatch.core.alerts import AlertDraft, fingerprint_of
from loopwatch.core.automations import AutoMitigation
from loopwatch.core.findings import Finding, Severity
from loopwatch.core.sinks import AlertSinks, Sink
from loopwatch.delivery import deliver
from loopwatch.storage.control import ControlPlane
from loopwatch.storage.control.outbox import Outbox

HERE = Path(__file__).parent
DAY0 = datetime(2026, 3, 1, tzinfo=UTC)


def day(n: int) -> datetime:
    return DAY0 + timedelta(days=n)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Receiver:
    kind: str
    port: int
    log: Path
    process: subprocess.Popen[str] | None = None
    args: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self, *args: str) -> Receiver:
        self.process = subprocess.Popen([sys.executable, str(HERE / "receiver.py"), self.kind, str(self.port),
                                         str(self.log), *args], stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    def requests(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def accepted(self) -> list[dict[str, Any]]:
        return [r for r in self.requests() if 200 <= r["status"] < 300]


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Callable[[str], Receiver]]:
    """``receiver(kind)``: a receiver on a free port, not started (``.start(...)`` starts it)."""
    made: list[Receiver] = []

    def make(kind: str) -> Receiver:
        r = Receiver(kind=kind, port=free_port(), log=tmp_path / f"{kind}-{len(made)}.jsonl")
        made.append(r)
        return r

    yield make
    for r in made:
        r.stop()


def draft(entity: str, *, severity: Severity = Severity.PAGE, onset: int = 0, headline: str | None = None,
          owner: str = "risk-team") -> AlertDraft:
    """A coverage draft for ``entity`` with one finding that has a figure and its interval."""
    found = (Finding(kind="coverage", check="coverage", statistic="unscored_share", start=day(onset),
                     end=day(onset + 1), value=0.42, interval=(0.38, 0.46), n=1200, severity=severity,
                     message=f"{entity} unscored", entity=entity),)
    return AlertDraft(fingerprint=fingerprint_of(model="fraud", kind="coverage", entity=entity),
                      model="fraud",
                      kind="coverage", severity=severity, onset=day(onset),
                      headline=headline or f"{entity} is not scored", findings=found, entity=entity,
                      owner=owner,
                      runbook="https://runbooks.example.com/coverage")


SECRET = "s3cr3t-hmac-key"
ROUTING = "R" * 32


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("LW_TEST_HOOK_SECRET", SECRET)
    monkeypatch.setenv("LW_TEST_PD_KEY", ROUTING)
    yield


def fast(*sinks: Sink, flush: float = 20.0) -> AlertSinks:
    return AlertSinks(sinks=sinks, retry_initial_seconds=0.05, retry_max_seconds=0.4, flush_seconds=flush)


def history(plane: ControlPlane) -> None:
    """Six state changes of three alerts: opened x2, escalated, opened, acknowledged, resolved."""
    plane.apply(model="fraud", run_time=day(1), drafts=[draft("a"), draft("b", severity=Severity.WARNING)])
    plane.apply(model="fraud", run_time=day(2), drafts=[draft("a"), draft("b"), draft("c")])
    plane.acknowledge("1", actor="ana")
    plane.apply(model="fraud", run_time=day(3), drafts=[draft("b"), draft("c")])
    plane.apply(model="fraud", run_time=day(4), drafts=[draft("b"), draft("c")])


def keys_in_order(plane: ControlPlane, sink: str) -> list[str]:
    return [d.idempotency_key for d in reversed(Outbox(plane.engine).deliveries()) if d.sink == sink]


def test_outage_then_up_delivers_each_once_in_order(tmp_path: Path,
                                                    receiver: Callable[[str], Receiver]) -> None:
    hook = receiver("webhook")
    sink = Sink(kind="webhook", url=hook.url, secret_env="LW_TEST_HOOK_SECRET")
    config = fast(sink)
    with ControlPlane(url=f"sqlite:///{tmp_path / 'c.sqlite'}", sinks=config.sinks) as plane:
        history(plane)
        box = Outbox(plane.engine)
        expected = keys_in_order(plane, "webhook")
        actions = [d.action for d in reversed(box.deliveries())]
        assert actions == ["opened", "opened", "escalated", "opened", "acknowledged", "resolved"]
        down = deliver(box, config, within=0.5)  # nobody listens: connection refused
        assert down.delivered == 0 and down.retried >= 1 and down.pending == {"webhook": 6}
        assert hook.requests() == []
        hook.start("--fail", "500,500,500,429,429", "--secret", SECRET)
        up = deliver(box, config, within=30)
        assert up.delivered == 6 and up.dead == 0 and up.pending == {}
    seen = hook.requests()
    assert [r["status"] for r in seen[:5]] == [500, 500, 500, 429, 429]
    assert [r["key"] for r in hook.accepted()] == expected  # exactly once each, in the order written
    assert [r["body"]["action"] for r in hook.accepted()] == actions
    # while failing, only the head was retried: nothing overtook it
    assert {r["key"] for r in seen[:5]} == {expected[0]}


def test_signature_and_timestamp_let_a_receiver_reject_forgeries(tmp_path: Path,
                                                                 receiver: Callable[[str], Receiver]) -> None:
    hook = receiver("webhook").start("--secret", "another-key")
    config = fast(Sink(kind="webhook", url=hook.url, secret_env="LW_TEST_HOOK_SECRET"))
    with ControlPlane(url=f"sqlite:///{tmp_path / 'c.sqlite'}", sinks=config.sinks) as plane:
        plane.apply(model="fraud", run_time=day(1), drafts=[draft("a")])
        report = deliver(Outbox(plane.engine), config, within=0)
        row = Outbox(plane.engine).deliveries()[0]
    assert report.dead == 1 and row.state == "dead" and row.last_status == 401  # 4xx: not retried
    assert [r["problem"] for r in hook.requests()] == ["signature"]
    assert SECRET not in (row.last_error or "")


def test_pagerduty_trigger_acknowledge_resolve_pair_on_the_fingerprint(
        tmp_path: Path, receiver: Callable[[str], Receiver]) -> None:
    pd = receiver("pagerduty").start()
    config = fast(Sink(kind="pagerduty", url=pd.url, routing_key_env="LW_TEST_PD_KEY", min_severity="page"))
    with ControlPlane(url=f"sqlite:///{tmp_path / 'c.sqlite'}", sinks=config.sinks) as plane:
        plane.apply(model="fraud", run_time=day(1),
                    drafts=[draft("a"), draft("w", severity=Severity.WARNING)])
        plane.acknowledge("1", actor="ana")
        plane.apply(model="fraud", run_time=day(2), drafts=[draft("w", severity=Severity.WARNING)])
        plane.apply(model="fraud", run_time=day(3), drafts=[draft("w", severity=Severity.WARNING)])
        fingerprint = plane.alert("1").fingerprint
        report = deliver(Outbox(plane.engine), config, within=10)
    assert report.delivered == 3 and report.dead == 0
    events = [r["body"] for r in pd.accepted()]
    assert [e["event_action"] for e in events] == ["trigger", "acknowledge", "resolve"]
    assert {e["dedup_key"] for e in events} == {fingerprint}  # the warning never paged
    assert {e["routing_key"] for e in events} == {ROUTING}
    trigger = events[0]["payload"]
    assert trigger["severity"] == "critical" and trigger["class"] == "coverage"
    assert trigger["component"] == "fraud" and trigger["group"] == "risk-team"
    assert trigger["summary"] == "[fraud] a is not scored" and trigger["source"] == "loopwatch/fraud"
    assert trigger["custom_details"]["interval"] == [0.38, 0.46] and trigger["custom_details"]["n"] == 1200
    assert events[0]["links"] == [{"href": "https://runbooks.example.com/coverage", "text": "runbook"}]


def test_an_automatic_rollback_goes_to_pagerduty_as_a_change_event(
        tmp_path: Path, receiver: Callable[[str], Receiver]) -> None:
    pd = receiver("pagerduty").start()
    config = fast(Sink(kind="pagerduty", url=pd.url, routing_key_env="LW_TEST_PD_KEY"))
    rule = AutoMitigation(on="coverage", action="rollback", version="v41")
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    with ControlPlane(url=url, sinks=config.sinks, mitigations=[rule]) as plane:
        plane.apply(model="fraud", run_time=day(1), drafts=[draft("a")])
        report = deliver(Outbox(plane.engine), config, within=10)
    assert report.delivered == 2 and report.dead == 0
    trigger, change = pd.accepted()
    assert trigger["path"] == "/hook" and trigger["body"]["event_action"] == "trigger"
    assert change["path"] == "/hook/change" and "event_action" not in change["body"]
    assert change["body"]["payload"]["summary"].startswith("[fraud] rolled back to version v41: alert #1")
    assert change["body"]["payload"]["custom_details"]["fingerprint"] == trigger["body"]["dedup_key"]


def test_pagerduty_400_is_dead_lettered_not_retried(tmp_path: Path, receiver: Callable[[str], Receiver],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    pd = receiver("pagerduty").start()
    monkeypatch.setenv("LW_TEST_PD_KEY", "too-short")  # the receiver answers 400: invalid routing key
    config = fast(Sink(kind="pagerduty", url=pd.url, routing_key_env="LW_TEST_PD_KEY"))
    with ControlPlane(url=f"sqlite:///{tmp_path / 'c.sqlite'}", sinks=config.sinks) as plane:
        plane.apply(model="fraud", run_time=day(1), drafts=[draft("a")])
        report = deliver(Outbox(plane.engine), config, within=2)
        row = Outbox(plane.engine).deliveries()[0]
    assert (report.dead, report.retried, row.state, row.last_status) == (1, 0, "dead", 400)
    assert len(pd.requests()) == 1
    assert "too-short" not in (row.last_error or "")


def test_slack_blocks_escape_injection_and_pace_one_a_second(tmp_path: Path,
                                                             receiver: Callable[[str], Receiver]) -> None:
    slack = receiver("slack").start()
    config = fast(Sink(kind="slack", url=slack.url))
    evil = "crypto <!channel> & <https://evil.example|click>"
    with ControlPlane(url=f"sqlite:///{tmp_path / 'c.sqlite'}", sinks=config.sinks) as plane:
        plane.apply(model="fraud", run_time=day(1),
                    drafts=[draft("<!here>", headline=evil), draft("b"), draft("c")])
        started = time.monotonic()
        report = deliver(Outbox(plane.engine), config, within=10)
        took = time.monotonic() - started
    assert report.delivered == 3
    got = slack.accepted()
    gaps = [b["t"] - a["t"] for a, b in itertools.pairwise(got)]
    assert min(gaps) >= 0.95 and took >= 1.9
    first = got[0]["body"]
    assert "<!channel>" not in got[0]["raw"] and "<!here>" not in got[0]["raw"]
    assert "<https://evil" not in got[0]["raw"]
    assert "&lt;!channel&gt;" in first["blocks"][1]["text"]["text"]
    assert [b["type"] for b in first["blocks"]] == ["header", "section", "section", "context"]
    assert first["blocks"][0]["text"]["text"].startswith("[fraud] alert #1 raised (page)")
    figure = first["blocks"][2]["fields"][0]["text"]
    assert "0.42" in figure and "0.38 to 0.46" in figure and "n = 1200" in figure
    assert "<https://runbooks.example.com/coverage|runbook>" in first["blocks"][3]["elements"][0]["text"]


WORKER = """
import json, sys
from datetime import UTC, datetime, timedelta
from loopwatch.core.sinks import AlertSinks
from loopwatch.delivery import deliver
from loopwatch.storage.control import ControlPlane
from loopwatch.storage.control.outbox import Outbox
config = AlertSinks.model_validate(json.loads(sys.argv[2]))
shift = timedelta(seconds=float(sys.argv[3]))
with ControlPlane(url=sys.argv[1], sinks=config.sinks) as plane:
    report = deliver(Outbox(plane.engine), config, within=20, now=lambda: datetime.now(UTC) + shift)
print(json.dumps(report.to_dict()), flush=True)
"""


def test_sigkill_between_send_and_mark_gives_at_most_one_duplicate(
        tmp_path: Path, receiver: Callable[[str], Receiver]) -> None:
    hook = receiver("webhook")
    marker = tmp_path / "accepted-first"
    hook.start("--secret", SECRET, "--hang", str(marker))
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    config = fast(Sink(kind="webhook", url=hook.url, secret_env="LW_TEST_HOOK_SECRET", timeout_seconds=90))
    with ControlPlane(url=url, sinks=config.sinks) as plane:
        history(plane)
        expected = keys_in_order(plane, "webhook")
    env = {**os.environ}
    argv = [sys.executable, "-c", WORKER, url, config.model_dump_json()]
    first = subprocess.Popen([*argv, "0"], env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert time.monotonic() < deadline, "the receiver never got the first notification"
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)  # the receiver accepted it; the worker never marked it
    first.wait(10)
    # the lease of the killed worker expires (90 s send timeout + 30 s): a later worker, 200 s on
    again = subprocess.run([*argv, "200"], env=env, capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(again.stdout)["delivered"] == 6
    got = hook.accepted()
    keys = [r["key"] for r in got]
    assert len(keys) == len(expected) + 1  # the one resend
    assert [r["key"] for r in got if r["duplicate"]] == [expected[0]]  # flagged by its idempotency key
    assert [r["key"] for r in got if not r["duplicate"]] == expected  # dropping it leaves each once, in order
