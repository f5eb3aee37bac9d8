"""``loopwatch simulate``: a model in production (card fraud or subscription churn), with injected
incidents and ground truth."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from loopwatch.cli import render
from loopwatch.cli.app import command, usage_error


@command()
def simulate(
    out_dir: Annotated[Path, typer.Option("--out", metavar="DIR",
                                          help="Directory for the store, spec and ground truth")],
    days: Annotated[int, typer.Option(min=1, help="Simulated days")] = 90,
    per_day: Annotated[int | None, typer.Option(
        "--per-day", min=100, help="Decisions per day [default: 20000 fraud, 5000 churn]")] = None,
    incidents: Annotated[str, typer.Option(
        metavar="KINDS", help="Comma-separated incident kinds, 'all' or 'none'")] = "all",
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data")] = 7,
    start: Annotated[str, typer.Option(metavar="DAY", help="First simulated day (UTC)")] = "2026-01-01",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing simulation")] = False,
    generator: Annotated[str, typer.Option(
        metavar="NAME", help="fraud (card payments) or churn (subscriptions: other features, "
                             "base rate, volume and label delay)")] = "fraud",
) -> None:
    """Simulate a model in production, with injected incidents and their ground truth."""
    from loopwatch.simulate.churn import CHURN_INCIDENT_KINDS, ChurnConfig, simulate_churn
    from loopwatch.simulate.fraud import INCIDENT_KINDS, SimulationConfig, write_simulation
    from loopwatch.simulate.fraud import simulate as simulate_fraud

    if generator not in ("fraud", "churn"):
        usage_error("--generator", f"expected 'fraud' or 'churn'; got {generator!r}")
    kinds = CHURN_INCIDENT_KINDS if generator == "churn" else INCIDENT_KINDS

    chosen = tuple(k.strip() for k in incidents.split(",") if k.strip())
    if chosen == ("none",):
        chosen = ()
    unknown = [k for k in chosen if k != "all" and k not in kinds]
    if unknown:
        usage_error("--incidents", f"unknown kind {unknown[0]!r} for the {generator} generator; "
                                   f"expected 'all', 'none' or some of: {', '.join(kinds)}")
    try:
        first = datetime.fromisoformat(start).replace(tzinfo=UTC)
    except ValueError:
        usage_error("--start", f"expected a date like 2026-01-01; got {start!r}")
    err = render.err()
    with err.status("simulating...", spinner="dots") if err.is_terminal else contextlib.nullcontext():
        if generator == "churn":
            result = simulate_churn(ChurnConfig(days=days, decisions_per_day=per_day or 5_000,
                                                incidents=chosen, seed=seed, start=first))
        else:
            result = simulate_fraud(SimulationConfig(days=days, decisions_per_day=per_day or 20_000,
                                                     incidents=chosen, seed=seed, start=first))
        summary = write_simulation(result, out_dir, overwrite=overwrite)
    decisions, outcomes = summary["decisions"], summary["outcomes"]
    out = render.out()
    out.print(f"simulated {days} days into {out_dir}: {render.count(decisions['written'])} decisions, "
              f"{render.count(outcomes['written'])} outcomes, "
              f"{len(result.ground_truth.get('incidents', []))} incidents "
              f"(ground truth in {out_dir / 'ground_truth.json'})", markup=False)
    out.print(f"next: loopwatch summary --spec {out_dir / 'loopwatch.yaml'}", markup=False)
