"""``loopwatch effect``: what the model changes, from its randomized holdout, per cohort."""

from __future__ import annotations

from typing import Annotated

import typer

from loopwatch.cli import render
from loopwatch.cli.app import (
    Format,
    FormatOption,
    SpecOption,
    StoreOption,
    command,
    open_source,
    parse_time,
    usage_error,
)


@command()
def effect(
    start: Annotated[str, typer.Option("--from", metavar="TIME", help="First decision time, inclusive")],
    end: Annotated[str, typer.Option("--to", metavar="TIME", help="Last decision time, exclusive")],
    spec: SpecOption = None,
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """The model's effect on outcomes: model-decided minus holdout decisions, weighted, per cohort."""
    from loopwatch.core.window import Window
    from loopwatch.learning.model_effect import model_effect

    first, last = parse_time(start, "--from"), parse_time(end, "--to")
    assert first is not None and last is not None  # required options
    if last <= first:
        usage_error("--to", f"must be after --from ({first.isoformat()}); got {last.isoformat()}")
    spec_obj, source = open_source(spec, store)
    report = model_effect(spec_obj, Window(first, last), store=source)
    if fmt is Format.json:
        render.print_json(report.to_dict())
        return
    number = render.number
    columns = [render.Column("cohort", "left", key=True), render.Column("outcome", "left"),
               render.Column("model"), render.Column("holdout"), render.Column("effect"),
               render.Column("95% interval"), render.Column("n model"), render.Column("n holdout")]
    rows: list[list[render.Cell]] = []
    for row in report.rows():
        interval = ("not enough data" if row["status"] != "ok"
                    else render.interval(row["low"], row["high"], number))
        rows.append([row["cohort"], row["outcome"], number(row["model"]), number(row["holdout"]),
                     number(row["effect"]), interval, render.count(row["n_model"]),
                     render.count(row["n_holdout"])])
    state = "labels mature" if report.mature else "LABELS NOT MATURE: effects on outcomes will move"
    count = render.count
    title = (f"{report.model}: model minus holdout, {report.window} ({count(report.labelled)} labelled "
             f"of {count(report.decisions)} decisions; {count(report.excluded_canary)} canary left out; "
             f"{state}); outcomes in {report.currency} per decision")
    render.print_tables(render.table(columns, rows), title=title)
