"""``loopwatch check``: every registered check for the window ending at ``--as-of``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from loopwatch.cli import render
from loopwatch.cli.app import (
    ChecksOption,
    Format,
    FormatOption,
    SpecOption,
    StoreOption,
    check_names,
    command,
    open_source,
    parse_time,
)

if TYPE_CHECKING:
    from loopwatch.core.alerts import AlertDraft
    from loopwatch.monitoring.job import CheckRun


@command(act="a finding pages")
def check(
    spec: SpecOption = None,
    store: StoreOption = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", metavar="TIME",
        help="End of the window checked (UTC; rounded down to a day) \\[default: now]")] = None,
    only: ChecksOption = None,
    show_info: Annotated[bool, typer.Option("--info", help="Also list info-level findings")] = False,
    raw: Annotated[bool, typer.Option(
        "--findings", help="List the findings one by one instead of grouped into alerts")] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Run every check for the window ending at --as-of, grouped into one alert per cause;
    exit 1 when one pages. Read-only: it changes no alert state."""
    from loopwatch.monitoring.alert_policy import group_findings
    from loopwatch.monitoring.job import run_checks

    when = parse_time(as_of, "--as-of") or datetime.now(UTC)
    spec_obj, target = open_source(spec, store)
    names = check_names(only)
    with render.progress() as progress:
        task = progress.add_task("profiling days", total=None)
        run = run_checks(spec_obj, as_of=when, store=target, checks=names,
                         on_progress=lambda done, total: progress.update(task, completed=done, total=total))
    drafts = group_findings(run.findings, spec=spec_obj)
    if fmt is Format.json:
        render.print_json({**run.to_dict(), "alerts": [d.to_dict() for d in drafts]})
    else:
        _show(spec_obj.model, run, drafts, show_info=show_info, raw=raw)
    raise typer.Exit(run.exit_code)


def _show(model: str, run: CheckRun, drafts: list[AlertDraft], *, show_info: bool,
          raw: bool) -> None:
    from loopwatch.core.findings import Severity

    out = render.out()
    counts = {s: sum(f.severity == s for f in run.findings) for s in Severity}
    alerts = {s: sum(d.severity == s for d in drafts) for s in Severity}
    out.print(f"{model} · {run.current.start:%Y-%m-%d} → {run.current.end:%Y-%m-%d} · "
              f"{alerts[Severity.PAGE]} page, {alerts[Severity.WARNING]} warning alert"
              f"{'s' if len(drafts) != 1 else ''} from {counts[Severity.PAGE]} page, "
              f"{counts[Severity.WARNING]} warning, {counts[Severity.INFO]} info findings "
              f"({render.count(run.tests)} tests, {run.seconds:.1f} s)", markup=False, style="bold")
    shown = [f for f in run.findings if show_info or f.severity > Severity.INFO]
    if not shown and not drafts:
        out.print("healthy: nothing to report", markup=False)
        return
    out.print()
    if raw:
        out.print(render.findings(shown))
        return
    if drafts:
        out.print(render.alerts(drafts))
    info = [f for f in run.findings if f.severity == Severity.INFO]
    if show_info and info:
        out.print()
        out.print(render.findings(info))
    elif info or drafts:
        out.print(f"\n--findings lists the {len(shown)} findings one by one", markup=False,
                  style="dim")
