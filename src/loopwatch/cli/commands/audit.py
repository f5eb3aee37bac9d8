"""``loopwatch audit``: the append-only log of every alert state change, with who, what, why and when."""

from __future__ import annotations

from typing import Annotated

import typer

from loopwatch.cli import control, render
from loopwatch.cli.app import Format, FormatOption, SpecOption, StoreOption, command, parse_time


@command()
def audit(
    spec: SpecOption = None,
    store: StoreOption = None,
    alert_id: Annotated[str | None, typer.Option("--alert", metavar="ID",
                                                 help="Only the changes of this alert")] = None,
    start: Annotated[str | None, typer.Option("--from", metavar="TIME",
                                              help="Changes made from this time (UTC)")] = None,
    end: Annotated[str | None, typer.Option("--to", metavar="TIME",
                                            help="Changes made before this time (UTC)")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Show the audit log of the model's alerts: every state change, who made it, why and when."""
    spec_obj, plane = control.open_control(spec, store)
    with plane:
        entries = plane.audit(model=spec_obj.model, alert_id=alert_id, since=parse_time(start, "--from"),
                              until=parse_time(end, "--to"))
    if fmt is Format.json:
        render.print_json({"model": spec_obj.model, "entries": [e.to_dict() for e in entries]})
        return
    if not entries:
        render.out().print(f"{spec_obj.model}: no alert state changes recorded", markup=False)
        return
    columns = [render.Column("at (UTC)", "left", key=True), render.Column("alert"),
               render.Column("action", "left"), render.Column("state", "left"), render.Column("by", "left"),
               render.Column("run", "left"), render.Column("why", "left", wrap=True)]
    cells = [[f"{e.at:%Y-%m-%d %H:%M:%S}", e.alert_id or "-", e.action,
              f"{e.from_state or '-'} → {e.to_state or '-'}", e.actor,
              "-" if e.run_time is None else f"{e.run_time:%Y-%m-%d %H:%M}", e.reason] for e in entries]
    render.print_tables(render.table(columns, cells), title=f"{spec_obj.model} · {len(entries)} change(s)")
