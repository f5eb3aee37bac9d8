"""The ``alerts:`` block of the spec: where alert notifications go and how they are retried.

Every state change of an alert (opened, escalated, acknowledged, resolved...)
becomes one notification per matching sink, written to the control plane's
outbox in the same transaction as the change, then delivered by a worker. A sink
is matched by severity (``min_severity``) and owner (``owners``, empty for
all); a sink that was told about an alert hears every later change of it, so a
paging incident is always resolved where it was raised, even after it was
graded down. Secrets (HMAC keys, routing keys, Slack webhook URLs) are named by
environment variable, never written into the spec.

Examples
--------
>>> cfg = AlertSinks.model_validate({"sinks": [
...     {"kind": "webhook", "url": "https://hooks.example.com/lw", "secret_env": "LW_HOOK_SECRET"},
...     {"kind": "slack", "url_env": "LW_SLACK_URL", "min_severity": "page"}]})
>>> [(s.name, s.kind, s.min_severity, s.pace_seconds) for s in cfg.sinks]
[('webhook', 'webhook', 'warning', 0.0), ('slack', 'slack', 'page', 1.0)]
>>> from loopwatch.core.spec import spec_from_mapping
>>> spec_from_mapping({"model": "m", "features": [{"name": "a", "dtype": "numeric"}],
...                    "alerts": {"sinks": [{"kind": "webhook"}]}})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
loopwatch.errors.SpecError: spec is invalid:
alerts.sinks[0]: webhook sink: give url (or url_env, the environment variable holding it)...
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from loopwatch.core.automations import AutoMitigation

if TYPE_CHECKING:
    from loopwatch.core.findings import Severity

__all__ = ["PAGERDUTY_URL", "AlertSinks", "Sink", "SinkKind"]

SinkKind = Literal["webhook", "slack", "pagerduty", "alertmanager", "stdout"]
#: PagerDuty's public Events API v2 endpoint, the default ``url`` of a ``pagerduty`` sink.
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
_ENV = r"^[A-Za-z_][A-Za-z0-9_]*$"


class Sink(BaseModel):
    """One destination of alert notifications.

    ``url`` or ``url_env`` (an environment variable holding the URL: a Slack
    webhook URL is itself a secret); ``secret_env`` the webhook's HMAC key;
    ``routing_key_env`` PagerDuty's integration key; ``path`` a file the
    ``stdout`` sink appends to instead of standard output. ``pace_seconds`` is
    the least time between two messages (Slack accepts one a second; that is
    its default); ``timeout_seconds`` bounds one request.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: SinkKind
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=60)
    url: str | None = None
    url_env: str | None = Field(default=None, pattern=_ENV)
    secret_env: str | None = Field(default=None, pattern=_ENV)
    routing_key_env: str | None = Field(default=None, pattern=_ENV)
    path: str | None = None
    min_severity: Literal["info", "warning", "page"] = "warning"
    owners: tuple[str, ...] = ()
    pace_seconds: float | None = Field(default=None, ge=0, le=3600)
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    #: alertmanager: how long a firing alert holds without being posted again (each run re-posts
    #: the live ones; the default outlasts a daily cron run)
    hold_seconds: float = Field(default=90_000.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// URL; got {value[:40]!r}")
        return value

    @model_validator(mode="after")
    def _complete(self) -> Sink:
        http = self.kind != "stdout"
        if self.kind == "pagerduty" and self.url is None and self.url_env is None:
            object.__setattr__(self, "url", PAGERDUTY_URL)
        if http and (self.url is None) == (self.url_env is None):
            raise ValueError(f"{self.kind} sink: give url (or url_env, the environment variable holding it), "
                             "exactly one of them")
        if self.kind == "pagerduty" and self.routing_key_env is None:
            raise ValueError("pagerduty sink: routing_key_env names the environment variable holding the "
                             "integration's routing key")
        if self.kind == "webhook" and self.secret_env is None:
            raise ValueError("webhook sink: secret_env names the environment variable holding the HMAC key "
                             "that signs each request")
        if not http and (self.url is not None or self.url_env is not None):
            raise ValueError("stdout sink: takes no url (path: a file to append to, or nothing for stdout)")
        if self.name is None:
            object.__setattr__(self, "name", self.kind)
        if self.pace_seconds is None:
            object.__setattr__(self, "pace_seconds", 1.0 if self.kind == "slack" else 0.0)
        return self

    @property
    def key(self) -> str:
        """The sink's name (``kind`` unless named), which its outbox rows carry."""
        return self.name or self.kind

    @property
    def threshold(self) -> Severity:
        """``min_severity`` as a :class:`~loopwatch.core.findings.Severity`."""
        from loopwatch.core.findings import Severity  # not at import: findings imports the spec

        return Severity[self.min_severity.upper()]


class AlertSinks(BaseModel):
    """The sinks, and how the outbox retries a sink that does not answer.

    A failed send is retried after ``retry_initial_seconds``, doubling up to
    ``retry_max_seconds``; a notification still undelivered ``give_up_after``
    seconds after it was written is dead-lettered (so is one the receiver
    rejects as malformed: retrying cannot fix it). ``flush_seconds`` bounds how
    long ``watch --once`` waits to deliver what is pending before it exits.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    sinks: tuple[Sink, ...] = ()
    retry_initial_seconds: float = Field(default=30.0, gt=0, le=86_400)
    retry_max_seconds: float = Field(default=900.0, gt=0, le=86_400)
    give_up_after_seconds: float = Field(default=172_800.0, gt=0)
    flush_seconds: float = Field(default=30.0, ge=0, le=3600)
    #: Automatic mitigations (``core/automations.py``) and the guardrail's interval.
    mitigations: tuple[AutoMitigation, ...] = ()
    mitigation_interval: str = "1d"
    #: Runbook links overriding the shipped ones, by kind, feature or ``kind:feature``.
    runbooks: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _unique(self) -> AlertSinks:
        names = [s.key for s in self.sinks]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"sinks: names must be unique; {', '.join(twice)} appear more than once "
                             "(give each a name:)")
        from loopwatch.core.spec import parse_duration

        parse_duration(self.mitigation_interval)
        if self.retry_max_seconds < self.retry_initial_seconds:
            raise ValueError("retry_max_seconds must not be below retry_initial_seconds")
        return self
