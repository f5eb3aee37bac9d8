"""``loopwatch watch``: checks, the alert policy and the control plane, once (for cron) or on a schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loopwatch.cli import control, render
from loopwatch.cli.app import (
    ChecksOption,
    Format,
    FormatOption,
    SpecOption,
    StoreOption,
    check_names,
    command,
    parse_time,
    source_of,
    usage_error,
)

if TYPE_CHECKING:
    from loopwatch.core.spec import Spec
    from loopwatch.monitoring.watch import WatchRun
    from loopwatch.storage.control import ControlPlane


@command(act="an alert pages and is not acknowledged")
def watch(
    spec: SpecOption = None,
    store: StoreOption = None,
    once: Annotated[bool, typer.Option("--once", help="One run, for cron or Airflow, then exit")] = False,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", metavar="TIME",
        help="--once: the end of the day checked (UTC; rounded down to a day) \\[default: now]")] = None,
    every: Annotated[str | None, typer.Option(
        "--every", metavar="DURATION",
        help="Look for newly completed days this often (1d, 1h...), catching up missed days")] = None,
    only: ChecksOption = None,
    metrics_port: Annotated[int | None, typer.Option(
        "--metrics-port", metavar="PORT", min=1, max=65535,
        help="--every: serve Prometheus metrics on 127.0.0.1:PORT/metrics")] = None,
    metrics_file: Annotated[str | None, typer.Option(
        "--metrics-file", metavar="PATH",
        help="Write Prometheus metrics to PATH after each run (node_exporter's textfile collector)")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Run the checks, group findings into alerts and keep their state; exit 1 (with --once) while a
    page-level alert is open and not acknowledged."""
    from loopwatch.core.spec import parse_duration
    from loopwatch.monitoring.watch import watch_every, watch_once

    if once == (every is not None):
        usage_error("--once", "give either --once (one run) or --every DURATION (a schedule)")
    if as_of is not None and not once:
        usage_error("--as-of", "only with --once; --every always checks the days that are due")
    period = None
    if every is not None:
        try:
            period = parse_duration(every)
        except ValueError as exc:
            usage_error("--every", str(exc))
    names = check_names(only)
    if metrics_port is not None and once:
        usage_error("--metrics-port", "only with --every; with --once write --metrics-file for node_exporter")
    when = parse_time(as_of, "--as-of") or datetime.now(UTC)
    spec_obj, plane = control.open_control(spec, store)
    with plane:
        target = source_of(spec_obj, store)
        _missing_secrets(spec_obj)
        exposition = _Exposition(spec_obj.model, plane, metrics_port, metrics_file)
        if period is None:
            run = watch_once(spec_obj, as_of=when, plane=plane, store=target, checks=names)
            _show(spec_obj.model, run, fmt)
            _rollout(spec_obj, plane, target)
            _flush(spec_obj, plane)
            exposition.update(run)
            raise typer.Exit(run.exit_code)
        render.err().print(f"watching {spec_obj.model} every {every}; Ctrl-C stops", markup=False)

        def shown(r: WatchRun) -> None:
            _show(spec_obj.model, r, fmt)
            exposition.update(r)
            _rollout(spec_obj, plane, target)
            _flush(spec_obj, plane, wait=False)

        _worker(spec_obj, plane)
        watch_every(spec_obj, plane=plane, every=period, store=target, checks=names,
                    clock=lambda: datetime.now(UTC), on_run=shown)


def _rollout(spec: Spec, plane: ControlPlane, source: Any) -> None:
    """With ``rollout.automatic``, take the rollout policy's step after the run (a run's pages count)."""
    if not spec.rollout.automatic or spec.serving is None:
        return
    from loopwatch.learning.rollout import apply, plan

    step = apply(spec, plane, plan(spec, plane, source), actor="watch")
    if step.verdict in ("advance", "rollback"):
        render.err().print(f"rollout of version {step.challenger}: {step.verdict}: {'; '.join(step.reasons)}",
                           markup=False)
    if step.alias:
        render.err().print(step.alias, markup=False)


