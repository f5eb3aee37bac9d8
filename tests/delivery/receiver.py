"""A receiver on 127.0.0.1 in its own process, speaking the webhook, PagerDuty v2 or Slack contract.

Run as ``python receiver.py KIND PORT LOG [--fail 500,500,429] [--secret S] [--hang MARKER]``. It answers
the statuses of ``--fail`` first (one per request), then checks each request against KIND's contract:
a malformed one gets 400 (PagerDuty, Slack) or 401 (a bad webhook signature), a good one 2xx. Every
request is one JSON line in LOG: the time, the status answered, the headers that matter and the body,
and ``duplicate`` when its idempotency key (PagerDuty: none; Slack: none) was accepted before.
With ``--hang MARKER`` the first accepted request is logged, MARKER is created and the answer is
held for a minute (the test kills the sender meanwhile).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

KIND = "webhook"
LOG = Path("receiver.jsonl")
FAIL: list[int] = []
SECRET = b""
HANG: str | None = None
LOCK = threading.Lock()
SEEN: set[str] = set()
PD_SEVERITIES = {"critical", "error", "warning", "info"}


def pagerduty_problem(event: dict, path: str) -> str | None:
    if path.endswith("/change"):  # a Change Event: no event_action, no dedup_key, never pages
        p = event.get("payload") or {}
        if "event_action" in event or not p.get("summary") or not p.get("source"):
            return "change_event"
        return None if event.get("routing_key") and len(event["routing_key"]) == 32 else "routing_key"
    if event.get("event_action") not in ("trigger", "acknowledge", "resolve"):
        return "event_action"
    if not event.get("routing_key") or len(event["routing_key"]) != 32:
        return "routing_key"
    key = event.get("dedup_key")
    if not isinstance(key, str) or not key or len(key) > 255:
        return "dedup_key"
    if event["event_action"] == "trigger":
        p = event.get("payload") or {}
        for field in ("summary", "source", "severity"):
            if not p.get(field):
                return f"payload.{field}"
        if len(p["summary"]) > 1024 or p["severity"] not in PD_SEVERITIES:
            return "payload.summary/severity"
    return None


def slack_problem(message: dict) -> str | None:
    if not message.get("text") and not message.get("blocks"):
        return "no_text"
    for block in message.get("blocks", []):
        if block.get("type") not in ("header", "section", "context", "divider"):
            return "invalid_blocks"
        if block["type"] == "header" and len(block["text"]["text"]) > 150:
            return "invalid_blocks"
    return None


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = json.loads(raw)
        key = self.headers.get("Idempotency-Key")
        with LOCK:
            status = FAIL.pop(0) if FAIL else None
        problem = None
        if status is None:
            if KIND == "webhook":
                stamp = self.headers.get("X-Loopwatch-Timestamp", "0")
                want = "v1=" + hmac.new(SECRET, stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
                fresh = abs(time.time() - int(stamp)) < 300
                ok = hmac.compare_digest(want, self.headers.get("X-Loopwatch-Signature", "")) and fresh
                status, problem = (200, None) if ok else (401, "signature")
            elif KIND == "pagerduty":
                problem = pagerduty_problem(body, self.path)
                status = 400 if problem else 202
            else:
                problem = slack_problem(body)
                status = 400 if problem else 200
        accepted = 200 <= status < 300
        with LOCK:
            duplicate = bool(key) and accepted and key in SEEN
            if accepted and key:
                SEEN.add(key)
            with LOG.open("a") as out:
                out.write(json.dumps({"t": time.time(), "status": status, "problem": problem, "key": key,
                                      "duplicate": duplicate, "path": self.path, "body": body,
                                      "raw": raw.decode()}) + "\n")
        global HANG
        if accepted and HANG:
            marker, HANG = HANG, None
            Path(marker).touch()
            time.sleep(60)
        answer = b'{"status":"success"}' if accepted else json.dumps({"status": "invalid", "problem": problem
                                                                       }).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


if __name__ == "__main__":
    KIND, port, LOG = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    options = dict(zip(sys.argv[4::2], sys.argv[5::2], strict=True))
    FAIL = [int(s) for s in options.get("--fail", "").split(",") if s]
    SECRET = options.get("--secret", "").encode()
    HANG = options.get("--hang")
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    server.serve_forever()
