"""``loopwatch profile``: profile new days incrementally and show one window × cohort."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated

import typer

from loopwatch.cli import render
from loopwatch.cli.app import Format, FormatOption, SpecOption, StoreOption, command, open_source, parse_time
from loopwatch.cli.cohorts import parse_filter

if TYPE_CHECKING:
    from loopwatch.core.profile import Profile


@command()
def profile(
    spec: SpecOption = None,
    store: StoreOption = None,
    start: Annotated[str | None, typer.Option("--from", metavar="DAY",
                                              help="First day (UTC), inclusive")] = None,
    end: Annotated[str | None, typer.Option("--to", metavar="DAY", help="Last day (UTC), exclusive")] = None,
    cohort: Annotated[str, typer.Option(metavar="COHORT",
                                        help="Cohort to show: 'all' or COLUMN=VALUE")] = "all",
    refit: Annotated[bool, typer.Option("--refit", help="Fit the reference bins again")] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Profile new days (incrementally) and show the profile of a window and cohort."""
    from loopwatch.core.profile import Cohort
    from loopwatch.storage.profile_history import ProfileHistory

    first, last = parse_time(start, "--from"), parse_time(end, "--to")
    spec_obj, target = open_source(spec, store)
    wanted = parse_filter(cohort, spec_obj, value_required=True)
    chosen = Cohort(wanted.column, wanted.value)
    history = ProfileHistory(target)
    with render.progress() as progress:
        task = progress.add_task("profiling days", total=None)
        result = history.update(start=first, end=last, refit=refit,
                                on_progress=lambda done, total: progress.update(task, completed=done,
                                                                                total=total))
    found = history.profile(start=first, end=last, cohort=chosen)
    if found.n == 0 and wanted.value is not None:
        wanted.check_present(history.profiles(start=first, end=last))
    if fmt is Format.json:
        render.print_json({"update": {"days_profiled": result.days_profiled,
                                      "days_relabelled": result.days_relabelled,
                                      "days_stored": result.days_stored,
                                      "outcomes_ignored": result.outcomes_ignored,
                                      "seconds": round(result.seconds, 3)},
                           "profile": found.to_dict()})
        return
    render.err().print(f"profiled {result.days_profiled} new days, relabelled {result.days_relabelled}, "
                       f"{result.days_stored} stored ({result.seconds:.1f} s)", markup=False)
    if result.outcomes_ignored:
        horizon = spec_obj.label_horizon
        render.err().print(f"{render.count(result.outcomes_ignored)} outcomes are not in the profiles: "
                           + (f"no decision of theirs is stored within label_horizon ({horizon})"
                              if horizon else "their decisions are not stored"), markup=False)
    _show(found)


def _std(variance: float) -> float:
    return math.sqrt(max(variance, 0.0)) if math.isfinite(variance) else math.nan


def _show(found: Profile) -> None:
    out = render.out()
    out.print(f"{found.cohort} · {found.start:%Y-%m-%d} → {found.end:%Y-%m-%d} · "
              f"{render.count(found.n)} decisions, {render.count(found.score.labelled)} labelled, "
              f"{render.count(found.system.errors)} errors", markup=False, style="bold")
    numeric = [[name, render.count(s.count), render.percent(s.missing_rate), render.number(s.mean),
                render.number(_std(s.variance) if s.count > 1 else None), render.number(s.minimum),
                render.number(s.maximum)] for name, s in found.numeric.items()]
    if numeric:
        out.print()
        render.print_tables(render.table(
            [render.Column("numeric feature", "left", key=True), render.Column("count"),
             render.Column("missing"), render.Column("mean"), render.Column("std"), render.Column("min"),
             render.Column("max")], numeric), console=out)
    categorical = [[name, render.count(s.count), render.percent(s.missing_rate),
                    render.number(s.distinct_estimate, digits=3), render.count(s.unseen)]
                   for name, s in found.categorical.items()]
    if categorical:
        out.print()
        render.print_tables(render.table(
            [render.Column("categorical feature", "left", key=True), render.Column("count"),
             render.Column("missing"), render.Column("distinct (est.)"), render.Column("unseen")],
            categorical), console=out)
