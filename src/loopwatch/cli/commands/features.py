"""``loopwatch features``: the feature registry, what needs a person, and a scan for personal data."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from loopwatch.cli import render
from loopwatch.cli.app import Format, FormatOption, SpecOption, StoreOption, command, open_source, usage_error

if TYPE_CHECKING:
    from loopwatch.core.feature_spec import Feature
    from loopwatch.core.spec import Spec
    from loopwatch.learning.feature_registry import FeatureReport
    from loopwatch.learning.pii_scan import PiiScan


@command(act="a feature is flagged or personal data is found")
def features(
    spec: SpecOption = None,
    store: StoreOption = None,
    days: Annotated[int, typer.Option("--days", min=1, metavar="N",
                                      help="Recent days of decisions read for PII and expectations")] = 7,
    on: Annotated[str | None, typer.Option(
        "--on", metavar="DAY", help="The day deprecations are judged on \\[default: today, UTC]")] = None,
    offline: Annotated[bool, typer.Option(
        "--offline", help="Only the spec: read no decisions (no PII or expectation flags)")] = False,
    scan_pii: Annotated[bool, typer.Option(
        "--scan-pii", help="Also scan logged strings not declared as PII for e-mail addresses, phone "
                           "numbers and card numbers")] = False,
    sample_rows: Annotated[int, typer.Option("--sample-rows", min=1, metavar="N",
                                             help="Rows the PII scan samples in the engine")] = 100_000,
    phone_region: Annotated[str, typer.Option(
        "--phone-region", metavar="CC",
        help="Region phone numbers without a +country code are dialled from (e.g. US, GB)")] = "US",
    fmt: FormatOption = Format.table,
) -> None:
    """Each feature's owner, source, cost, expectations, deprecation and lineage, with what needs a person:
    missing owners, passed deprecations, PII stored in clear, unused features, broken expectations."""
    from loopwatch.learning import pii_scan
    from loopwatch.learning.feature_registry import feature_report, recent_window

    today = _day(on)
    if scan_pii and offline:
        usage_error("--scan-pii", "reads the logged decisions; leave out --offline")
    phone_region = phone_region.upper()
    if not _known_region(phone_region):
        usage_error("--phone-region", f"expected a region code such as US or GB; got {phone_region!r}")
    if offline:
        from loopwatch.cli.app import load

        spec_obj = load(spec)
        report = feature_report(spec_obj, today=today, model_features=_model_features(spec_obj, store))
        scan = None
    else:
        spec_obj, source = open_source(spec, store)
        report = feature_report(spec_obj, today=today, source=source, days=days,
                                model_features=_model_features(spec_obj, store))
        scan = pii_scan.scan_pii(source, window=recent_window(source, days), sample_rows=sample_rows,
                                 region=phone_region) if scan_pii else None
    if fmt is Format.json:
        render.print_json({**report.to_dict(), **({"pii_scan": scan.to_dict()} if scan else {})})
    else:
        _show(report)
        if scan is not None:
            _show_scan(scan)
    raise typer.Exit(max(report.exit_code, scan.exit_code if scan else 0))


def _model_features(spec: Spec, store: str | None) -> dict[str, tuple[str, ...]] | None:
    """The features of each registered version of the model not archived; ``None`` when the
    control plane holds none (it is not created for this)."""
    from pathlib import Path

    from loopwatch.cli.app import settings
    from loopwatch.storage.control import ControlPlane
    from loopwatch.storage.control.database import control_url
    from loopwatch.storage.control.registry import ModelRegistry

    current = settings()
    url = control_url(spec, url=current.control_url.get_secret_value() if current.control_url else None,
                      store=store or current.store)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    with ControlPlane.for_spec(spec, url=url) as plane:
        found = ModelRegistry(plane.engine).versions(spec.model, include_archived=False)
    return {v.version: v.features for v in found} or None


def _day(text: str | None) -> date:
    if text is None:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        usage_error("--on", f"expected a day such as 2026-03-01; got {text!r}")


def _known_region(code: str) -> bool:
    import phonenumbers

    return code in phonenumbers.SUPPORTED_REGIONS


def _cost(f: Feature) -> str:
    parts = []
    if f.cost.latency_ms is not None:
        parts.append(f"{render.number(f.cost.latency_ms)} ms")
    if f.cost.price_per_call is not None:
        parts.append(f"{render.number(f.cost.price_per_call)} a call")
    return ", ".join(parts) or "-"


def _expects(f: Feature) -> str:
    e = f.expectations
    parts = []
    if e.bounded:
        parts.append(f"{'-∞' if e.min is None else render.number(e.min)} to "
                     f"{'∞' if e.max is None else render.number(e.max)}")
    if e.allowed_values is not None:
        parts.append("in " + ", ".join(map(str, e.allowed_values)))
    if e.max_missing_rate is not None:
        parts.append(f"≤ {render.percent(e.max_missing_rate)} missing")
    return "; ".join(parts) or "-"


def _show(report: FeatureReport) -> None:
    out = render.out()
    read = (f" · read {render.count(report.rows)} decisions of {report.window.start:%Y-%m-%d} to "
            f"{report.window.end:%Y-%m-%d}" if report.window else "")
    out.print(f"{report.model} · {len(report.features)} features{read}", style="bold", markup=False)
    rows = [[f.name, f.dtype, f.owner or "-", f.pii, render.number(f.importance), f.source or "-",
             _cost(f), _expects(f), f.deprecated_after.isoformat() if f.deprecated_after else "-",
             ", ".join(f.derived_from) or "-",
             ", ".join(dict.fromkeys(flag.kind for flag in report.flags_of(f.name))) or "-"]
            for f in report.features]
    columns = [render.Column("feature", "left", key=True), render.Column("dtype", "left"),
               render.Column("owner", "left"), render.Column("pii", "left"), render.Column("importance"),
               render.Column("source", "left"), render.Column("cost", "left"),
               render.Column("expectations", "left", wrap=True), render.Column("deprecated after", "left"),
               render.Column("derived from", "left", wrap=True), render.Column("flags", "left", wrap=True)]
    if report.used_by is not None:  # the model registry was read
        columns.insert(-1, render.Column("used by versions", "left", wrap=True))
        for row, f in zip(rows, report.features, strict=True):
            row.insert(-1, ", ".join(report.used_by.get(f.name, ())) or "-")
    render.print_tables(render.table(columns, rows), console=out)
    out.print()
    if not report.flags:
        out.print("no feature flagged", markup=False)
        return
    render.print_tables(render.table(
        [render.Column("feature", "left", key=True), render.Column("flag", "left"),
         render.Column("why", "left", wrap=True)],
        [[f.feature, f.kind, f.message] for f in report.flags]),
        title=f"{len(report.flags)} flags", console=out)


def _show_scan(scan: PiiScan) -> None:
    out = render.out()
    out.print()
    title = (f"PII scan: {render.count(scan.sampled)} of {render.count(scan.rows)} decisions sampled, "
             f"{len(scan.columns)} string columns not declared as PII")
    if not scan.found:
        out.print(f"{title}: nothing found", style="bold", markup=False)
        return
    render.print_tables(render.table(
        [render.Column("column", "left", key=True), render.Column("kind", "left"),
         render.Column("share of rows"), render.Column("confirmed / read"),
         render.Column("examples (masked)", "left", wrap=True)],
        [[f.column, f.kind, render.percent(f.share), f"{f.confirmed} / {f.read}", ", ".join(f.examples)]
         for f in scan.found]), title=title, console=out)
