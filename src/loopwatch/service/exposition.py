"""Prometheus exposition of the monitoring loop: open alerts, the outbox, the latest run's figures.

Read from the control plane at every scrape (so a person's ack shows at once),
plus the findings of the latest ``watch`` run held in memory. Names and units per
Prometheus conventions; labels are bounded by the spec: ``kind`` and ``severity``
are fixed sets, ``sink`` the spec's sinks, ``feature``/``cohort``/``entity`` the
subjects the spec's checks can find. Served by ``loopwatch watch --metrics-port``,
or written as a textfile for node_exporter's textfile collector
(``watch --once --metrics-file``; atomic: written beside, then renamed).
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, start_http_server, write_to_textfile
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from loopwatch.core.findings import Finding, Kind, Severity
from loopwatch.storage.control import ControlPlane
from loopwatch.storage.control.outbox import Outbox

__all__ = ["LatestRun", "WatchCollector", "registry", "serve", "write_textfile"]


@dataclass
class LatestRun:
    """What the latest run measured (updated by ``watch`` after each run)."""

    findings: tuple[Finding, ...] = ()
    seconds: float | None = None
    run_time: float | None = None
    checks: tuple[str, ...] = field(default=())


class WatchCollector(Collector):
    """Gauges of one model, read from its control plane at every collection."""

    def __init__(self, plane: ControlPlane, model: str, latest: LatestRun) -> None:
        self.plane = plane
        self.model = model
        self.latest = latest

    def collect(self) -> Iterator[Metric]:
        open_alerts = GaugeMetricFamily("loopwatch_alerts_open", "Live alerts (open, acknowledged, snoozed)",
                                        labels=["model", "kind", "severity", "state"])
        counts: dict[tuple[str, str, str], int] = {
            (kind, str(level), "open"): 0 for kind in typing.get_args(Kind) for level in Severity}
        for a in self.plane.open_alerts(self.model):
            key = (a.kind, str(a.severity), a.state.value)
            counts[key] = counts.get(key, 0) + 1
        for (kind, severity_name, state), n in sorted(counts.items()):
            open_alerts.add_metric([self.model, kind, severity_name, state], n)
        yield open_alerts
        outbox = GaugeMetricFamily("loopwatch_notifications", "Outbox notifications by sink and state",
                                   labels=["model", "sink", "state"])
        for (sink, state), n in sorted(Outbox(self.plane.engine).counts(self.model).items()):
            outbox.add_metric([self.model, sink, state], n)
        yield outbox
        yield from self._figures()

    def _figures(self) -> Iterator[Metric]:
        latest = self.latest
        value = GaugeMetricFamily("loopwatch_finding_value",
                                  "The statistic of each finding of the latest run",
                                  labels=["model", "kind", "statistic", "feature", "cohort", "entity"])
        lower = GaugeMetricFamily("loopwatch_finding_value_lower", "Lower bound of the statistic's interval",
                                  labels=["model", "kind", "statistic", "feature", "cohort", "entity"])
        upper = GaugeMetricFamily("loopwatch_finding_value_upper", "Upper bound of the statistic's interval",
                                  labels=["model", "kind", "statistic", "feature", "cohort", "entity"])
        seen: set[tuple[str, ...]] = set()
        for f in latest.findings:
            labels = [self.model, f.kind, f.statistic, f.feature or "", f.cohort or "", f.entity or ""]
            if tuple(labels) in seen:  # several windows of one subject: the first (shortest) is shown
                continue
            seen.add(tuple(labels))
            value.add_metric(labels, float(f.value))
            if f.interval is not None:
                lower.add_metric(labels, float(f.interval[0]))
                upper.add_metric(labels, float(f.interval[1]))
        yield value
        yield lower
        yield upper
        if latest.seconds is not None:
            duration = GaugeMetricFamily("loopwatch_check_duration_seconds",
                                         "Seconds the latest run's checks took", labels=["model"])
            duration.add_metric([self.model], latest.seconds)
            yield duration
        if latest.run_time is not None:
            stamp = GaugeMetricFamily("loopwatch_last_run_timestamp_seconds",
                                      "End of the day the latest run checked (Unix time)", labels=["model"])
            stamp.add_metric([self.model], latest.run_time)
            yield stamp


def registry(plane: ControlPlane, model: str, latest: LatestRun) -> CollectorRegistry:
    """A registry of its own holding the :class:`WatchCollector` of ``model``."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(WatchCollector(plane, model, latest))
    return reg


def serve(reg: CollectorRegistry, port: int, address: str = "127.0.0.1") -> None:
    """Serve ``reg`` on ``address:port`` at ``/metrics`` from a daemon thread."""
    start_http_server(port, addr=address, registry=reg)


def write_textfile(reg: CollectorRegistry, path: str) -> None:
    """Write ``reg`` for node_exporter's textfile collector (atomically)."""
    write_to_textfile(path, reg)
