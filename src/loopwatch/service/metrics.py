"""Prometheus exposition of a decision loop: decisions, fallbacks, latency, cost, logger counters.

Names and units follow Prometheus conventions (``_total`` counters, ``_seconds``
histograms). Label values are bounded: routes and actions are few, fallback steps
are the spec's features plus a handful of model steps, reasons are codes.
Each app has its own registry, so two apps in one process (tests) do not collide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from loopwatch.prediction.decision import Decision
from loopwatch.prediction.logger import DecisionLogger

__all__ = ["ServiceMetrics"]

_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_ROWS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class _LoggerCollector(Collector):
    def __init__(self, logger: DecisionLogger, batch_cpu: Callable[[], float] | None) -> None:
        self.logger = logger
        self.batch_cpu = batch_cpu

    def collect(self) -> Iterator[Metric]:
        stats = self.logger.stats()
        for name, value, text in (
            ("accepted", stats.accepted, "decisions taken by the decision logger"),
            ("written", stats.written, "decisions written to the store"),
            ("dropped", stats.dropped, "decisions dropped because the logger's queue was full"),
            ("quarantined", stats.quarantined, "decisions the store rejected, with a reason"),
            ("pending", stats.pending, "decisions accepted and not yet written"),
            ("write_errors", stats.write_errors, "failed write attempts (each retried)"),
        ):
            yield GaugeMetricFamily(f"loopwatch_logger_{name}", text, value=value)
        yield CounterMetricFamily("loopwatch_logger_writer_cpu_seconds", "CPU time of the logger's "
                                  "writer thread (validating and writing)", value=stats.writer_cpu_s)
        if self.batch_cpu is not None:
            yield CounterMetricFamily("loopwatch_logging_batch_cpu_seconds", "CPU time the batch "
                                      "thread spent building and enqueuing logged batches",
                                      value=self.batch_cpu())


class ServiceMetrics:
    """The metrics of one service; :meth:`observe` each batch of decisions, :meth:`render` to scrape."""

    def __init__(self, *, model: str, logger: DecisionLogger | None = None,
                 logging_cpu: Callable[[], float] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.decisions = Counter("loopwatch_decisions", "Decisions made, by route and action",
                                 ["model", "route", "action"], registry=r)
        self.fallbacks = Counter("loopwatch_fallbacks", "Links of fallback chains served, by step, "
                                 "what was served and why", ["model", "step", "served", "reason"],
                                 registry=r)
        self.flagged = Counter("loopwatch_flagged_decisions", "Decisions shaped by a mitigation",
                               ["model"], registry=r)
        self.ruled = Counter("loopwatch_rule_overrides", "Decisions a safety rule overrode",
                             ["model", "rule"], registry=r)
        self.latency = Histogram("loopwatch_decision_latency_seconds", "From a request's arrival to "
                                 "its decision", ["model"], buckets=_LATENCY, registry=r)
        self.batch_rows = Histogram("loopwatch_batch_rows", "Rows in the model call that scored a "
                                    "decision", ["model"], buckets=_ROWS, registry=r)
        self.cost = Counter("loopwatch_decision_cost", "Cost of the decisions made, in the spec's "
                            "currency", ["model"], registry=r)
        self.requests = Counter("loopwatch_http_requests", "HTTP requests to /v1/decide by status",
                                ["status"], registry=r)
        self.model = model
        if logger is not None:
            r.register(_LoggerCollector(logger, logging_cpu))

    def observe(self, decisions: Sequence[Decision]) -> None:
        m = self.model
        for d in decisions:
            self.decisions.labels(m, d.route, d.action).inc()
            for f in d.fallbacks:
                self.fallbacks.labels(m, f.step, f.served, f.reason).inc()
            if d.flags:
                self.flagged.labels(m).inc()
            if d.rule is not None:
                self.ruled.labels(m, d.rule).inc()
            self.latency.labels(m).observe(d.latency_ms / 1e3)
            if d.batch_rows:
                self.batch_rows.labels(m).observe(d.batch_rows)
            self.cost.labels(m).inc(d.cost)

    def render(self) -> bytes:
        return generate_latest(self.registry)
