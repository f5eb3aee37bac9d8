"""The drift check's decision on both simulators: quiet without harm, paging on harmful shifts.

    .venv/bin/python benchmarks/drift_decision.py [--generators fraud,churn] [--days 60]
        [--seeds 1] [--scale 0.25]

For each generator and seed, three simulated runs are written to a store whole
and the drift check alone (default settings) runs once per day after the
reference window:

* **no shift** - a healthy run: any drift page or warning is a false alarm;
* **harmless shift** - the generator's harmless incident alone (fraud: LATAM
  grows 2.5×; churn: IN grows 3×): the mix moves, decisions within a cohort do
  not; a page is a false alarm, a warning is reported separately;
* **harmful shift** - the generator's feature incidents that change what the
  model sees (fraud: unit_change, stale_feature, gradual_drift; churn:
  sdk_session_reset, stale_watch_hours, login_lag_drift), each scored on the
  check days its window overlaps, by whether a drift page (or warning) names
  its feature.

The churn world is checked with the defaults designed on the fraud world:
nothing is tuned to it. ``--scale`` multiplies each generator's default daily
volume (20,000 fraud, 5,000 churn). Records go to ``records/drift_decision.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from loopwatch.core.findings import Finding, Severity
from loopwatch.core.spec import load_spec
from loopwatch.monitoring.job import run_checks
from loopwatch.simulate.churn import ChurnConfig, simulate_churn
from loopwatch.simulate.fraud import SimulationConfig, SimulationResult, simulate, write_simulation
from loopwatch.simulate.scoring import matches

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _records  # noqa: E402

BENCH = "drift_decision"
DAY = timedelta(days=1)
PER_DAY = {"fraud": 20_000, "churn": 5_000}
SCENARIOS: dict[str, dict[str, tuple[str, ...]]] = {
    "fraud": {"none": (), "harmless": ("harmless_shift",),
              "harmful": ("unit_change", "stale_feature", "gradual_drift")},
    "churn": {"none": (), "harmless": ("harmless_growth",),
              "harmful": ("sdk_session_reset", "stale_watch_hours", "login_lag_drift")},
}


def _simulate(generator: str, *, days: int, per_day: int, kinds: tuple[str, ...],
              seed: int) -> SimulationResult:
    if generator == "churn":
        return simulate_churn(ChurnConfig(days=days, decisions_per_day=per_day, incidents=kinds,
                                          seed=seed))
    return simulate(SimulationConfig(days=days, decisions_per_day=per_day, incidents=kinds, seed=seed))


def _overlaps(incident: dict[str, Any], as_of: datetime) -> bool:
    onset = datetime.fromisoformat(incident["onset"])
    end = None if incident["end"] is None else datetime.fromisoformat(incident["end"])
    return onset < as_of and (end is None or end > as_of - DAY)


def run_scenario(generator: str, scenario: str, *, days: int, per_day: int, seed: int,
                 out: Path) -> tuple[list[tuple[datetime, list[Finding]]], dict[str, Any]]:
    """Write one simulated run whole; the drift check's findings as of each day after the reference."""
    result = _simulate(generator, days=days, per_day=per_day, kinds=SCENARIOS[generator][scenario],
                       seed=seed)
    write_simulation(result, out, overwrite=True)
    spec = load_spec(out / "loopwatch.yaml")
    truth = result.ground_truth
    day = datetime.fromisoformat(truth["reference"]["end"]) + DAY
    end = datetime.fromisoformat(truth["end"])
    runs = []
    while day <= end:
        run = run_checks(spec, as_of=day, checks=["drift"])
        runs.append((day, [f for f in run.findings if f.severity in (Severity.PAGE, Severity.WARNING)]))
        print(f"{generator} {scenario} seed {seed} {day:%Y-%m-%d}: {len(run.pages)} pages",
              file=sys.stderr)
        day += DAY
    return runs, truth


