"""The ``loopwatch`` command.

Conventions (docs/cli.md): every command takes ``--spec PATH`` (default
``./loopwatch.yaml``, or ``LOOPWATCH_SPEC``); commands that print results take
``--format table|json``. Exit codes: 0 ok, 1 something the caller should act on
(rows sent to quarantine, a finding that pages), 2 a usage or input error, with a
message that names it.
"""

from __future__ import annotations

import contextlib
import json
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from loopwatch.core.spec import Spec, load_spec
from loopwatch.errors import LoopwatchError
from loopwatch.settings import Settings

app = typer.Typer(
    name="loopwatch",
    help="Is this model still working, for whom, and at what cost?",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

EXAMPLE_SPEC = Path(__file__).with_name("example_spec.yaml")


class Format(StrEnum):
    table = "table"
    json = "json"


class TableKind(StrEnum):
    decisions = "decisions"
    outcomes = "outcomes"


SpecOption = Annotated[
    Path | None,
    typer.Option("--spec", help="The spec file [default: ./loopwatch.yaml, or LOOPWATCH_SPEC]"),
]
StoreOption = Annotated[
    str | None,
    typer.Option("--store", help="Store location, overriding the spec's [env: LOOPWATCH_STORE]"),
]
FormatOption = Annotated[Format, typer.Option("--format", help="table for people, json for scripts")]


def _fail(exc: LoopwatchError) -> typer.Exit:
    err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(2)


def _settings() -> Settings:
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = f"LOOPWATCH_{'_'.join(map(str, error['loc'])).upper()}"
            err.print(f"[bold red]error:[/] {name}: {error['msg']}; got {error.get('input')!r}",
                      highlight=False)
        raise typer.Exit(2) from None


def _open(spec_path: Path | None, store: str | None) -> tuple[Spec, Any]:
    from loopwatch.storage.parquet_store import ParquetStore

    settings = _settings()
    try:
        spec = load_spec(spec_path or settings.spec)
        key = settings.pii_key.get_secret_value().encode() if settings.pii_key else None
        return spec, ParquetStore.for_spec(spec, location=store or settings.store, pii_key=key,
                                           engine_memory=settings.engine_memory)
    except LoopwatchError as exc:
        raise _fail(exc) from None
    except ValueError as exc:  # a spec that needs a setting it does not have
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
        console=err, disable=not err.is_terminal, transient=True,
    )


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


@app.command()
def init(
    spec: SpecOption = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file")] = False,
) -> None:
    """Write a commented example spec to edit."""
    path = spec or _settings().spec
    if path.exists() and not force:
        err.print(f"[bold red]error:[/] {path} exists; pass --force to overwrite it")
        raise typer.Exit(2)
    path.write_text(EXAMPLE_SPEC.read_text(encoding="utf-8"), encoding="utf-8")
    out.print(f"wrote {path}; edit it, then run 'loopwatch ingest decisions FILE'")


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for the store, spec and ground truth")],
    days: Annotated[int, typer.Option(min=1, help="Simulated days")] = 90,
    per_day: Annotated[int, typer.Option("--per-day", min=100, help="Decisions per day")] = 20_000,
    incidents: Annotated[str, typer.Option(
        help="Comma-separated incident kinds, 'all' or 'none'")] = "all",
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data")] = 7,
    start: Annotated[str, typer.Option(help="First simulated day (UTC)")] = "2026-01-01",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing simulation")] = False,
) -> None:
    """Simulate a card-fraud model in production, with injected incidents and their ground truth."""
    from loopwatch.simulate.fraud import INCIDENT_KINDS, SimulationConfig, write_simulation
    from loopwatch.simulate.fraud import simulate as run_simulation

    chosen = tuple(k.strip() for k in incidents.split(",") if k.strip())
    if chosen == ("none",):
        chosen = ()
    unknown = [k for k in chosen if k != "all" and k not in INCIDENT_KINDS]
    if unknown:
        err.print(f"[bold red]error:[/] --incidents: unknown kind {unknown[0]!r}; expected 'all', "
                  f"'none' or some of: {', '.join(INCIDENT_KINDS)}", highlight=False)
        raise typer.Exit(2)
    try:
        first = datetime.fromisoformat(start).replace(tzinfo=UTC)
    except ValueError:
        err.print(f"[bold red]error:[/] --start: expected a date like 2026-01-01; got {start!r}")
        raise typer.Exit(2) from None
    config = SimulationConfig(days=days, decisions_per_day=per_day, incidents=chosen, seed=seed,
                              start=first)
    try:
        with err.status("simulating...", spinner="dots") if err.is_terminal else contextlib.nullcontext():
            result = run_simulation(config)
            summary = write_simulation(result, out_dir, overwrite=overwrite)
    except LoopwatchError as exc:
        raise _fail(exc) from None
    decisions, outcomes = summary["decisions"], summary["outcomes"]
    out.print(f"simulated {days} days into {out_dir}: {decisions['written']:,} decisions, "
              f"{outcomes['written']:,} outcomes, "
              f"{len(result.ground_truth.get('incidents', []))} incidents "
              f"(ground truth in {out_dir / 'ground_truth.json'})", highlight=False)
    out.print(f"next: loopwatch summary --spec {out_dir / 'loopwatch.yaml'}", highlight=False)


