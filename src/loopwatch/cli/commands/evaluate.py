"""``loopwatch evaluate``: metrics per cohort with intervals, label-free estimates, fairness, regressions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from loopwatch.cli import render
from loopwatch.cli.app import Format, FormatOption, SpecOption, StoreOption, command, open_source, parse_time
from loopwatch.cli.cohorts import CohortFilter, Rows, choose_rows, known_columns, parse_filter

if TYPE_CHECKING:
    from loopwatch.core.profile import Cohort
    from loopwatch.evaluation.metrics import Metric
    from loopwatch.evaluation.report import CohortEvaluation, EvaluationReport

#: Cohort rows shown by default; ``--rows 0`` shows all.
DEFAULT_ROWS = 25

Show = Callable[[float | None], str]
_RATE: Show = render.percent
_AUC: Show = partial(render.number, decimals=3)
_VALUE: Show = partial(render.number, digits=3, zeros=True)
# (name in the report, header, how its values are written)
_REALIZED: tuple[tuple[str, str, Show], ...] = (
    ("roc_auc", "ROC AUC", _AUC), ("precision", "precision", _RATE), ("recall", "recall", _RATE),
    ("false_positive_rate", "false pos. rate", _RATE), ("decision_rate", "decision rate", _RATE),
    ("base_rate", "base rate", _RATE), ("value_per_decision", "value per decision", _VALUE))
_ESTIMATED = _REALIZED[:3]


@command(act="a regression pages")
def evaluate(
    spec: SpecOption = None,
    store: StoreOption = None,
    start: Annotated[str | None, typer.Option("--from", metavar="DAY",
                                              help="First day (UTC), inclusive")] = None,
    end: Annotated[str | None, typer.Option("--to", metavar="DAY", help="Last day (UTC), exclusive")] = None,
    cohort: Annotated[str | None, typer.Option(
        metavar="COHORT",
        help="Only this cohort column (e.g. region), cohort (region=AFR) or 'all' (the global cohort); "
             "tables, fairness, findings, JSON and the exit code follow it")] = None,
    rows: Annotated[int, typer.Option(
        "--rows", min=0, metavar="N",
        help="At most N cohort rows in the tables (whole columns while they fit; the rest are named); "
             "0 shows every row. JSON always holds every row")] = DEFAULT_ROWS,
    fmt: FormatOption = Format.table,
) -> None:
    """Metrics per cohort with intervals, label coverage, label-free estimates and regressions."""
    from loopwatch.evaluation.report import evaluate as run_evaluation

    first, last = parse_time(start, "--from"), parse_time(end, "--to")
    spec_obj, target = open_source(spec, store)
    wanted = parse_filter(cohort, spec_obj)
    report = run_evaluation(spec_obj, start=first, end=last, store=target)
    if wanted is not None:
        wanted.check_present(c.cohort for c in report.cohorts)
        report = _only(report, wanted)
    if fmt is Format.json:
        render.print_json(report.to_dict())
    else:
        chosen = choose_rows([(c.cohort, c.n) for c in report.cohorts], known=known_columns(spec_obj),
                             limit=rows)
        _show(report, chosen)
    raise typer.Exit(report.exit_code)


def _only(report: EvaluationReport, wanted: CohortFilter) -> EvaluationReport:
    """The report restricted to the cohorts of ``--cohort``: rows, fairness, findings, daily timeline."""
    from loopwatch.core.profile import ALL

    return replace(
        report,
        cohorts=tuple(c for c in report.cohorts if wanted.matches(c.cohort)),
        fairness=tuple(g for g in report.fairness if g.column == wanted.column),
        findings=tuple(f for f in report.findings if wanted.matches_name(f.cohort)),
        days=report.days if wanted.matches(ALL) else (),
    )


def _metric(metric: Metric | None, show: Show) -> Text:
    """The value, and its interval on a second line."""
    if metric is None or show(metric.value) == "-":
        return Text("-")
    text = Text(show(metric.value))
    if metric.status == "not_enough_data":  # a value without an interval: too few positives or negatives
        text.append("\nnot enough data", style="yellow")
        return text
    text.append(f"\n{render.interval(metric.low, metric.high, show)}", style="dim")
    return text


def _cohort_cells(shown: Sequence[Cohort]) -> list[tuple[str | Text, Cohort | None]]:
    """The first column: a column's name above its values, indented; ``None`` marks a heading row."""
    cells: list[tuple[str | Text, Cohort | None]] = []
    column = None
    for cohort in shown:
        if cohort.value is None:
            cells.append((cohort.column, cohort))
            continue
        if cohort.column != column:
            cells.append((Text(cohort.column, style="bold"), None))
            column = cohort.column
        cells.append((f"  {cohort.value}", cohort))
    return cells


