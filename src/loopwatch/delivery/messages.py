"""Each sink's message for one notification: pure functions of the outbox payload.

A notification's payload (the alert after the change, the action, the figures of
its latest finding) is fixed when it is written, so every retry sends the same
body; only the webhook's signing timestamp changes between attempts.

Examples
--------
>>> slack_escape("<!channel> & <https://evil|click>")
'&lt;!channel&gt; &amp; &lt;https://evil|click&gt;'
>>> signature(b"k", "1700000000", b'{"a":1}')
'v1=1b6ad1bc9bf48c52ce01939866d5877c6cc4e87ddad27e16673cb8c4964394a3'
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

__all__ = ["alertmanager", "body", "pagerduty", "signature", "slack", "slack_escape", "webhook"]

#: PagerDuty's severities for ours (it has no "page": a page is critical).
PD_SEVERITY = {"page": "critical", "warning": "warning", "info": "info"}
_SUMMARY_MAX = 1024
_DEDUP_MAX = 255


def body(message: Any) -> bytes:
    """The exact bytes sent (and signed): compact JSON, keys in order, UTF-8."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode()


def signature(secret: bytes, timestamp: str, raw: bytes) -> str:
    """``v1=`` and the hex HMAC-SHA256 of ``timestamp + "." + body`` under ``secret``.

    A receiver recomputes it, compares in constant time and rejects a timestamp
    older than it tolerates (a replayed request carries an old one).
    """
    mac = hmac.new(secret, timestamp.encode() + b"." + raw, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def webhook(payload: dict[str, Any], key: str) -> dict[str, Any]:
    """The generic JSON webhook's body: the payload as written, with its idempotency key."""
    return {"idempotency_key": key, **payload}


def dedup_key(fingerprint: str) -> str:
    """PagerDuty's ``dedup_key``: the fingerprint, or its SHA-256 when longer than PagerDuty's 255."""
    if len(fingerprint) <= _DEDUP_MAX:
        return fingerprint
    return "sha256:" + hashlib.sha256(fingerprint.encode()).hexdigest()


def pagerduty(payload: dict[str, Any], routing_key: str) -> dict[str, Any]:
    """An Events API v2 event: ``trigger`` with the full payload; ``acknowledge``/``resolve`` by key."""
    if payload["event"] == "change":
        return pagerduty_change(payload, routing_key)
    alert = payload["alert"]
    event: dict[str, Any] = {"routing_key": routing_key, "event_action": payload["event"],
                             "dedup_key": dedup_key(alert["fingerprint"])}
    if payload["event"] != "trigger":
        return event
    subject = " · ".join(str(alert[k]) for k in ("feature", "entity", "cohort", "source", "metric")
                         if alert.get(k)) or "all"
    figures = payload.get("figures") or {}
    details = {"alert_id": alert["id"], "action": payload["action"], "reason": payload["reason"],
               "risk": alert.get("risk"),
               "onset": alert["onset"], "owner": alert["owner"], "subject": subject,
               "value": figures.get("value"), "interval": figures.get("interval"),
               "n": figures.get("n"), "window": figures.get("window"), "statistic": figures.get("statistic")}
    event["payload"] = {
        "summary": _clip(f"[{alert['model']}] {alert['headline']}", _SUMMARY_MAX),
        "source": f"loopwatch/{alert['model']}",
        "severity": PD_SEVERITY[payload["severity"]],
        "component": alert["model"], "group": alert["owner"] or alert["model"], "class": alert["kind"],
        "timestamp": payload["at"], "custom_details": details,
    }
    if alert.get("runbook"):
        event["links"] = [{"href": alert["runbook"], "text": "runbook"}]
    return event


def pagerduty_change(payload: dict[str, Any], routing_key: str) -> dict[str, Any]:
    """A Change Event (it never pages): the model that serves changed, and the alert that caused it
    (a model version's stage change or rollout step has no alert: its own summary is sent)."""
    alert, change = payload["alert"], payload["change"]
    if alert is None:
        return {"routing_key": routing_key, "payload": {
            "summary": _clip(f"[{payload['model']}] {change['summary']}", _SUMMARY_MAX),
            "source": f"loopwatch/{payload['model']}", "timestamp": payload["at"],
            "custom_details": {k: v for k, v in change.items() if k != "summary"}}}
    what = "switched to the baseline model" if change["kind"] == "baseline" else \
        f"rolled back to version {change.get('version')}"
    event: dict[str, Any] = {"routing_key": routing_key, "payload": {
        "summary": _clip(f"[{alert['model']}] {what}: alert #{alert['id']}: {alert['headline']}",
                         _SUMMARY_MAX),
        "source": f"loopwatch/{alert['model']}", "timestamp": payload["at"],
        "custom_details": {"flag": change["id"], "who": change["who"], "why": change["why"],
                           "alert_id": alert["id"], "fingerprint": alert["fingerprint"]}}}
    if alert.get("runbook"):
        event["links"] = [{"href": alert["runbook"], "text": "runbook"}]
    return event


def slack_escape(text: str) -> str:
    """Slack's three control characters as entities: data can never form ``<!channel>`` or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(payload: dict[str, Any]) -> dict[str, Any]:
    """A Block Kit message: headline, figure with its interval, owner, runbook; tied to alert #id."""
    alert = payload["alert"]
    figures = payload.get("figures") or {}
    e = slack_escape
    verb = {"trigger": "raised" if payload["action"] in ("opened", "reopened") else payload["action"],
            "acknowledge": payload["action"], "resolve": "resolved"}[payload["event"]]
    head = f"[{alert['model']}] alert #{alert['id']} {verb} ({payload['severity']})"
    figure = "no figure"
    if figures.get("value") is not None:
        interval = figures.get("interval")
        span = f" (95% interval {interval[0]:.4g} to {interval[1]:.4g})" if interval else ""
        figure = f"{figures.get('statistic') or 'value'} {float(figures['value']):.4g}{span}"
        if figures.get("n") is not None:
            figure += f", n = {figures['n']}"
    fields = [f"*Figure*\n{e(figure)}", f"*Owner*\n{e(alert['owner'] or 'unassigned')}",
              f"*Since*\n{e(alert['onset'] or '')}", f"*Fingerprint*\n`{e(alert['fingerprint'])}`"]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(head, 150), "emoji": False}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(
            e(alert["headline"]) + (f"\n*Risk:* {e(alert['risk'])}" if alert.get("risk") else ""), 3000)}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": _clip(f, 2000)} for f in fields]},
    ]
    context = f"{e(payload['action'])}: {e(payload['reason'])}"
    if alert.get("runbook"):
        context += f" · <{_link(alert['runbook'])}|runbook>"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(context, 3000)}]})
    return {"text": _clip(e(f"{head}: {alert['headline']}"), 3000), "blocks": blocks}


