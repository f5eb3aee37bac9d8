"""Detection on the simulators: `run_checks` once per simulated day, scored against ground truth.

    .venv/bin/python benchmarks/detection.py [--generator fraud|churn] [--incidents all|none]
        [--days 90] [--per-day N] [--seeds 7] [--json FILE]

Simulates a run (the card-fraud world, or the subscription-churn world with its
own incidents) and replays it into a fresh store day by day (decisions on the
day they were made, outcomes on the day they were observed), runs every check
once per day after the reference window with default settings, and scores each
page and warning against the ground truth. Per incident: whether and when it
was first found at page severity naming what it touched, the check days it was
active without any page or warning naming it, and the days such findings kept
coming after its end. Per run: the pages and warnings that name no incident
active that day (nor one that ended). The churn world is scored with exactly
the same defaults: nothing is tuned to it.

Each seed appends its records to ``records/detection.jsonl``; ``make bench-tables``
renders the tables of RESULTS.md from them. Runs take about 1-2 s per simulated
day at 20,000 decisions a day on 2 shared cores (the full fraud run: a few minutes).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from loopwatch.core.findings import Finding, Severity
from loopwatch.core.spec import load_spec
from loopwatch.monitoring.job import run_checks
from loopwatch.simulate.churn import ChurnConfig, simulate_churn
from loopwatch.simulate.fraud import SimulationConfig, SimulationResult, simulate, write_simulation
from loopwatch.simulate.replay import replay
from loopwatch.simulate.scoring import score_alarms, score_incidents
from loopwatch.storage.parquet_store import ParquetStore

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _records  # noqa: E402

BENCH = "detection"
DAY = timedelta(days=1)
PER_DAY = {"fraud": 20_000, "churn": 5_000}


def _simulate(generator: str, *, days: int, per_day: int, incidents: str, seed: int) -> SimulationResult:
    kinds = () if incidents == "none" else tuple(incidents.split(","))
    if generator == "churn":
        return simulate_churn(ChurnConfig(days=days, decisions_per_day=per_day, incidents=kinds,
                                          seed=seed))
    return simulate(SimulationConfig(days=days, decisions_per_day=per_day, incidents=kinds, seed=seed))


def run_one(generator: str, *, days: int, per_day: int, incidents: str, seed: int,
            out: Path) -> tuple[list[tuple[datetime, list[Finding]]], list[float], dict[str, Any]]:
    result = _simulate(generator, days=days, per_day=per_day, incidents=incidents, seed=seed)
    empty = replace(result, decisions=result.decisions.slice(0, 0), outcomes=result.outcomes.slice(0, 0))
    write_simulation(empty, out, overwrite=True)
    spec = load_spec(out / "loopwatch.yaml")
    truth = result.ground_truth
    first = datetime.fromisoformat(truth["reference"]["end"]) + DAY
    runs: list[tuple[datetime, list[Finding]]] = []
    seconds: list[float] = []
    for day in replay(result, ParquetStore.for_spec(spec), first=first):
        run = run_checks(spec, as_of=day)
        runs.append((day, list(run.findings)))
        seconds.append(run.seconds)
        print(f"{generator} seed {seed} {day:%Y-%m-%d}: {len(run.pages)} pages, "
              f"{sum(f.severity == Severity.WARNING for f in run.findings)} warnings, "
              f"{run.seconds:.2f} s", file=sys.stderr)
    return runs, seconds, truth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--generator", choices=("fraud", "churn"), default="fraud")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--per-day", type=int, help="default: 20000 (fraud), 5000 (churn)")
    parser.add_argument("--incidents", default="all")
    parser.add_argument("--seeds", default="7", help="comma-separated seeds, one run each")
    parser.add_argument("--out", type=Path, default=HERE / ".data" / "detection")
    parser.add_argument("--json", type=Path, help="also write every finding here")
    parser.add_argument("--no-record", action="store_true", help="do not append to the records")
    args = parser.parse_args(argv)
    per_day = args.per_day or PER_DAY[args.generator]
    run_info = _records.new_run(BENCH, argv)
    setting = {"generator": args.generator, "days": args.days, "per_day": per_day,
               "incidents": args.incidents}
    dumped = []
    for seed in (int(s) for s in args.seeds.split(",")):
        out = args.out / f"{args.generator}-{args.incidents}-{args.days}d-{per_day}-s{seed}"
        runs, seconds, truth = run_one(args.generator, days=args.days, per_day=per_day,
                                       incidents=args.incidents, seed=seed, out=out)
        scored = score_incidents(runs, truth["incidents"])
        alarms = score_alarms(runs, truth["incidents"])
        summary = {"record": "summary", **setting, "seed": seed, "median_check_s":
                   round(statistics.median(seconds), 3), **alarms}
        if not args.no_record:
            for record in scored:
                _records.append(BENCH, run_info, {"record": "incident", **setting, "seed": seed, **record})
            _records.append(BENCH, run_info, summary)
        for record in scored:
            print(json.dumps(record))
        print(json.dumps(summary))
        dumped += [{"seed": seed, "as_of": d.isoformat(), "findings": [f.to_dict() for f in fs]}
                   for d, fs in runs]
    if args.json:
        args.json.write_text(json.dumps(dumped, indent=1))
    return 0


def _median(values: list[float | None], digits: int = 0) -> str:
    found = [v for v in values if v is not None]
    return _records.fmt_spread(found, digits) if found else "–"


def _incidents_table(records: list[dict[str, Any]]) -> str:
    lines = []
    for generator in ("fraud", "churn"):
        found = _records.latest_runs(records, where={"record": "incident", "generator": generator,
                                                     "incidents": "all"})
        if not found:
            lines += [f"{generator}: no records yet (run benchmarks/detection.py --generator "
                      f"{generator})", ""]
            continue
        first = found[0]
        seeds = sorted({r["seed"] for r in found})
        lines += [
            f"**{generator}**: {first['days']} days × {first['per_day']:,} decisions a day, seeds "
            f"{', '.join(map(str, seeds))}; `{first['run']['command']}` on {first['run']['date'][:10]} "
            f"({first['run']['cpus']} CPUs, load average {first['run']['load_average'][0]} at start). "
            "Figures: median over the seeds (min–max).",
            "",
            "| incident | harmful | paged (seeds) | days to first page | active check days "
            "| active days not reported | days reported after its end | first page (seed "
            f"{seeds[0]}) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for (name,), group in _records.group_by(found, "incident").items():
            example = next((r["finding"] for r in group if r["seed"] == seeds[0]), None) or "–"
            lines.append(
                f"| {name} | {'yes' if group[0]['harmful'] else 'no'}"
                f"{', labels only' if group[0]['label_only'] else ''} "
                f"| {sum(r['detected'] for r in group)}/{len(group)} "
                f"| {_median([r['days_to_detect'] for r in group])} "
                f"| {_median([r['active_days'] for r in group])} "
                f"| {_median([r['silent_days'] for r in group])} "
                f"| {_median([r['after_end_days'] for r in group])} "
                f"| {example.replace('|', '/')[:140]} |")
        lines.append("")
    return "\n".join(lines)


def _alarms_table(records: list[dict[str, Any]]) -> str:
    lines = [
        "| generator | incidents | seeds | check days | pages naming no incident | … while no harmful "
        "incident was active | warnings naming no incident | … while none was active | command, date |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for generator in ("fraud", "churn"):
        for incidents in ("none", "all"):
            found = _records.latest_runs(records, where={"record": "summary", "generator": generator,
                                                         "incidents": incidents})
            if not found:
                lines.append(f"| {generator} | {incidents} | no records yet | | | | | | |")
                continue
            run = found[0]["run"]
            lines.append(
                f"| {generator} | {incidents} | {len(found)} "
                f"| {_median([r['check_days'] for r in found])} "
                f"| {_median([r['pages_unmatched'] for r in found])} "
                f"| {_median([r['pages_unmatched_quiet'] for r in found])} "
                f"| {_median([r['warnings_unmatched'] for r in found])} "
                f"| {_median([r['warnings_unmatched_quiet'] for r in found])} "
                f"| `{run['command']}`, {run['date'][:10]} |")
    return "\n".join(lines) + "\n"


TABLES = {"incidents": _incidents_table, "alarms": _alarms_table}


if __name__ == "__main__":
    raise SystemExit(main())
