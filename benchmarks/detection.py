"""Detection on the simulator: `loopwatch check` once per simulated day, scored against ground truth.

    .venv/bin/python benchmarks/detection.py [--days 90] [--per-day 20000] [--incidents all|none]

Simulates a run and replays it into a fresh store day by day (decisions on the
day they were made, outcomes on the day they were observed), runs every check
once per day after the reference window, and prints (markdown) for each injected incident whether it
was found at page severity naming the right feature, cohort or entity, the day
and the finding; then the pages and warnings that match no incident, per 30 days.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from loopwatch.core.findings import Finding, Severity
from loopwatch.core.spec import load_spec
from loopwatch.monitoring.job import run_checks
from loopwatch.simulate.fraud import SimulationConfig, simulate, write_simulation
from loopwatch.simulate.replay import replay
from loopwatch.simulate.scoring import matches
from loopwatch.storage.parquet_store import ParquetStore

#: days after which an incident's effects may still legitimately show (profiles lag, trends)
AFTERGLOW = timedelta(days=8)


def _key(finding: Finding) -> tuple[object, ...]:
    return (finding.kind, finding.statistic, finding.feature, finding.cohort, finding.entity)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--per-day", type=int, default=20_000)
    parser.add_argument("--incidents", default="all")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/.data/detection"))
    parser.add_argument("--json", type=Path, help="also write every finding here")
    args = parser.parse_args(argv)
    out = args.out / f"{args.incidents}-{args.days}d-{args.per_day}-s{args.seed}"
    config = SimulationConfig(days=args.days, decisions_per_day=args.per_day,
                              incidents=() if args.incidents == "none" else tuple(args.incidents.split(",")),
                              seed=args.seed)
    result = simulate(config)
    empty = replace(result, decisions=result.decisions.slice(0, 0),
                    outcomes=result.outcomes.slice(0, 0))
    write_simulation(empty, out, overwrite=True)
    spec = load_spec(out / "loopwatch.yaml")
    truth = result.ground_truth
    first = datetime.fromisoformat(truth["reference"]["end"]) + timedelta(days=1)
    runs: list[tuple[datetime, list[Finding], float]] = []
    for day in replay(result, ParquetStore.for_spec(spec), first=first):
        run = run_checks(spec, as_of=day)
        runs.append((day, list(run.findings), run.seconds))
        print(f"{day:%Y-%m-%d}: {len(run.pages)} pages, "
              f"{sum(f.severity == Severity.WARNING for f in run.findings)} warnings, "
              f"{run.seconds:.2f} s", file=sys.stderr)
    incidents = truth["incidents"]
    print(f"detection, {args.days} days × {args.per_day:,} decisions/day, seed {args.seed}, "
          f"incidents: {args.incidents}\n")
    print("| incident | harmful | onset | detected | days to detect | finding |")
    print("|---|---|---|---|---|---|")
    delays = []
    for incident in incidents:
        onset = datetime.fromisoformat(incident["onset"])
        # an incident only labels reveal must bring a new page: one that was not already
        # paging on the day of its onset (for another incident still degrading the model)
        before = {_key(f) for d, findings, _ in runs if d == onset for f in findings
                  if f.severity == Severity.PAGE} if incident["label_only"] else set()
        found = next(((d, f) for d, findings, _ in runs if d > onset for f in findings
                      if f.severity == Severity.PAGE and matches(f, incident)
                      and _key(f) not in before), None)
        if found:
            delay = (found[0] - onset) / timedelta(days=1)
            if incident["harmful"]:
                delays.append(delay)
            text = f"{found[1].kind}: {found[1].message}"
            print(f"| {incident['kind']} | {incident['harmful']} | {onset:%m-%d} | "
                  f"{found[0] - timedelta(days=1):%m-%d} | {delay:.0f} | {text} |")
        else:
            print(f"| {incident['kind']} | {incident['harmful']} | {onset:%m-%d} | no | – | – |")
    healthy: dict[Severity, list[str]] = {Severity.PAGE: [], Severity.WARNING: []}
    unrelated: dict[Severity, list[str]] = {Severity.PAGE: [], Severity.WARNING: []}
    for d, findings, _ in runs:
        active = [i for i in incidents if i["harmful"] and datetime.fromisoformat(i["onset"]) < d
                  and (i["end"] is None or d <= datetime.fromisoformat(i["end"]) + AFTERGLOW)]
        for f in findings:
            if f.severity == Severity.INFO or any(matches(f, i) for i in active):
                continue
            text = f"{d - timedelta(days=1):%m-%d} {f.kind}: {f.message}"
            (unrelated if active else healthy)[f.severity].append(text)
    months = len(runs) / 30
    print(f"\nruns: {len(runs)}; median run {sorted(s for *_, s in runs)[len(runs) // 2]:.2f} s")
    if delays:
        print(f"median days to detect (harmful incidents found): {sorted(delays)[len(delays) // 2]:.0f}")
    for title, found in (("while no harmful incident was active", healthy),
                         ("during incidents, naming something else", unrelated)):
        for severity, items in found.items():
            print(f"\n{severity!s}s {title}: {len(items)} ({len(items) / months:.1f} per 30 days)")
            for item in items[:30]:
                print(f"- {item}")
    if args.json:
        args.json.write_text(json.dumps([{"as_of": d.isoformat(), "findings": [f.to_dict() for f in fs]}
                                         for d, fs, _ in runs], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