def _link(url: str) -> str:
    # a URL inside <...|...> must not close the link early or add a label of its own
    return url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")


def alertmanager(payload: dict[str, Any], *, generator: str | None = None,
                 holds_until: str | None = None) -> list[dict[str, Any]]:
    """``POST /api/v2/alerts`` body: labels = the fingerprint's parts; ``endsAt`` when resolved, else
    ``holds_until`` (Alertmanager resolves a firing alert by itself unless it is posted again)."""
    alert = payload["alert"]
    # identity only: a trigger and its resolve must carry the same labels (severity changes go in annotations)
    labels = {"alertname": f"loopwatch_{alert['kind']}", "model": alert["model"], "kind": alert["kind"]}
    for part in ("feature", "cohort", "entity", "source", "metric"):
        if alert.get(part):
            labels[part] = str(alert[part])
    item: dict[str, Any] = {
        "labels": labels,
        "annotations": {"summary": alert["headline"], "alert_id": alert["id"],
                        "severity": payload["severity"],
                        **({"runbook_url": alert["runbook"]} if alert.get("runbook") else {}),
                        **({"risk": alert["risk"]} if alert.get("risk") else {})},
        "startsAt": alert["raised_at"],
    }
    if payload["event"] == "resolve":
        item["endsAt"] = alert["resolved_at"] or payload["at"]
    elif holds_until is not None:
        item["endsAt"] = holds_until
    if generator:
        item["generatorURL"] = generator
    return [item]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
