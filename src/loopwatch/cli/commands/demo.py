"""``loopwatch demo``: the main job end to end, a simulated fraud system run through the daily watch,
ending with its incident timeline."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loopwatch.cli import render
from loopwatch.cli.app import Format, FormatOption, command, usage_error

if TYPE_CHECKING:
    from loopwatch.simulate.alert_replay import ReplayDay


@command()
def demo(
    days: Annotated[int, typer.Option(
        min=31, help="Simulated days: the first 30 are the reference, the rest are watched daily")] = 90,
    out_dir: Annotated[Path, typer.Option(
        "--out", metavar="DIR",
        help="Directory for the store, spec, control plane, incidents.json and report.html "
             "(an earlier demo or simulation in it is replaced)")] = Path("demo-data"),
    per_day: Annotated[int, typer.Option(
        "--per-day", min=100, help="Decisions per day (at 5,000 every incident is still caught)")] = 5_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data")] = 7,
    fmt: FormatOption = Format.table,
) -> None:
    """Simulate the fraud system with its incidents, run the daily watch day by day and show the incident
    timeline: when each incident began, when loopwatch paged, the finding, the mitigation, and the false
    pages; write incidents.json and report.html beside the store."""
    from loopwatch.simulate.demo import run_demo, timeline, write_incidents

    if out_dir.exists() and (not out_dir.is_dir() or (any(out_dir.iterdir())
                                                      and not (out_dir / "ground_truth.json").exists())):
        usage_error("--out", f"{out_dir} is not empty and holds no earlier demo or simulation; "
                             "choose another directory")
    with render.progress() as bar:
        task = bar.add_task("simulating", total=None)

        def start(runs: int) -> None:
            bar.update(task, description="daily runs", total=runs, completed=0)

        def day(d: ReplayDay) -> None:
            bar.update(task, advance=1, description=f"day {d.run_time:%Y-%m-%d}: {len(d.live)} live alerts")

        result = run_demo(out_dir=out_dir, days=days, per_day=per_day, seed=seed, on_start=start, on_day=day)
        found = timeline(result)
        write_incidents(out_dir / "incidents.json", found)
        bar.update(task, description="writing report.html", total=None)
        _report(result.spec_path, out_dir / "report.html", days=found["runs"])
    if fmt is Format.json:
        render.print_json(found)
        return
    _show(found, out_dir)


def _report(spec_path: Path, path: Path, *, days: int) -> None:
    """The HTML report of the watched days (the reference's are left out), beside incidents.json."""
    from loopwatch.core.spec import load_spec
    from loopwatch.report import write_report

    write_report(load_spec(spec_path), path, days=days)


def _show(found: dict[str, Any], out_dir: Path) -> None:
    from loopwatch.simulate.demo import describe

    out = render.out()
    out.print(f"{found['runs']} daily runs, {found['alerts']} alerts; the injected incidents:", markup=False)
    columns = [render.Column("incident", "left", key=True), render.Column("began", "left"),
               render.Column("paged (days to detect)", "left"), render.Column("finding", "left", wrap=True),
               render.Column("mitigation", "left", wrap=True), render.Column("resolved", "left")]
    for part in render.table(columns, describe(found["incidents"])):
        out.print(part)
    false = found["false_pages"]
    out.print(f"false pages (page-level alerts naming no incident active then): {len(false)}", markup=False)
    for f in false:
        out.print(f"  #{f['id']} {f['kind']}, data days {', '.join(f['days'][:4])}"
                  f"{' …' if len(f['days']) > 4 else ''}: {f['headline']}", markup=False)
    spec = out_dir / "loopwatch.yaml"
    for m in found.get("mitigations", []):
        out.print(f"  mitigation {m['id']} ({m['state']}), set by alert #{m['alert_id']} on the run of "
                  f"{m['run_time'][:10]}: {m['what']}", markup=False)
    out.print(f"wrote {out_dir / 'incidents.json'} and {out_dir / 'report.html'}; "
              f"next: loopwatch alerts --spec {spec}", markup=False)
