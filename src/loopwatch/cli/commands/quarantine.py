"""``loopwatch quarantine``: the rows that did not land, with their source, position and reason."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from loopwatch.cli import render
from loopwatch.cli.app import Format, FormatOption, SpecOption, StoreOption, command, open_source, parse_time

if TYPE_CHECKING:
    from loopwatch.storage.quarantine import Quarantined


@command()
def quarantine(
    spec: SpecOption = None,
    store: StoreOption = None,
    start: Annotated[str | None, typer.Option(
        "--from", metavar="TIME", help="Rejected at or after (UTC)")] = None,
    end: Annotated[str | None, typer.Option(
        "--to", metavar="TIME", help="Rejected before (UTC; a date includes its whole day)")] = None,
    reason: Annotated[str | None, typer.Option(
        "--reason", metavar="TEXT", help="Only reasons containing TEXT (any case), e.g. a column")] = None,
    limit: Annotated[int, typer.Option(
        "--limit", min=1, help="Rows to list at most (newest first)")] = 50,
    fmt: FormatOption = Format.table,
) -> None:
    """List rejected rows: when, from which file (and line or row), and why."""
    from loopwatch.storage.quarantine import quarantined

    first = parse_time(start, "--from")
    last = parse_time(end, "--to")
    if last is not None and end is not None and len(end.strip()) == 10:  # a date: its whole day
        last += timedelta(days=1)
    _, target = open_source(spec, store)
    found = quarantined(target, start=first, end=last, reason=reason, limit=limit)
    if fmt is Format.json:
        render.print_json({"total": found.total, "rows": [r.to_dict() for r in found.rows]})
        return
    _show(found)


def _show(found: Quarantined) -> None:
    out = render.out()
    if not found.rows:
        out.print("no quarantined rows match", markup=False)
        return
    rows = [[f"{r.received_at:%Y-%m-%d %H:%M}", r.kind, r.source, r.position or "-", r.reason]
            for r in found.rows]
    render.print_tables(render.table(
        [render.Column("received (UTC)", "left"), render.Column("kind", "left"),
         render.Column("source", "left", key=True, wrap=True), render.Column("where", "left"),
         render.Column("reason", "left", wrap=True)], rows), console=out)
    if found.total > len(found.rows):
        out.print(f"{render.count(len(found.rows))} of {render.count(found.total)} rows shown "
                  "(--limit, or --format json for the rows themselves)", markup=False)
