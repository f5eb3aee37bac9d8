"""``loopwatch ingest``: load decisions or outcomes from files; bad rows go to quarantine."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from loopwatch.cli import render
from loopwatch.cli.app import ExitCode, Format, FormatOption, SpecOption, StoreOption, command, open_store

if TYPE_CHECKING:
    from rich.progress import TaskID

    from loopwatch.storage.ingest import IngestReport


class TableKind(StrEnum):
    decisions = "decisions"
    outcomes = "outcomes"


@command(act="rows were quarantined")
def ingest(
    kind: Annotated[TableKind, typer.Argument(
        metavar="KIND", help="What the files hold: decisions or outcomes")],
    files: Annotated[list[Path], typer.Argument(metavar="FILE", help="CSV, Parquet or JSON Lines files")],
    spec: SpecOption = None,
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Load decisions or outcomes from files. Bad rows go to quarantine with a reason.

    Exits 1 when some rows were quarantined, so a pipeline notices. A file without a
    column the spec declares (a feature, a cohort, the action) is a warning naming it.
    """
    from loopwatch.storage.ingest import ingest_file, orphan_outcomes

    _, target = open_store(spec, store)
    reports = []
    with render.progress() as progress:
        for path in files:
            task = progress.add_task(path.name, total=None)

            def advance(done: int, total: int, task: TaskID = task) -> None:
                progress.update(task, completed=done, total=total)

            reports.append(ingest_file(target, "decisions" if kind is TableKind.decisions else "outcomes",
                                       path, on_progress=advance))
    orphans = orphan_outcomes(target) if kind is TableKind.outcomes else None
    if fmt is Format.json:
        render.print_json({"files": [{
            "file": r.source, "rows_read": r.rows_read, "written": r.result.written,
            "duplicates": r.result.duplicates, "quarantined": r.result.quarantined,
            "reasons": dict(r.result.reasons), "unknown_columns": list(r.result.unknown_columns),
            "missing_columns": list(r.missing_columns),
        } for r in reports], **({"outcomes_without_decision": orphans.count,
                                 "examples": list(orphans.examples)} if orphans else {})})
    else:
        _show(reports)
        if orphans and orphans.count:
            render.err().print(
                f"warning: {render.count(orphans.count)} stored outcomes name a decision id with no "
                f"stored decision (e.g. {', '.join(map(repr, orphans.examples))}); they join when "
                "their decision arrives", markup=False)
    if any(r.result.quarantined for r in reports):
        raise typer.Exit(ExitCode.ACT)


def _show(reports: list[IngestReport]) -> None:
    out = render.out()
    columns = [render.Column("file", "left", key=True), render.Column("rows read"), render.Column("written"),
               render.Column("duplicates ignored"), render.Column("quarantined")]
    rows = [[r.source, render.count(r.rows_read), render.count(r.result.written),
             render.count(r.result.duplicates), render.count(r.result.quarantined)] for r in reports]
    render.print_tables(render.table(columns, rows), console=out)
    for r in reports:
        for reason, n in r.result.reasons.most_common(10):
            out.print(f"  {r.source}: quarantined {render.count(n)} × {reason}", markup=False)
        hidden = len(r.result.reasons) - 10
        if hidden > 0:
            out.print(f"  {r.source}: {hidden:,} more reasons (--format json lists every one)", markup=False)
        if r.missing_columns:
            render.err().print(f"warning: {r.source}: no column {', '.join(map(repr, r.missing_columns))}, "
                               "which the spec declares; stored as missing in every row", markup=False)
        if r.result.unknown_columns:
            out.print(f"  {r.source}: ignored columns not in the spec: {', '.join(r.result.unknown_columns)}",
                      markup=False)