@app.command()
def ingest(
    kind: Annotated[TableKind, typer.Argument(help="What the files hold")],
    files: Annotated[list[Path], typer.Argument(help="CSV, Parquet or JSON Lines files")],
    spec: SpecOption = None,
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Load decisions or outcomes from files. Bad rows go to quarantine with a reason.

    Exits 1 when some rows were quarantined, so a pipeline notices.
    """
    from loopwatch.storage.ingest import ingest_file

    _, target = _open(spec, store)
    reports = []
    with _progress() as progress:
        for path in files:
            task = progress.add_task(f"{path.name}", total=None)
            def advance(done: int, total: int, task: Any = task) -> None:
                progress.update(task, completed=done, total=total)

            try:
                report = ingest_file(target, "decisions" if kind is TableKind.decisions else "outcomes",
                                     path, on_progress=advance)
            except LoopwatchError as exc:
                raise _fail(exc) from None
            reports.append(report)
    quarantined = sum(r.result.quarantined for r in reports)
    if fmt is Format.json:
        _print_json({"files": [{
            "file": r.source, "rows_read": r.rows_read, "written": r.result.written,
            "duplicates": r.result.duplicates, "quarantined": r.result.quarantined,
            "reasons": dict(r.result.reasons), "unknown_columns": list(r.result.unknown_columns),
        } for r in reports]})
    else:
        table = Table("file", "read", "written", "duplicates ignored", "quarantined")
        for r in reports:
            table.add_row(r.source, f"{r.rows_read:,}", f"{r.result.written:,}",
                          f"{r.result.duplicates:,}", f"{r.result.quarantined:,}")
        out.print(table)
        for r in reports:
            for reason, count in r.result.reasons.most_common(10):
                out.print(f"  quarantined {count:,} × {reason}", highlight=False)
            if r.result.unknown_columns:
                out.print(f"  ignored columns not in the spec: {', '.join(r.result.unknown_columns)}",
                          highlight=False)
    if quarantined:
        raise typer.Exit(1)


@app.command()
def compact(spec: SpecOption = None, store: StoreOption = None) -> None:
    """Merge each day's small files into one; no query's result changes."""
    _, target = _open(spec, store)
    try:
        result = target.compact()
    except LoopwatchError as exc:
        raise _fail(exc) from None
    out.print(f"compacted {result.partitions} partitions: {result.files_before} files -> "
              f"{result.files_after}; {result.duplicates_removed} duplicate rows removed")


def _when(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        err.print(f"[bold red]error:[/] {option}: expected an ISO 8601 date or time such as "
                  f"2026-03-01; got {text!r}", highlight=False)
        raise typer.Exit(2) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@app.command()
def profile(
    spec: SpecOption = None,
    store: StoreOption = None,
    start: Annotated[str | None, typer.Option("--from", help="First day (UTC), inclusive")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day (UTC), exclusive")] = None,
    cohort: Annotated[str, typer.Option(help="Cohort to show: 'all' or COLUMN=VALUE")] = "all",
    refit: Annotated[bool, typer.Option("--refit", help="Fit the reference bins again")] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Profile new days (incrementally) and show the profile of a window and cohort."""
    from loopwatch.core.profile import ALL, Cohort
    from loopwatch.storage.profile_history import ProfileHistory

    first, last = _when(start, "--from"), _when(end, "--to")
    chosen = ALL
    if cohort != "all":
        column, sep, value = cohort.partition("=")
        if not sep:
            err.print(f"[bold red]error:[/] --cohort: expected 'all' or COLUMN=VALUE; got {cohort!r}")
            raise typer.Exit(2)
        chosen = Cohort(column, value)
    _, target = _open(spec, store)
    history = ProfileHistory(target)
    try:
        with _progress() as progress:
            task = progress.add_task("profiling days", total=None)
            result = history.update(
                start=first, end=last, refit=refit,
                on_progress=lambda done, total: progress.update(task, completed=done, total=total))
        found = history.profile(start=first, end=last, cohort=chosen)
    except LoopwatchError as exc:
        raise _fail(exc) from None
    if fmt is Format.json:
        _print_json({"update": {"days_profiled": result.days_profiled,
                                "days_relabelled": result.days_relabelled,
                                "days_stored": result.days_stored,
                                "seconds": round(result.seconds, 3)},
                     "profile": found.to_dict()})
        return
    err.print(f"profiled {result.days_profiled} new days, relabelled {result.days_relabelled}, "
              f"{result.days_stored} stored ({result.seconds:.1f} s)", highlight=False)
    data = found.to_dict()
    title = (f"{data['cohort']} · {data['start'][:10]} → {data['end'][:10]} · "
             f"{data['n']:,} decisions, {data['labelled']:,} labelled, {data['errors']:,} errors")
    table = Table("feature", "count", "missing", "mean", "std", "min", "max", title=title,
                  title_justify="left")
    for name, stats in found.numeric.items():
        table.add_row(name, f"{stats.count:,}", _pct(_finite(stats.missing_rate)),
                      _num(stats.mean), _num(stats.variance ** 0.5 if stats.count > 1 else None),
                      _num(stats.minimum), _num(stats.maximum))
    out.print(table)
    cats = Table("feature", "count", "missing", "distinct (est.)", "unseen", title_justify="left")
    for name, cstats in found.categorical.items():
        cats.add_row(name, f"{cstats.count:,}", _pct(_finite(cstats.missing_rate)),
                     f"{cstats.distinct_estimate:,.0f}", f"{cstats.unseen:,}")
    out.print(cats)


def _finite(value: float | None) -> float | None:
    import math

    return value if value is not None and math.isfinite(value) else None


def _num(value: float | None) -> str:
    value = _finite(value)
    return "-" if value is None else f"{value:,.4g}"


@app.command()
def summary(spec: SpecOption = None, store: StoreOption = None,
            fmt: FormatOption = Format.table) -> None:
    """What the store holds: volumes, time range, decision and label rates, cohorts, quarantine."""
    from loopwatch.storage.summary import summarize

    spec_obj, target = _open(spec, store)
    try:
        result = summarize(target)
    except LoopwatchError as exc:
        raise _fail(exc) from None
    truth_path = spec_obj.base_dir / "ground_truth.json"
    truth = json.loads(truth_path.read_text()) if truth_path.exists() else None
    if fmt is Format.json:
        data = result.to_dict()
        if truth is not None:
            data["ground_truth"] = truth
        _print_json(data)
        return
    overview = Table(title=f"loopwatch · {result.model}", show_header=False, title_justify="left")
    overview.add_column(style="bold")
    overview.add_column()
    period = (f"{result.first_decision:%Y-%m-%d %H:%M} → {result.last_decision:%Y-%m-%d %H:%M} UTC "
              f"({result.days} days)") if result.first_decision and result.last_decision else "-"
    for label, value in (
        ("store", result.store),
        ("decisions", f"{result.decisions:,}"),
        ("period", period),
        ("model versions", ", ".join(result.model_versions) or "-"),
        ("decision rate", _pct(result.decision_rate)),
        ("outcomes", f"{result.outcomes:,}"),
        ("label coverage", _pct(result.label_coverage)),
        ("base rate (labelled)", _pct(result.base_rate)),
        ("quarantined rows", f"{result.quarantined:,}"),
    ):
        overview.add_row(label, value)
    out.print(overview)
    for name, counts in result.cohorts.items():
        table = Table(name, "decisions", "share", title=f"cohort: {name}", title_justify="left")
        for value, n in counts.items():
            table.add_row(value, f"{n:,}", _pct(n / result.decisions if result.decisions else None))
        out.print(table)
    if result.quarantine_reasons:
        table = Table("reason", "rows", title="quarantine", title_justify="left")
        for reason, n in result.quarantine_reasons.items():
            table.add_row(reason, f"{n:,}")
        out.print(table)
    if truth is not None:
        table = Table("incident", "onset", "end", "affects", title="injected incidents (ground truth)",
                      title_justify="left")
        for incident in truth.get("incidents", []):
            affects = [*incident.get("features", []), *(
                f"{x['column']}={x['value']}" for x in
                [*incident.get("cohorts", []), *incident.get("entities", [])]),
                *incident.get("sources", [])]
            table.add_row(incident["kind"], str(incident.get("onset", ""))[:10],
                          str(incident.get("end") or "-")[:10], ", ".join(map(str, affects)))
        out.print(table)


@app.command()
def check(
    spec: SpecOption = None,
    store: StoreOption = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="End of the window checked (UTC; rounded down to a day) [default: now]")] = None,
    only: Annotated[str | None, typer.Option(
        "--checks", help="Comma-separated checks to run [default: every registered check]")] = None,
    show_info: Annotated[bool, typer.Option("--info", help="Also list info-level findings")] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Run every check for the window ending at --as-of; exit 1 when a finding pages."""
    from loopwatch.core.findings import Severity
    from loopwatch.monitoring.job import run_checks

    when = _when(as_of, "--as-of") or datetime.now(UTC)
    spec_obj, target = _open(spec, store)
    names = [n.strip() for n in only.split(",") if n.strip()] if only else None
    try:
        with _progress() as progress:
            task = progress.add_task("profiling days", total=None)
            run = run_checks(spec_obj, as_of=when, store=target, checks=names,
                             on_progress=lambda done, total: progress.update(
                                 task, completed=done, total=total))
    except LoopwatchError as exc:
        raise _fail(exc) from None
    except ValueError as exc:  # an unknown check name
        err.print(f"[bold red]error:[/] --checks: {exc}", highlight=False)
        raise typer.Exit(2) from None
    if fmt is Format.json:
        _print_json(run.to_dict())
        raise typer.Exit(run.exit_code)
    shown = [f for f in run.findings if show_info or f.severity > Severity.INFO]
    counts = {str(s): sum(f.severity == s for f in run.findings) for s in Severity}
    title = (f"{spec_obj.model} · {run.current.start:%Y-%m-%d} → {run.current.end:%Y-%m-%d} · "
             f"{counts['page']} page, {counts['warning']} warning, {counts['info']} info "
             f"({run.tests} tests, {run.seconds:.1f} s)")
    if not shown:
        out.print(f"{title}\nhealthy: nothing to report", highlight=False)
        raise typer.Exit(run.exit_code)
    out.print(title, highlight=False)
    styles = {Severity.PAGE: "bold red", Severity.WARNING: "yellow", Severity.INFO: "dim"}
    for f in shown:
        subject = " · ".join(x for x in (f.feature, f.cohort, f.entity if f.entity != f.cohort else None)
                             if x) or "all"
        window = f"{f.start:%m-%d}→{f.end:%m-%d}"
        interval = f" [{_num(f.interval[0])}, {_num(f.interval[1])}]" if f.interval else ""
        out.print(f"[{styles[f.severity]}]{f.severity!s:7}[/] {f.kind:11} {subject} ({window}): "
                  f"{f.message}  [dim]{f.statistic} {_num(f.value)}{interval}, n={f.n}[/]",
                  highlight=False)
    raise typer.Exit(run.exit_code)


@app.command()
def compare(
    reference: Annotated[list[str], typer.Option(
        "--reference", help="Reference Parquet files, directories or glob patterns (repeatable)")],
    current: Annotated[list[str], typer.Option(
        "--current", help="Current Parquet files, directories or glob patterns (repeatable)")],
    spec: SpecOption = None,
    fdr: Annotated[float, typer.Option(
        "--fdr", min=0.0, max=1.0, help="False discovery rate across the features")] = 0.05,
    fmt: FormatOption = Format.table,
) -> None:
    """Which features drifted between two sets of decision files (no store needed); exit 1
    when one did."""
    from loopwatch.monitoring.compare import compare_files

    settings = _settings()
    try:
        spec_obj = load_spec(spec or settings.spec)
        with _progress() as progress:
            progress.add_task("comparing", total=None)
            result = compare_files(spec_obj, reference, current, fdr=fdr,
                                   engine_memory=settings.engine_memory)
    except LoopwatchError as exc:
        raise _fail(exc) from None
    if fmt is Format.json:
        _print_json(result.to_dict())
        raise typer.Exit(result.exit_code)
    ref, cur = result.reference, result.current
    table = Table(title=f"{spec_obj.model} · reference {ref.n:,} decisions "
                        f"({ref.start:%Y-%m-%d} → {ref.end:%Y-%m-%d}) · current {cur.n:,} "
                        f"({cur.start:%Y-%m-%d} → {cur.end:%Y-%m-%d}) · {result.seconds:.1f} s")
    for column in ("feature", "kind", "effect", "p-value", "PSI", "drifted"):
        table.add_column(column, justify="left" if column in ("feature", "kind") else "right")
    for f in sorted(result.features, key=lambda f: (not f.drifted, -f.effect)):
        table.add_row(f.feature, f.kind, _num(f.effect), _num(f.p_value), _num(f.stats.psi),
                      "[bold red]yes[/]" if f.drifted else "no")
    out.print(table)
    drifted = result.drifted
    out.print(f"{len(drifted)} of {len(result.features)} features drifted"
              + (f": {', '.join(drifted)}" if drifted else ""), highlight=False)
    raise typer.Exit(result.exit_code)


@app.command()
def evaluate(
    spec: SpecOption = None,
    store: StoreOption = None,
    start: Annotated[str | None, typer.Option("--from", help="First day (UTC), inclusive")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day (UTC), exclusive")] = None,
    cohort: Annotated[str | None, typer.Option(
        help="Only this cohort column (e.g. region) or cohort (region=AFR)")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Metrics per cohort with intervals, label coverage, label-free estimates and regressions."""
    from loopwatch.core.findings import Severity
    from loopwatch.evaluation.report import evaluate as run_evaluation

    first, last = _when(start, "--from"), _when(end, "--to")
    spec_obj, target = _open(spec, store)
    try:
        report = run_evaluation(spec_obj, start=first, end=last, store=target)
    except LoopwatchError as exc:
        raise _fail(exc) from None
    exit_code = 1 if any(f.severity == Severity.PAGE for f in report.findings) else 0
    if fmt is Format.json:
        _print_json(report.to_dict())
        raise typer.Exit(exit_code)
    wanted = [c for c in report.cohorts if cohort is None or str(c.cohort) == cohort
              or c.cohort.column == cohort]
    compared = (f"{report.compared[0]:%Y-%m-%d} → {report.compared[1]:%Y-%m-%d}"
                if report.compared else "none mature yet")
    title = (f"{report.model} · {report.start:%Y-%m-%d} → {report.end:%Y-%m-%d} · threshold "
             f"{report.threshold:g} · labels mature for {compared} · value (95% interval)")
    names = [m for m in ("roc_auc", "precision", "recall", "false_positive_rate", "decision_rate",
                         "base_rate", "value") if any(m in c.metrics for c in wanted)]
    table = Table("cohort", "n", "labelled", *names, title=title, title_justify="left")
    for c in wanted:
        coverage = _pct(_finite(c.maturity.coverage)) + ("" if c.maturity.mature else " (immature)")
        table.add_row(str(c.cohort), f"{c.n:,}", coverage,
                      *(_metric(c.metrics.get(m)) for m in names))
    out.print(table)
    estimated = [m for m in ("roc_auc", "precision", "recall") if any(m in c.estimates for c in wanted)]
    if estimated:
        label_free = Table("cohort", *estimated, title="label-free estimates (calibration of the "
                           "reference applied to the scores)", title_justify="left")
        for c in wanted:
            label_free.add_row(str(c.cohort), *(_metric(c.estimates.get(m)) for m in estimated))
        out.print(label_free)
    if report.fairness:
        gaps = Table("column", "metric", "largest gap", "95% interval", "between", title="fairness",
                     title_justify="left")
        for gap in report.fairness:
            gaps.add_row(gap.column, gap.metric, _num(gap.gap),
                         f"{_num(gap.interval[0])} to {_num(gap.interval[1])}",
                         f"{gap.high_value} vs {gap.low_value}")
        out.print(gaps)
    for finding in report.findings:
        out.print(f"[{'bold red' if finding.severity == Severity.PAGE else 'yellow'}]"
                  f"{finding.severity}[/] {finding.message}", highlight=False)
    raise typer.Exit(exit_code)


def _metric(metric: Any) -> str:
    """``value (low–high)`` of an evaluation metric; ``-`` when undefined."""
    if metric is None or _finite(metric.value) is None:
        return "-"
    if _finite(metric.low) is None or _finite(metric.high) is None:
        return _num(metric.value)
    return f"{metric.value:.4g} ({metric.low:.3g}–{metric.high:.3g})"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def main() -> None:  # pragma: no cover - console entry point
    app()

