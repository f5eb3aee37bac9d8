"""``loopwatch alerts``: list, show, acknowledge, resolve and snooze alerts; MTTD and MTTR per kind."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from loopwatch.cli import control, render
from loopwatch.cli.app import (
    ExitCode,
    Format,
    FormatOption,
    SpecOption,
    StoreOption,
    command,
    parse_time,
    usage_error,
)
from loopwatch.core.spec import parse_duration

if TYPE_CHECKING:
    from loopwatch.core.alerts import Alert
    from loopwatch.storage.control import ControlPlane


class Action(StrEnum):
    """What ``loopwatch alerts`` does."""

    list = "list"
    show = "show"
    ack = "ack"
    resolve = "resolve"
    snooze = "snooze"
    stats = "stats"
    deliveries = "deliveries"


@command(act="an alert pages and is not acknowledged")
def alerts(
    action: Annotated[Action, typer.Argument(
        help="list (live alerts), show ID, ack ID, resolve ID, snooze ID --until, stats, "
             "deliveries")] = Action.list,
    alert_id: Annotated[str | None, typer.Argument(
        metavar="[ID]", help="The alert of show, ack, resolve and snooze", show_default=False)] = None,
    spec: SpecOption = None,
    store: StoreOption = None,
    show_all: Annotated[bool, typer.Option(
        "--all", help="list: include resolved alerts; deliveries: include delivered ones")] = False,
    by: Annotated[str | None, typer.Option(
        "--by", metavar="NAME", help="Who acts, for the audit log \\[default: the current user]")] = None,
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT",
                                        help="Why, for the audit log")] = "",
    until: Annotated[str | None, typer.Option(
        "--until", metavar="TIME|DURATION",
        help="snooze: until this time (UTC), or for a duration such as 12h or 2d")] = None,
    start: Annotated[str | None, typer.Option(
        "--from", metavar="TIME", help="stats: alerts raised from this time \\[default: all]")] = None,
    end: Annotated[str | None, typer.Option(
        "--to", metavar="TIME", help="stats: alerts raised before this time \\[default: now]")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """List, show, acknowledge, resolve or snooze alerts, their MTTD and MTTR per kind, or their
    notifications (deliveries); exit 1 while a page-level alert is open and not acknowledged (deliveries:
    while a notification is dead-lettered)."""
    needs_id = action in (Action.show, Action.ack, Action.resolve, Action.snooze)
    if needs_id and alert_id is None:
        usage_error("ID", f"alerts {action} needs the id of an alert (see `loopwatch alerts list`)")
    if not needs_id and alert_id is not None:
        usage_error("ID", f"alerts {action} takes no alert id; got {alert_id!r}")
    if action is Action.snooze and until is None:
        usage_error("--until", "alerts snooze needs --until TIME or a duration such as 12h")
    spec_obj, plane = control.open_control(spec, store)
    with plane:
        if action is Action.stats:
            _stats(plane, spec_obj.model, start, end, fmt)
            return
        if action is Action.deliveries:
            raise typer.Exit(_deliveries(plane, spec_obj.model, show_all, fmt))
        if action is Action.list:
            found = plane.alerts(model=spec_obj.model, include_resolved=show_all)
            _print(found, fmt, title=f"{spec_obj.model} · {len(found)} alert(s)"
                   + ("" if show_all else " open, acknowledged or snoozed"))
            raise typer.Exit(_exit(found))
        assert alert_id is not None
        who = control.actor(by)
        if action is Action.show:
            found_one = plane.alert(alert_id)
        elif action is Action.ack:
            found_one = plane.acknowledge(alert_id, actor=who, reason=reason)
        elif action is Action.resolve:
            found_one = plane.resolve(alert_id, actor=who, reason=reason)
        else:
            found_one = plane.snooze(alert_id, until=_until(until), actor=who, reason=reason)
        if action is not Action.show:
            found_one = plane.alert(alert_id)
        _print([found_one], fmt, title=None, findings=True)


def _until(text: str | None) -> datetime:
    assert text is not None
    try:
        return datetime.now(UTC) + parse_duration(text)
    except ValueError:
        when = parse_time(text, "--until")
        assert when is not None
        return when


def _exit(found: list[Alert] | tuple[Alert, ...]) -> int:
    from loopwatch.core.alerts import AlertState
    from loopwatch.core.findings import Severity

    loud = [a for a in found if a.state is AlertState.OPEN and a.severity == Severity.PAGE]
    return ExitCode.ACT if loud else ExitCode.OK


def _print(found: list[Alert] | tuple[Alert, ...], fmt: Format, *, title: str | None,
           findings: bool = False) -> None:
    if fmt is Format.json:
        render.print_json({"alerts": [a.to_dict() for a in found]})
        return
    out = render.out()
    if title:
        out.print(title, style="bold", markup=False)
    if not found:
        out.print("no alerts", markup=False)
        return
    out.print(control.alerts(found))
    if findings:
        for a in found:
            grouped = [f for f in a.findings if not f.get("suppressed")]
            suppressed = [f for f in a.findings if f.get("suppressed")]
            out.print()
            out.print(f"{len(grouped)} finding(s) grouped, {len(suppressed)} suppressed, "
                      f"in the latest run that saw it ({a.last_seen:%Y-%m-%d %H:%M})",
                      markup=False, style="bold")
            for f in a.findings:
                mark = "suppressed · " if f.get("suppressed") else ""
                where = " · ".join(str(f[k]) for k in ("feature", "cohort", "entity") if f.get(k)) or "all"
                out.print(f"  {f['severity']:<7} {mark}{f['kind']} · {where} · {f['window']['start'][:10]}"
                          f" → {f['window']['end'][:10]}: {f['message']}", markup=False)


def _stats(plane: ControlPlane, model: str, start: str | None, end: str | None, fmt: Format) -> None:
    from loopwatch.storage.control import alert_stats

    begin = parse_time(start, "--from")
    finish = parse_time(end, "--to") or datetime.now(UTC)
    if begin is not None and begin >= finish:
        usage_error("--from", f"must be before --to ({finish.isoformat()}); got {begin.isoformat()}")
    rows = alert_stats(plane.alerts(model=model, include_resolved=True, raised_from=begin, raised_to=finish))
    if fmt is Format.json:
        render.print_json({"model": model, "from": None if begin is None else begin.isoformat(),
                           "to": finish.isoformat(), "kinds": [r.to_dict() for r in rows]})
        return
    def hours(value: float | None) -> str:
        return render.number(value, digits=3)

    columns = [render.Column("kind", "left", key=True), render.Column("raised"), render.Column("pages"),
               render.Column("resolved"), render.Column("open"), render.Column("MTTD h (mean)"),
               render.Column("MTTD h (median)"), render.Column("MTTR h (mean)"),
               render.Column("MTTR h (median)")]
    cells = [[r.kind, render.count(r.raised), render.count(r.pages), render.count(r.resolved),
              render.count(r.open), hours(r.mttd_hours), hours(r.mttd_median_hours), hours(r.mttr_hours),
              hours(r.mttr_median_hours)] for r in rows]
    span = f"{begin:%Y-%m-%d}" if begin else "the first alert"
    title = f"{model} · alerts raised from {span} to {finish:%Y-%m-%d %H:%M}"
    if not rows:
        render.out().print(f"{title}: none", markup=False)
        return
    render.print_tables(render.table(columns, cells), title=title)


def _deliveries(plane: ControlPlane, model: str, show_all: bool, fmt: Format) -> int:
    """The outbox: pending and dead notifications (all with --all), newest first; 1 if any is dead."""
    from loopwatch.storage.control.outbox import Outbox

    box = Outbox(plane.engine)
    rows = box.deliveries(model=model, states=None if show_all else ("pending", "dead"))
    counts = box.counts(model)
    dead = sum(n for (_, state), n in counts.items() if state == "dead")
    if fmt is Format.json:
        render.print_json({"model": model, "deliveries": [d.to_dict() for d in rows],
                           "counts": [{"sink": k[0], "state": k[1], "n": n}
                                      for k, n in sorted(counts.items())]})
        return ExitCode.ACT if dead else ExitCode.OK
    out = render.out()
    summary = ", ".join(f"{sink} {state} {n}" for (sink, state), n in sorted(counts.items())) or "none"
    out.print(f"{model} · notifications per sink: {summary}", markup=False, style="bold")
    if not rows:
        out.print("nothing pending or dead" if not show_all else "no notifications", markup=False)
        return ExitCode.ACT if dead else ExitCode.OK
    columns = [render.Column("id", key=True), render.Column("sink", "left"), render.Column("alert"),
               render.Column("event", "left"), render.Column("state", "left"), render.Column("attempts"),
               render.Column("next attempt", "left"), render.Column("last error", "left", wrap=True)]
    cells = [[str(d.id), d.sink, f"#{d.alert_id}", f"{d.event} ({d.action})", d.state, str(d.attempts),
              f"{d.next_attempt_at:%Y-%m-%d %H:%M:%S}" if d.state == "pending" else "-",
              (d.last_error or "")[:120]] for d in rows]
    render.print_tables(render.table(columns, cells), title=None)
    return ExitCode.ACT if dead else ExitCode.OK