def _show(model: str, run: WatchRun, fmt: Format) -> None:
    if fmt is Format.json:
        render.print_json(run.to_dict())
        return
    out = render.out()
    day = f"{run.run_time:%Y-%m-%d}"
    if not run.result.applied:
        out.print(f"{model} · day ending {day} was already applied: nothing changed", markup=False,
                  style="bold")
    else:
        found = 0 if run.check is None else len(run.check.findings)
        out.print(f"{model} · day ending {day} · {render.count(found)} findings → "
                  f"{render.count(len(run.drafts))} alert(s) this run", markup=False, style="bold")
        for t in run.result.transitions:
            out.print(f"  #{t.alert_id} {t.action} ({t.severity}): {t.reason}", markup=False)
    live = run.result.alerts
    out.print(f"{len(live)} live alert(s)" + (":" if live else ""), markup=False)
    if live:
        out.print(control.alerts(live))


def _missing_secrets(spec: Spec) -> None:
    """Say on stderr which sink lacks its environment variable (its notifications wait, retried)."""
    import os

    for sink in spec.alerts.sinks:
        for name in (sink.url_env, sink.secret_env, sink.routing_key_env):
            if name and not os.environ.get(name):
                render.err().print(f"warning: sink {sink.key}: the environment variable {name} is not set; "
                                   "its notifications stay pending until it is", markup=False)


def _flush(spec: Spec, plane: ControlPlane, *, wait: bool = True) -> None:
    """Deliver what is pending, waiting at most ``alerts.flush_seconds`` (retries left for the next run),
    then post the live alerts to Alertmanager sinks again so that they keep firing there."""
    if not spec.alerts.sinks:
        return
    from loopwatch.delivery import deliver, describe
    from loopwatch.delivery.worker import repost_live
    from loopwatch.storage.control.outbox import Outbox

    box = Outbox(plane.engine)
    report = deliver(box, spec.alerts, within=None if wait else 0)
    render.err().print(describe(report), markup=False)
    repost_live(box, spec.alerts, live={a.id for a in plane.open_alerts(spec.model)})


def _worker(spec: Spec, plane: ControlPlane) -> None:
    """A daemon thread that drains the outbox while ``watch --every`` waits between runs."""
    if not spec.alerts.sinks:
        return
    import threading
    import time

    from loopwatch.delivery import deliver
    from loopwatch.storage.control.outbox import Outbox

    def loop() -> None:
        box = Outbox(plane.engine)
        while True:
            deliver(box, spec.alerts, within=spec.alerts.retry_max_seconds)
            time.sleep(1.0)

    threading.Thread(target=loop, name="loopwatch-delivery", daemon=True).start()


class _Exposition:
    """Prometheus metrics of the loop: served on a port and/or written to a textfile after each run."""

    def __init__(self, model: str, plane: ControlPlane, port: int | None, path: str | None) -> None:
        self.path = path
        self.enabled = port is not None or path is not None
        if not self.enabled:
            return
        try:
            from loopwatch.service.exposition import LatestRun, registry, serve
        except ImportError as exc:
            usage_error("--metrics-port" if port else "--metrics-file",
                        f"needs prometheus-client: pip install 'loopwatch[serve]' ({exc})")
        self.latest = LatestRun()
        self.registry = registry(plane, model, self.latest)
        if port is not None:
            serve(self.registry, port)

    def update(self, run: WatchRun) -> None:
        if not self.enabled:
            return
        from loopwatch.service.exposition import write_textfile

        if run.check is not None:
            self.latest.findings = run.check.findings
            self.latest.seconds = run.check.seconds
        self.latest.run_time = run.run_time.timestamp()
        if self.path is not None:
            write_textfile(self.registry, self.path)
