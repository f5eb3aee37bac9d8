"""``loopwatch inventory``: the day 1–2 baseline of one model, each unknown marked as a gap."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from loopwatch.cli import render
from loopwatch.cli.app import Format, FormatOption, SpecOption, StoreOption, command, open_source, parse_time
from loopwatch.cli.control import open_control


@command()
def inventory(
    spec: SpecOption = None,
    store: StoreOption = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", metavar="DAY",
        help="End of the days looked at, rounded down to a UTC day \\[default: the end of the last day "
             "with decisions]")] = None,
    days: Annotated[int, typer.Option("--days", min=1, metavar="N",
                                      help="Days of logs the figures rest on")] = 7,
    fmt: FormatOption = Format.table,
) -> None:
    """The model's baseline: inputs to actions, where it runs (rate, tail latency), owners, quality, system
    and business figures, and how we would know it misbehaves, roll it back and who is harmed.

    Answered from the spec, the logs (profiles) and the control plane; what none of them holds is a gap."""
    from loopwatch.report import gather
    from loopwatch.report.inventory import build_inventory
    from loopwatch.storage.control.registry import ModelRegistry

    when = parse_time(as_of, "--as-of")
    spec_obj, source = open_source(spec, store)
    _, plane = open_control(spec, store)
    with plane:
        inputs = gather(spec_obj, store=source, as_of=when, days=days, plane=plane)
        registry = ModelRegistry(plane.engine).versions(spec_obj.model)
    found = build_inventory(inputs, registry)
    if fmt is Format.json:
        render.print_json(found.to_dict())
        return
    console = render.out()
    console.print(f"{found.model}: {found.start:%Y-%m-%d} to {found.end:%Y-%m-%d} (exclusive)", style="bold",
                  markup=False)
    for section in found.sections:
        rows = [[item.label, Text("GAP: ", style="bold yellow") + Text(item.text) if item.gap else item.text,
                 item.source] for item in section.items]
        console.print()
        render.print_tables(render.table([render.Column("what", "left", key=True),
                                          render.Column("answer", "left", wrap=True),
                                          render.Column("from", "left")], rows), title=section.title)
    console.print()
    console.print(f"{len(found.gaps)} gap(s): what the spec, the logs and the control plane cannot tell.",
                  markup=False)
