"""``loopwatch gate``: the deploy gate of a registered model version; exit 1 when it fails (for CI)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from loopwatch.cli import control, render
from loopwatch.cli.app import (
    ExitCode,
    Format,
    FormatOption,
    SpecOption,
    StoreOption,
    command,
    parse_time,
    source_of,
)

if TYPE_CHECKING:
    from loopwatch.learning.gate import GateReport


@command(act="the version fails the gate")
def gate(
    version: Annotated[str, typer.Option("--version", metavar="VERSION",
                                         help="The registered version to gate")],
    model: Annotated[str | None, typer.Option(
        "--model", metavar="NAME", help="The model \\[default: the spec's]")] = None,
    spec: SpecOption = None,
    store: StoreOption = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", metavar="TIME",
        help="calibration: the matured window ends label_delay before this \\[default: now]")] = None,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Fail also when a check could not be evaluated")] = False,
    by: Annotated[str | None, typer.Option(
        "--by", metavar="NAME",
        help="Who runs the gate, for the audit log \\[default: the current user]")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Gate a registered model version: schema contract, canary inputs, synthetic cases, latency budget,
    calibration on a matured window and the champion/challenger rule, from the spec's gate block.

    The result is audited (gate_passed or gate_failed) against the version.
    """
    from loopwatch.learning.artifacts import load_model
    from loopwatch.learning.gate import run_gate
    from loopwatch.storage.control.registry import ModelRegistry

    spec_obj, plane = control.open_control(spec, store)
    name = model or spec_obj.model
    with plane:
        registry = ModelRegistry(plane.engine, sinks=spec_obj.alerts.sinks)
        found = registry.get(name, version)
        loaded = load_model(found)
        source = None
        current_production = registry.in_stage(name, "production")
        production = None
        wanted = spec_obj.gate is not None and spec_obj.gate.champion is not None
        if wanted and current_production is not None and current_production.version != version:
            production = (current_production, load_model(current_production))
        if spec_obj.gate is not None and (spec_obj.gate.calibration or spec_obj.gate.champion) is not None:
            source = source_of(spec_obj, store)
        report = run_gate(spec_obj, found, loaded, source=source, strict=strict, production=production,
                          now=parse_time(as_of, "--as-of"))
        failed = [c.name for c in report.failed]
        registry.note(name, version, action="gate_passed" if report.passed else "gate_failed",
                      actor=control.actor(by),
                      reason="passed" if report.passed else f"failed: {', '.join(failed) or 'not evaluated'}",
                      detail={"failing_cases": list(report.failing_cases), "failed": failed,
                              "not_evaluated": [c.name for c in report.not_evaluated]})
    _print(report, fmt)
    if not report.passed:
        raise typer.Exit(ExitCode.ACT)


def _print(report: GateReport, fmt: Format) -> None:
    if fmt is Format.json:
        render.print_json(report.to_dict())
        return
    columns = [render.Column("check", "left", key=True), render.Column("status", "left"),
               render.Column("result", "left", wrap=True)]
    cells = []
    for c in report.checks:
        cells.append([c.name, c.status.replace("_", " "), c.summary])
        cells += [["", "", f"✗ {f}"] for f in c.failures]
    verdict = "PASSED" if report.passed else "FAILED"
    render.print_tables(render.table(columns, cells),
                        title=f"{report.model} · version {report.version} · gate {verdict}")