def _rows(cells: Sequence[tuple[str | Text, Cohort | None]], by_cohort: dict[Cohort, CohortEvaluation],
          values: Callable[[CohortEvaluation], list[str | Text]], width: int) -> list[list[str | Text]]:
    return [[cell, *(values(by_cohort[c]) if c is not None else [""] * width)] for cell, c in cells]


def _show(report: EvaluationReport, chosen: Rows) -> None:
    from loopwatch.core.findings import Severity

    out = render.out()
    compared = (f"labels have matured for {report.compared.start:%Y-%m-%d} → {report.compared.end:%Y-%m-%d}, "
                f"compared with the reference ({report.reference.start:%Y-%m-%d} → "
                f"{report.reference.end:%Y-%m-%d})" if report.compared else
                "labels have not matured for any part of the window yet: nothing is compared with the "
                f"reference ({report.reference.start:%Y-%m-%d} → {report.reference.end:%Y-%m-%d})")
    out.print(f"{report.model} · {report.start:%Y-%m-%d} → {report.end:%Y-%m-%d} · threshold "
              f"{render.number(report.threshold)}", markup=False, style="bold")
    out.print(f"{compared}. Below each value, its 95% interval.", markup=False)
    by_cohort = {c.cohort: c for c in report.cohorts}
    cells = _cohort_cells(chosen.shown)
    present = chosen.shown
    realized = [m for m in _REALIZED if any(m[0] in by_cohort[c].metrics for c in present)]

    def labelled(c: CohortEvaluation) -> Text:
        text = Text(render.percent(c.maturity.coverage))
        if not c.maturity.mature:
            text.append("\nimmature", style="yellow")
        return text

    columns = [render.Column("cohort", "left", key=True, max_width=28), render.Column("n"),
               render.Column("labelled"), *(render.Column(header) for _, header, _ in realized)]
    out.print()
    render.print_tables(render.table(columns, _rows(
        cells, by_cohort, lambda c: [render.count(c.n), labelled(c),
                                     *(_metric(c.metrics.get(name), show) for name, _, show in realized)],
        len(columns) - 1)), console=out)
    estimated = [m for m in _ESTIMATED if any(m[0] in by_cohort[c].estimates for c in present)]
    if estimated:
        out.print()
        render.print_tables(render.table(
            [render.Column("cohort", "left", key=True, max_width=28),
             *(render.Column(header) for _, header, _ in estimated)],
            _rows(cells, by_cohort,
                  lambda c: [_metric(c.estimates.get(name), show) for name, _, show in estimated],
                  len(estimated))), title="label-free estimates (the reference's calibration applied "
                                          "to the scores)", console=out)
    if chosen.note():
        out.print()
        out.print(chosen.note(), markup=False, style="dim")
    if report.fairness:
        out.print()
        rows: list[list[str | Text]] = []
        for gap in report.fairness:
            points = Text(render.number(gap.gap * 100, digits=3, zeros=True))
            points.append(f"\n{render.interval(gap.interval[0] * 100, gap.interval[1] * 100)}",
                          style="dim")
            rows.append([gap.column, gap.metric.replace("_", " "), points,
                         f"{gap.high_value} {render.percent(gap.high.value)}\n"
                         f"{gap.low_value} {render.percent(gap.low.value)}"])
        render.print_tables(render.table(
            [render.Column("column", "left", key=True), render.Column("metric", "left", wrap=True),
             render.Column("gap"), render.Column("between", "left", wrap=True)], rows),
            title="fairness: the largest gap between the cohorts of a column, in percentage points",
            console=out)
    if report.findings:
        pages = sum(f.severity == Severity.PAGE for f in report.findings)
        out.print()
        out.print(f"regressions against the reference: {pages} page, {len(report.findings) - pages} warning",
                  markup=False, style="bold")
        out.print(render.findings(report.findings, numbers=False))
