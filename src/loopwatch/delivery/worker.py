"""The delivery worker: drains the outbox to the sinks with backoff, pacing and a dead letter.

For each sink only its oldest pending notification may be sent (order per sink
holds through any outage). An answer decides the row:

- 2xx: delivered;
- 400-499 except 408 and 429: the receiver says the message is wrong and a retry
  sends the same bytes, so the row is dead-lettered at once (visible in
  ``loopwatch alerts deliveries``);
- 408, 429, 5xx, a refused connection or a timeout: retried after
  ``retry_initial_seconds``, doubling to ``retry_max_seconds`` (a ``Retry-After``
  of seconds is honoured as a floor); a row still pending ``give_up_after_seconds``
  after it was written is dead-lettered.

A send is sandwiched between a lease (claimed before) and the mark (after); a
worker killed in between leaves the row pending, and once the lease expires the
next worker sends it again with the same idempotency key: at most one duplicate,
which the receiver drops by that key. Secrets are read from the environment at
send time and appear in no error, log line or outbox row.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from loopwatch.core.sinks import AlertSinks, Sink
from loopwatch.delivery import messages
from loopwatch.storage.control.outbox import Delivery, Outbox

__all__ = ["Outcome", "Report", "deliver", "repost_live", "send"]


@dataclass(frozen=True)
class Outcome:
    """What one send did: ``ok``, ``retry`` (with a floor on the wait) or ``dead``."""

    verdict: str
    status: int | None = None
    error: str = ""
    wait_seconds: float = 0.0


@dataclass
class Report:
    """What one :func:`deliver` call did, per verdict, and what is still pending."""

    delivered: int = 0
    retried: int = 0
    dead: int = 0
    pending: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"delivered": self.delivered, "retried": self.retried, "dead": self.dead,
                "pending": dict(self.pending)}


def _env(name: str | None, sink: Sink, what: str) -> str:
    value = os.environ.get(name or "")
    if not value:
        raise LookupError(f"sink {sink.key}: the environment variable {name} ({what}) is not set")
    return value


def send(sink: Sink, delivery: Delivery, *, session: requests.Session | None = None,
         clock: Callable[[], float] = time.time) -> Outcome:
    """Send one notification to ``sink`` and classify the answer."""
    try:
        if sink.kind == "stdout":
            line = messages.body({"idempotency_key": delivery.idempotency_key, **delivery.payload}).decode()
            if sink.path:
                with Path(sink.path).open("a", encoding="utf-8") as out:
                    out.write(line + "\n")
            else:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
            return Outcome("ok")
        url = sink.url or _env(sink.url_env, sink, "the URL")
        headers = {"Content-Type": "application/json", "Idempotency-Key": delivery.idempotency_key,
                   "User-Agent": "loopwatch"}
        message: Any
        if sink.kind == "webhook":
            message = messages.webhook(delivery.payload, delivery.idempotency_key)
        elif sink.kind == "slack":
            message = messages.slack(delivery.payload)
        elif sink.kind == "pagerduty":
            routing = _env(sink.routing_key_env, sink, "the routing key")
            message = messages.pagerduty(delivery.payload, routing)
            if delivery.event == "change":  # Change Events have their own endpoint beside enqueue
                url = url.removesuffix("/v2/enqueue") + "/v2/change/enqueue" if url.endswith("/v2/enqueue") \
                    else url.rstrip("/") + "/change"
        else:
            holds = datetime.fromtimestamp(clock() + sink.hold_seconds, UTC).isoformat()
            message = messages.alertmanager(delivery.payload, holds_until=holds)
            url = url.rstrip("/") + "/api/v2/alerts"
        raw = messages.body(message)
        if sink.kind == "webhook":
            stamp = str(int(clock()))
            secret = _env(sink.secret_env, sink, "the HMAC key").encode()
            headers["X-Loopwatch-Timestamp"] = stamp
            headers["X-Loopwatch-Signature"] = messages.signature(secret, stamp, raw)
    except LookupError as exc:
        return Outcome("retry", error=str(exc))
    post = session.post if session is not None else requests.post
    try:
        answer = post(url, data=raw, headers=headers, timeout=sink.timeout_seconds)
    except requests.RequestException as exc:
        # the exception text may hold the URL (a Slack URL is a secret): name only its type
        return Outcome("retry", error=f"sink {sink.key}: {type(exc).__name__} (no answer)")
    status = answer.status_code
    if 200 <= status < 300:
        return Outcome("ok", status=status)
    text = answer.text[:300].replace(url, "<url>")
    if status in (408, 429) or status >= 500:
        return Outcome("retry", status=status, error=f"sink {sink.key}: HTTP {status}: {text}",
                       wait_seconds=_retry_after(answer.headers.get("Retry-After")))
    return Outcome("dead", status=status, error=f"sink {sink.key}: HTTP {status} (not retried): {text}")


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 0.0
    except ValueError:
        return 0.0


def deliver(outbox: Outbox, config: AlertSinks, *, within: float | None = None,
            now: Callable[[], datetime] = lambda: datetime.now(UTC),
            sleep: Callable[[float], None] = time.sleep,
            sender: Callable[[Sink, Delivery], Outcome] | None = None) -> Report:
    """Deliver what is pending, waiting for retries and pacing up to ``within`` seconds in all.

    ``within=0`` sends only what is due now; ``None`` waits ``config.flush_seconds``.
    A notification whose next attempt falls after the bound stays pending for the
    next call (``loopwatch watch`` calls this after every run, and between runs).
    """
    budget = config.flush_seconds if within is None else within
    deadline = time.monotonic() + budget
    by_name = {s.key: s for s in config.sinks}
    last_sent: dict[str, float] = {}
    report = Report()
    do_send = sender or (lambda s, d: send(s, d))
    while True:
        wake: float | None = None
        progressed = False
        for name in outbox.sinks_pending():
            sink = by_name.get(name)
            if sink is None:
                continue  # a sink removed from the spec: its rows wait, visible in `alerts deliveries`
            head = outbox.head(name)
            if head is None:
                continue
            at = now()
            if at - head.created_at > timedelta(seconds=config.give_up_after_seconds):
                outbox.dead(head, status=head.last_status,
                            error=f"undelivered after {config.give_up_after_seconds:.0f}s: {head.last_error}")
                report.dead += 1
                progressed = True
                continue
            pace = (sink.pace_seconds or 0.0) - (time.monotonic() - last_sent.get(name, -1e9))
            due_in = max((head.next_attempt_at - at).total_seconds(), pace)
            if due_in > 0:
                wake = due_in if wake is None else min(wake, due_in)
                continue
            if not outbox.claim(head, now=at, lease=timedelta(seconds=sink.timeout_seconds + 30)):
                continue
            outcome = do_send(sink, head)
            last_sent[name] = time.monotonic()
            progressed = True
            if outcome.verdict == "ok":
                outbox.delivered(head, now=now(), status=outcome.status)
                report.delivered += 1
            elif outcome.verdict == "dead":
                outbox.dead(head, status=outcome.status, error=outcome.error)
                report.dead += 1
            else:
                backoff = min(config.retry_max_seconds, config.retry_initial_seconds * 2.0 ** head.attempts)
                wait = max(backoff, outcome.wait_seconds)
                outbox.retry(head, at=now() + timedelta(seconds=wait), status=outcome.status,
                             error=outcome.error)
                report.retried += 1
        if progressed:
            continue
        left = deadline - time.monotonic()
        if wake is None or wake > left:
            break
        sleep(max(wake, 0.001))
    report.pending = {sink: n for (sink, state), n in outbox.counts().items() if state == "pending"}
    return report


def describe(report: Report) -> str:
    """One line for a person: what was delivered, retried, dead-lettered and is pending."""
    pending = sum(report.pending.values())
    return (f"notifications: {report.delivered} delivered, {report.retried} to retry, {report.dead} dead, "
            f"{pending} pending")


def dumps(report: Report) -> str:
    return json.dumps(report.to_dict())


def repost_live(outbox: Outbox, config: AlertSinks, *, live: set[str],
                clock: Callable[[], float] = time.time) -> int:
    """Post again to each Alertmanager sink the live alerts it was told of, so they keep firing there.

    ``live`` holds the ids of the alerts still live. Each is posted as its latest delivered
    notification said, with ``endsAt`` pushed to ``hold_seconds`` from now; a failure is left
    for the next run (the next re-post, or the resolve through the outbox, corrects it).
    Returns the number of alerts posted.
    """
    sinks = [s for s in config.sinks if s.kind == "alertmanager"]
    if not sinks or not live:
        return 0
    delivered = outbox.deliveries(states=("delivered",), limit=10_000)  # read once for every sink
    posted = 0
    for sink in sinks:
        latest: dict[str, Delivery] = {}
        for d in reversed(delivered):
            if d.sink == sink.key and d.alert_id is not None:
                latest[d.alert_id] = d
        for alert_id, d in sorted(latest.items()):
            if alert_id in live and d.event != "resolve":
                again = Delivery(**{**d.__dict__, "payload": {**d.payload, "event": "trigger"}})
                posted += send(sink, again, clock=clock).verdict == "ok"
    return posted
