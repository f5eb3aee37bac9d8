"""``loopwatch tail``: where the slowest decisions spend time, rarely decisive features, batching, cost."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from loopwatch.cli import render
from loopwatch.cli.app import Format, FormatOption, SpecOption, StoreOption, command, open_source, parse_time
from loopwatch.cli.commands.serve import LoopOption

if TYPE_CHECKING:
    from loopwatch.service.serving_report import ServingReport


@command()
def tail(
    spec: SpecOption = None,
    store: StoreOption = None,
    loop: LoopOption = None,
    start: Annotated[str | None, typer.Option("--from", help="First time (UTC), inclusive")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last time (UTC), exclusive")] = None,
    share: Annotated[float, typer.Option("--share", min=0.001, max=0.5,
                                         help="Share of slowest decisions analysed")] = 0.05,
    fmt: FormatOption = Format.table,
) -> None:
    """Where the slowest decisions spend their time, features that rarely matter, batching, cost."""
    from loopwatch.service.server import load_loop
    from loopwatch.service.serving_report import serving_report

    first, last = parse_time(start, "--from"), parse_time(end, "--to")
    spec_obj, target = open_source(spec, store)
    wanted = loop or (spec_obj.serving.loop if spec_obj.serving else None)
    decision_loop = load_loop(spec_obj, wanted) if wanted else None
    report = serving_report(spec_obj, target, start=first, end=last, loop=decision_loop, tail=share)
    if fmt is Format.json:
        render.print_json(report.to_dict())
    else:
        _show(report)


def _show(report: ServingReport) -> None:
    out = render.out()
    t = report.tail
    ms = render.number
    out.print(f"{report.model} · {report.start:%Y-%m-%d %H:%M} → {report.end:%Y-%m-%d %H:%M} · slowest "
              f"{render.percent(t.tail_share)} of {render.count(t.decisions)} decisions "
              f"(≥ {ms(t.latency_cut_ms)} ms)", markup=False, style="bold")
    out.print()
    render.print_tables(render.table(
        [render.Column("step", "left", key=True), render.Column("tail ms"), render.Column("others ms"),
         render.Column("share of tail")],
        [[s.step, ms(s.tail_ms), ms(s.body_ms), render.percent(s.tail_share)] for s in t.steps]), console=out)
    if t.features:
        render.print_tables(render.table(
            [render.Column("feature", "left", key=True), render.Column("mean ms"),
             render.Column("share of feature time"), render.Column("decisions changed at fallback"),
             render.Column("verdict", "left", wrap=True)],
            [[f.feature, ms(f.mean_ms), render.percent(f.time_share), render.percent(f.flip_rate),
              "expensive, rarely decisive" if f.rarely_decisive else ""] for f in t.features]),
            title="computed features", console=out)
    b = t.batching
    verdict = {True: "batching would help", False: "batching would not help much",
               None: "pass --loop to measure the model's batch speed-up"}[b.would_help]
    out.print(f"batches: median {ms(b.median_batch_rows)} rows, {render.percent(b.single_share)} of "
              f"decisions scored alone; model ms per row alone {ms(b.ms_per_row_single)}, in batches of "
              f"{b.batch_rows} {ms(b.ms_per_row_batched)}: {verdict}", markup=False)
    if report.costs:
        render.print_tables(render.table(
            [render.Column("model version", "left", key=True), render.Column("cohort", "left", key=True),
             render.Column("decisions"), render.Column(f"cost per decision ({report.currency})"),
             render.Column("CPU ms per decision")],
            [[str(c.model_version), c.cohort, render.count(c.decisions), ms(c.cost_per_decision),
              ms(c.cpu_ms_per_decision)] for c in report.costs]), title="cost per decision", console=out)
