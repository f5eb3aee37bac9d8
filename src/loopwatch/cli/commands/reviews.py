"""``loopwatch reviews``: labels from people — turnaround per cohort, who waits, agreement with truth."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from loopwatch.cli import render
from loopwatch.cli.app import Format, FormatOption, SpecOption, StoreOption, command, open_source, parse_time

if TYPE_CHECKING:
    from loopwatch.learning.review_labels import CohortReviews, ReviewReport


@command()
def reviews(
    spec: SpecOption = None,
    store: StoreOption = None,
    start: Annotated[str | None, typer.Option("--from", metavar="DAY",
                                              help="First decision day (UTC), inclusive")] = None,
    end: Annotated[str | None, typer.Option("--to", metavar="DAY",
                                            help="Last decision day (UTC), exclusive")] = None,
    review_source: Annotated[str, typer.Option(
        "--review-source", metavar="NAME,...",
        help="Label sources that are a person's review (values of outcomes.label_source)")] = "review",
    queue_action: Annotated[str, typer.Option(
        "--queue-action", metavar="ACTION,...", help="Actions that send a decision to the review queue")
    ] = "review",
    as_of: Annotated[str | None, typer.Option(
        "--as-of", metavar="TIME",
        help="When waiting decisions are aged \\[default: the latest decision or outcome]")] = None,
    min_reviews: Annotated[int, typer.Option(
        "--min-reviews", min=1, metavar="N", help="Reviews a cohort needs to be ranked by its wait")] = 20,
    fmt: FormatOption = Format.table,
) -> None:
    """Labels from people: review turnaround per cohort, decisions waiting, agreement with later truth."""
    from loopwatch.core.window import Window
    from loopwatch.learning.review_labels import review_report

    first, last = parse_time(start, "--from"), parse_time(end, "--to")
    when = parse_time(as_of, "--as-of")
    _, source = open_source(spec, store)
    window = None
    if first is not None or last is not None:
        from datetime import UTC, datetime

        window = Window(first or datetime(1970, 1, 1, tzinfo=UTC), last or datetime.now(UTC))
    report = review_report(source, window=window, review_sources=_names(review_source),
                           queue_actions=_names(queue_action), as_of=when, min_reviews=min_reviews)
    if fmt is Format.json:
        render.print_json(report.to_dict())
    else:
        _show(report)


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def _hours(value: float | None) -> str:
    return "-" if value is None else render.number(value, digits=3)


def _kappa(c: CohortReviews) -> str:
    if c.kappa is None:
        return "-"
    shown = render.number(c.kappa, decimals=3)
    interval = c.kappa_interval
    return shown if interval is None else f"{shown} {render.interval(*interval)}"


def _show(report: ReviewReport) -> None:
    out = render.out()
    out.print(f"{report.model} · decisions {report.window.start:%Y-%m-%d %H:%M} → "
              f"{report.window.end:%Y-%m-%d %H:%M} · review labels from "
              f"{', '.join(report.review_sources)} · as of {report.as_of:%Y-%m-%d %H:%M}",
              style="bold", markup=False)
    rows = []
    for c in report.cohorts:
        interval = c.agreement_interval
        agreement = "-" if c.agreement is None else render.percent(c.agreement)
        if interval:
            agreement += f" {render.interval(*interval, render.percent)}"
        rows.append([c.name, render.count(c.decisions), render.count(c.reviewed), _hours(c.hours_median),
                     _hours(c.hours_p90), _hours(c.hours_max), render.count(c.waiting),
                     _hours(c.oldest_waiting_hours), render.count(c.compared), agreement,
                     _kappa(c)])
    render.print_tables(render.table(
        [render.Column("cohort", "left", key=True), render.Column("decisions"), render.Column("reviewed"),
         render.Column("median h"), render.Column("p90 h"), render.Column("max h"), render.Column("waiting"),
         render.Column("oldest waiting h"), render.Column("with truth"),
         render.Column("agreement (95%)", "left"), render.Column("kappa (95%)", "left")], rows), console=out)
    out.print()
    ranked = report.longest_wait
    if ranked:
        out.print("longest review wait (p90): " + ", ".join(
            f"{c.name} {_hours(c.hours_p90)} h" for c in ranked[:5]), markup=False)
    else:
        out.print(f"no cohort has {report.min_reviews} reviews to rank by its wait", markup=False)
