"""``loopwatch compare``: which features drifted between two sets of decision files, without a store."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from loopwatch.cli import render
from loopwatch.cli.app import Format, FormatOption, SpecOption, command, load, settings

if TYPE_CHECKING:
    from loopwatch.monitoring.compare import Comparison


@command(act="a feature drifted")
def compare(
    reference: Annotated[list[str], typer.Option(
        "--reference", metavar="PATH",
        help="Reference CSV, Parquet or JSON Lines files, directories or glob patterns (repeatable)")],
    current: Annotated[list[str], typer.Option(
        "--current", metavar="PATH",
        help="Current CSV, Parquet or JSON Lines files, directories or glob patterns (repeatable)")],
    spec: SpecOption = None,
    fdr: Annotated[float, typer.Option(
        "--fdr", min=0.0, max=1.0, help="False discovery rate across the features")] = 0.05,
    fmt: FormatOption = Format.table,
) -> None:
    """Which features drifted between two sets of decision files (no store needed); exit 1 when one did.

    Files are read as ``ingest`` reads them (CSV, Parquet, JSON Lines; the same types
    and checks); invalid rows are skipped and counted on standard error.
    """
    from loopwatch.monitoring.compare import compare_files

    engine_memory = settings().engine_memory
    spec_obj = load(spec)
    with render.progress() as progress:
        progress.add_task("comparing", total=None)
        result = compare_files(spec_obj, reference, current, fdr=fdr, engine_memory=engine_memory)
    for side, reasons in result.skipped.items():
        if reasons:  # as ingest would quarantine them; said on stderr, the result stands
            worst = ", ".join(f"{reason} ({count:,})" for reason, count in reasons.most_common(3))
            render.err().print(f"warning: {sum(reasons.values()):,} {side} rows skipped as invalid: "
                               f"{worst}", markup=False, soft_wrap=True)
    if fmt is Format.json:
        render.print_json(result.to_dict())
    else:
        _show(spec_obj.model, result)
    raise typer.Exit(result.exit_code)


def _show(model: str, result: Comparison) -> None:
    out = render.out()
    ref, cur = result.reference, result.current
    out.print(f"{model} · reference {render.count(ref.n)} decisions ({ref.start:%Y-%m-%d} → "
              f"{ref.end:%Y-%m-%d}) · current {render.count(cur.n)} ({cur.start:%Y-%m-%d} → "
              f"{cur.end:%Y-%m-%d}) · {result.seconds:.1f} s", markup=False, style="bold")
    out.print()
    stat = partial(render.number, digits=3)
    rows = [[f.feature, Text("yes", style="bold red") if f.drifted else "no", stat(f.effect), stat(f.p_value),
             stat(f.stats.psi), f.kind]
            for f in sorted(result.features, key=lambda f: (not f.drifted, -f.effect))]
    render.print_tables(render.table(
        [render.Column("feature", "left", key=True), render.Column("drifted", "left"),
         render.Column("effect"), render.Column("p-value"), render.Column("PSI"),
         render.Column("kind", "left")], rows), console=out)
    drifted = result.drifted
    out.print(f"{len(drifted)} of {len(result.features)} features drifted"
              + (f": {', '.join(drifted)}" if drifted else ""), markup=False)
