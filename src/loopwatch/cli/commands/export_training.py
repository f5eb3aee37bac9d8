"""``loopwatch export-training``: decisions joined with the outcomes known at a cut-off, as Parquet."""

from __future__ import annotations

from pathlib import Path
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
def export_training(
    start: Annotated[str, typer.Option("--from", metavar="TIME",
                                       help="First decision time (UTC unless it names a zone), inclusive")],
    end: Annotated[str, typer.Option("--to", metavar="TIME", help="Last decision time, exclusive")],
    as_of: Annotated[str, typer.Option(
        "--as-of", metavar="TIME",
        help="The cut-off: only outcomes observed before it are joined; --to must not be after it")],
    out: Annotated[Path, typer.Option("--out", metavar="FILE", help="The Parquet file to write")],
    min_age: Annotated[str | None, typer.Option(
        "--min-age", metavar="DURATION",
        help="Keep only decisions at least this old at the cut-off (e.g. 30d), whose labels had time "
             "to arrive")] = None,
    include_unlabelled: Annotated[bool, typer.Option(
        "--include-unlabelled", help="Keep decisions with no outcome by the cut-off (label null)")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace FILE if it exists")] = False,
    spec: SpecOption = None,
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Write point-in-time training rows: decisions with the outcomes known at the cut-off."""
    from loopwatch.core.durations import parse_duration
    from loopwatch.core.window import Window
    from loopwatch.learning.training_data import export_training as export

    first, last, cut = parse_time(start, "--from"), parse_time(end, "--to"), parse_time(as_of, "--as-of")
    assert first is not None and last is not None and cut is not None  # required options
    if last <= first:
        usage_error("--to", f"must be after --from ({first.isoformat()}); got {last.isoformat()}")
    if last > cut:
        usage_error("--to", f"{last.isoformat()} is after the cut-off --as-of {cut.isoformat()}: "
                            "decisions made after the cut-off would leak in")
    age = None
    if min_age is not None:
        try:
            age = parse_duration(min_age)
        except ValueError as exc:
            usage_error("--min-age", str(exc))
    _, source = open_source(spec, store)
    written = export(source, Window(first, last), as_of=cut, out=out, min_age=age,
                     include_unlabelled=include_unlabelled, overwrite=overwrite)
    if fmt is Format.json:
        render.print_json(written.to_dict())
        return
    data = written.to_dict()
    count = render.count
    render.out().print(
        f"wrote {count(written.rows)} rows to {written.path}: decisions "
        f"{written.window.start:%Y-%m-%d %H:%M} to {written.window.end:%Y-%m-%d %H:%M} UTC "
        f"with the outcomes observed before {written.as_of:%Y-%m-%d %H:%M} UTC "
        f"({count(written.labelled)} of {count(written.decisions)} labelled, "
        f"{render.percent(data['label_coverage'])}; {count(written.positives)} positive; "
        f"{count(written.excluded_unlabelled)} unlabelled left out)", markup=False, soft_wrap=True)
