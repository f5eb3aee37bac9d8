"""``loopwatch watch``: checks, the alert policy and the control plane, once (for cron) or on a schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from loopwatch.cli import control, render
from loopwatch.cli.app import (
    Format,
    FormatOption,
    SpecOption,
    StoreOption,
    command,
    open_store,
    parse_time,
    usage_error,
)

if TYPE_CHECKING:
    from loopwatch.monitoring.watch import WatchRun


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
    only: Annotated[str | None, typer.Option(
        "--checks", metavar="NAME,...",
        help="Comma-separated checks to run \\[default: every registered check]")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Run the checks, group findings into alerts and keep their state; exit 1 (with --once) while a
    page-level alert is open and not acknowledged."""
    from loopwatch.core.spec import parse_duration
    from loopwatch.monitoring.checks import CHECKS
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
    names = [n.strip() for n in only.split(",") if n.strip()] if only else None
    for name in names or ():
        try:
            CHECKS.get(name)
        except ValueError as exc:
            usage_error("--checks", str(exc))
    when = parse_time(as_of, "--as-of") or datetime.now(UTC)
    spec_obj, plane = control.open_control(spec, store)
    with plane:
        _, target = open_store(spec, store)
        if period is None:
            run = watch_once(spec_obj, as_of=when, plane=plane, store=target, checks=names)
            _show(spec_obj.model, run, fmt)
            raise typer.Exit(run.exit_code)
        render.err().print(f"watching {spec_obj.model} every {every}; Ctrl-C stops", markup=False)
        watch_every(spec_obj, plane=plane, every=period, store=target, checks=names,
                    clock=lambda: datetime.now(UTC), on_run=lambda r: _show(spec_obj.model, r, fmt))


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
