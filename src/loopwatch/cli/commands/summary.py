"""``loopwatch summary``: what the store holds."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from loopwatch.cli import render
from loopwatch.cli.app import Format, FormatOption, SpecOption, StoreOption, command, open_source

if TYPE_CHECKING:
    from loopwatch.storage.summary import StoreSummary


@command()
def summary(spec: SpecOption = None, store: StoreOption = None, fmt: FormatOption = Format.table) -> None:
    """What the store holds: volumes, time range, decision and label rates, cohorts, quarantine."""
    from loopwatch.storage.summary import summarize

    spec_obj, target = open_source(spec, store)
    result = summarize(target)
    truth_path = spec_obj.base_dir / "ground_truth.json"
    truth = json.loads(truth_path.read_text()) if truth_path.exists() else None
    if fmt is Format.json:
        data = result.to_dict()
        if truth is not None:
            data["ground_truth"] = truth
        render.print_json(data)
        return
    _show(result, truth)


def _show(result: StoreSummary, truth: dict[str, Any] | None) -> None:
    out = render.out()
    period = (f"{result.first_decision:%Y-%m-%d %H:%M} → {result.last_decision:%Y-%m-%d %H:%M} UTC "
              f"({result.days} days)") if result.first_decision and result.last_decision else "-"
    out.print(f"loopwatch · {result.model}", style="bold", markup=False)
    out.print(render.key_values([
        ("store", result.store),
        ("decisions", render.count(result.decisions)),
        ("period", period),
        ("model versions", ", ".join(result.model_versions) or "-"),
        ("decision rate", render.percent(result.decision_rate)),
        ("outcomes", render.count(result.outcomes)),
        ("label coverage", render.percent(result.label_coverage)),
        ("base rate (labelled)", render.percent(result.base_rate)),
        ("quarantined rows", render.count(result.quarantined)),
    ]))
    for name, counts in result.cohorts.items():
        out.print()
        rows = [[value, render.count(n), render.percent(n / result.decisions if result.decisions else None)]
                for value, n in counts.items()]
        render.print_tables(render.table(
            [render.Column(name, "left", key=True), render.Column("decisions"), render.Column("share")],
            rows), title=f"cohort: {name} (largest first)", console=out)
    if result.quarantine_reasons:
        out.print()
        render.print_tables(render.table(
            [render.Column("reason", "left", key=True, wrap=True), render.Column("rows")],
            [[reason, render.count(n)] for reason, n in result.quarantine_reasons.items()],
            ), title="quarantine (most frequent reasons)", console=out)
    if truth is not None:
        out.print()
        rows = []
        for incident in truth.get("incidents", []):
            affects = [*incident.get("features", []), *(
                f"{x['column']}={x['value']}" for x in
                [*incident.get("cohorts", []), *incident.get("entities", [])]),
                *incident.get("sources", [])]
            rows.append([incident["kind"], str(incident.get("onset", ""))[:10],
                         str(incident.get("end") or "-")[:10], ", ".join(map(str, affects)) or "-"])
        render.print_tables(render.table(
            [render.Column("incident", "left", key=True), render.Column("onset", "left"),
             render.Column("end", "left"), render.Column("affects", "left", wrap=True)],
            rows), title="injected incidents (ground truth)", console=out)
