"""``loopwatch report``: one self-contained HTML file, incident first, from profiles and the control plane."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from loopwatch.cli import render
from loopwatch.cli.app import SpecOption, StoreOption, command, open_source, parse_time
from loopwatch.cli.control import open_control


@command()
def report(
    out: Annotated[Path, typer.Option("--out", metavar="FILE", help="The HTML file to write")] = Path(
        "report.html"),
    spec: SpecOption = None,
    store: StoreOption = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", metavar="DAY",
        help="End of the report's window, rounded down to a UTC day \\[default: the end of the last day "
             "with decisions]")] = None,
    days: Annotated[int, typer.Option("--days", min=1, metavar="N", help="Days the report covers")] = 30,
) -> None:
    """Write the HTML report: open alerts with impact, owner and runbook first; then quality per cohort over
    time with intervals, drift by impact, calibration, coverage, volume, the alert timeline and cost.

    One file that opens offline (inline SVG, no script); the same profiles and control plane give the same
    bytes."""
    from loopwatch.report import write_report

    when = parse_time(as_of, "--as-of")
    spec_obj, source = open_source(spec, store)
    _, plane = open_control(spec, store)
    with plane:
        path = write_report(spec_obj, out, store=source, as_of=when, days=days, plane=plane)
    render.out().print(f"wrote {path} ({path.stat().st_size:,} bytes)", markup=False, soft_wrap=True)