def score(scenario: str, runs: list[tuple[datetime, list[Finding]]],
          truth: dict[str, Any]) -> list[dict[str, Any]]:
    """Records of one scenario: alarm days (no or harmless shift), or detection per incident."""
    if scenario != "harmful":
        # a harmless incident's days count from its onset; a healthy run's, all of them
        days = [(d, fs) for d, fs in runs if all(_overlaps(i, d) for i in truth["incidents"])]
        return [{
            "record": "alarms", "check_days": len(days),
            "page_days": sum(any(f.severity == Severity.PAGE for f in fs) for _, fs in days),
            "alarm_days": sum(bool(fs) for _, fs in days),
            "pages": sum(f.severity == Severity.PAGE for _, fs in days for f in fs),
            "warnings": sum(f.severity == Severity.WARNING for _, fs in days for f in fs),
            "examples": [f"{d - DAY:%m-%d} {f.severity} {f.message}" for d, fs in days for f in fs][:10],
        }]
    out = []
    for incident in truth["incidents"]:
        active = [(d, fs) for d, fs in runs if _overlaps(incident, d)]
        named = [[f for f in fs if matches(f, incident)] for _, fs in active]
        out.append({
            "record": "detection", "incident": incident["kind"], "active_days": len(active),
            "page_days": sum(any(f.severity == Severity.PAGE for f in fs) for fs in named),
            "alarm_days": sum(bool(fs) for fs in named),
        })
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--generators", default="fraud,churn")
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seeds", default="1")
    parser.add_argument("--scale", type=float, default=0.25,
                        help="fraction of each generator's default daily volume")
    parser.add_argument("--out", type=Path, default=HERE / ".data" / "drift_decision")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    run_info = _records.new_run(BENCH, argv)
    for generator in args.generators.split(","):
        per_day = max(100, round(PER_DAY[generator] * args.scale))
        for seed in (int(s) for s in args.seeds.split(",")):
            for scenario in SCENARIOS[generator]:
                out = args.out / f"{generator}-{scenario}-{args.days}d-{per_day}-s{seed}"
                runs, truth = run_scenario(generator, scenario, days=args.days, per_day=per_day,
                                           seed=seed, out=out)
                for record in score(scenario, runs, truth):
                    full = {"generator": generator, "scenario": scenario, "days": args.days,
                            "per_day": per_day, "seed": seed, **record}
                    if not args.no_record:
                        _records.append(BENCH, run_info, full)
                    print(json.dumps(full))
    return 0


def _rate(hits: int, total: int) -> str:
    return f"{hits}/{total} ({100 * hits / total:.0f}%)" if total else "–"


def _table(records: list[dict[str, Any]]) -> str:
    found = _records.latest_runs(records)
    if not found:
        return "(no records yet: run benchmarks/drift_decision.py)\n"
    run = found[0]["run"]
    lines = [
        f"`{run['command']}` on {run['date'][:10]} ({run['cpus']} CPUs, load average "
        f"{run['load_average'][0]} at start). Check days pooled over the seeds "
        f"({', '.join(str(s) for s in sorted({r['seed'] for r in found}))}).",
        "",
        "| generator | decisions a day | shift | check days | days with a drift page "
        "| days with a drift page or warning |",
        "|---|---|---|---|---|---|",
    ]
    for (generator, scenario), group in _records.group_by(
            [r for r in found if r["record"] == "alarms"], "generator", "scenario").items():
        days = sum(r["check_days"] for r in group)
        lines.append(f"| {generator} | {group[0]['per_day']:,} | {scenario} (false alarms) | {days} "
                     f"| {_rate(sum(r['page_days'] for r in group), days)} "
                     f"| {_rate(sum(r['alarm_days'] for r in group), days)} |")
    for (generator, incident), group in _records.group_by(
            [r for r in found if r["record"] == "detection"], "generator", "incident").items():
        days = sum(r["active_days"] for r in group)
        lines.append(f"| {generator} | {group[0]['per_day']:,} | harmful: {incident} (detection) "
                     f"| {days} | {_rate(sum(r['page_days'] for r in group), days)} "
                     f"| {_rate(sum(r['alarm_days'] for r in group), days)} |")
    return "\n".join(lines) + "\n"


TABLES = {"decision": _table}


if __name__ == "__main__":
    raise SystemExit(main())
