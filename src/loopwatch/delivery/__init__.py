"""Alert notifications leave the process: the outbox worker and each sink's message.

The control plane writes notifications to its outbox in the transaction of each
alert state change (:mod:`loopwatch.storage.control.outbox`); :func:`deliver`
sends them to webhooks (HMAC-signed), Slack, PagerDuty Events v2, Alertmanager
or stdout, in order per sink, with backoff, pacing and a dead letter.
"""

from loopwatch.delivery.worker import Outcome, Report, deliver, describe, send

__all__ = ["Outcome", "Report", "deliver", "describe", "send"]
