"""Alerts on the simulator: 90 days replayed day by day through `loopwatch watch --once`, scored per incident.

    .venv/bin/python benchmarks/alerts_replay.py [--generator fraud|churn] [--days 90] \
        [--per-day 20000] [--seed 7] [--scenarios all,none]

For each scenario (``all``: every incident; ``none``: a healthy run) it simulates
a run (the card-fraud world, or the subscription-churn world: a second generator
that checks the defaults were not tuned to the first), writes it into a fresh
store one day at a time and runs one watch (checks, alert policy, control plane
with the spec's hysteresis) after each day, as a daily
cron job would (``watch_once``, the function behind ``loopwatch watch --once``).
Then it scores the alerts against the ground truth (``loopwatch.simulate.alert_replay``)
and applies the same days' drafts again to fresh control planes with other
hysteresis settings (``resolve_after`` × ``reopen_within``), which is how the
defaults were chosen. Records go to ``records/alerts_replay.jsonl``; the tables
in RESULTS.md are regenerated from them (``make bench-tables``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import _records

from loopwatch.simulate.alert_replay import ReplayDay, reapply, replay_alerts, score
from loopwatch.simulate.churn import ChurnConfig, simulate_churn
from loopwatch.simulate.fraud import SimulationConfig, SimulationResult, simulate

BENCH = "alerts_replay"
VARIANTS = [(n, w) for n in (1, 2, 3, 5) for w in (0, 7)]
PER_DAY = {"fraud": 20_000, "churn": 5_000}


def _simulate(generator: str, *, days: int, per_day: int, scenario: str, seed: int) -> SimulationResult:
    kinds = () if scenario == "none" else tuple(scenario.split("+"))
    if generator == "churn":
        return simulate_churn(ChurnConfig(days=days, decisions_per_day=per_day, incidents=kinds, seed=seed))
    return simulate(SimulationConfig(days=days, decisions_per_day=per_day, incidents=kinds, seed=seed))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--generator", choices=("fraud", "churn"), default="fraud")
    parser.add_argument("--per-day", type=int, help="default: 20000 (fraud), 5000 (churn)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scenarios", default="all,none")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/.data/alerts_replay"))
    args = parser.parse_args(argv)
    run = _records.new_run(BENCH, argv)
    per_day = args.per_day or PER_DAY[args.generator]
    for scenario in args.scenarios.split(","):
        result = _simulate(args.generator, days=args.days, per_day=per_day, scenario=scenario, seed=args.seed)
        incidents = result.ground_truth["incidents"]

        def progress(day: ReplayDay, scenario: str = scenario) -> None:
            print(f"{scenario} {day.run_time - timedelta(days=1):%Y-%m-%d}: {len(day.drafts)} drafts, "
                  f"{len(day.live)} live, {day.seconds:.1f} s", file=sys.stderr)

        days, plane = replay_alerts(result, args.out / f"{args.generator}-{scenario}-s{args.seed}",
                                    on_day=progress)
        spec_default = (plane.resolve_after, int(plane.reopen_within / timedelta(days=1)))
        figures = score(days, plane.alerts(include_resolved=True), incidents)
        plane.close()
        base = {"generator": args.generator, "scenario": scenario, "days": args.days, "per_day": per_day,
                "seed": args.seed,
                "seconds_per_run": statistics.median(d.seconds for d in days)}
        _records.append(BENCH, run, {**base, "record": "replay", "resolve_after": spec_default[0],
                                     "reopen_within_days": spec_default[1], **figures})
        for resolve_after, reopen in VARIANTS:
            again, other = reapply(days, resolve_after=resolve_after, reopen_within=timedelta(days=reopen))
            varied = score(again, other.alerts(include_resolved=True), incidents)
            other.close()
            _records.append(BENCH, run, {**base, "record": "hysteresis", "resolve_after": resolve_after,
                                         "reopen_within_days": reopen, **varied})
        print(f"{scenario}: {len(days)} runs, {figures['alerts']} alerts, "
              f"{len(figures['unrelated_page_alerts'])} page alerts naming no active incident",
              file=sys.stderr)
    return 0


def _latest(records: list[dict[str, Any]], scenario: str, record: str,
            generator: str = "fraud") -> list[dict[str, Any]]:
    # records written before the churn generator was added carry no "generator": they are fraud's
    mine = [r for r in records if r.get("generator", "fraud") == generator]
    return _records.latest_runs(mine, where={"scenario": scenario, "record": record})


def _day(text: str | None) -> str:
    return "–" if text is None else f"{datetime.fromisoformat(text) - timedelta(days=1):%m-%d}"


def _num(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def incidents_table(records: list[dict[str, Any]], generator: str = "fraud") -> str:
    found = _latest(records, "all", "replay", generator)
    if not found:
        return "(no run yet)"
    r = found[-1]
    lines = [f"{r['days']} days × {r['per_day']:,} decisions/day, seed {r['seed']}, {r['runs']} daily runs "
             f"(resolve_after {r['resolve_after']}, reopen_within {r['reopen_within_days']}d); "
             f"run {r['run']['date'][:10]} at {r['run']['git']}; median {r['seconds_per_run']:.1f} s a run",
             "",
             "| incident | harmful | onset | end | page alerts naming it | alert | raised (data day) "
             "| days to raise | resolved | days after end | days active | days open | missing after raised "
             "| findings grouped (max a run) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for i in r["incidents"]:
        lines.append(
            f"| {i['kind']} | {'yes' if i['harmful'] else 'no'} | {i['onset'][5:10]} | "
            f"{'–' if i['end'] is None else i['end'][5:10]} | {i['page_alerts']} | "
            f"{i['alert_kind'] or '–'} ({i['severity'] or 'none'}) | {_day(i['raised'])} | "
            f"{_num(i['days_to_raise'])} | {_day(i['resolved'])} | {_num(i['resolved_days_after_end'])} | "
            f"{i['days_active']} | {i['days_open']} | {i['days_missing_after_raised']} | "
            f"{i['findings_grouped_max']} |")
    unrelated = r["unrelated_page_alerts"]
    lines += ["", f"Page-level alerts that named no incident active then (or ended within 3 days): "
              f"**{len(unrelated)}** (goal 0); runs with no harmful incident active that paged: "
              f"{r['quiet_days_with_a_page']}."]
    lines += [f"- #{u['id']} {u['kind']}, data days {', '.join(u['days'][:6])}"
              f"{' …' if len(u['days']) > 6 else ''}: {u['headline']}" for u in unrelated]
    return "\n".join(lines)


def quiet_table(records: list[dict[str, Any]]) -> str:
    lines = ["| generator | days × decisions/day, seed | run | runs | alerts | page-level alerts per 30 days "
             "(goal ≤ 1) | warning-level alerts per 30 days (goal ≤ 2) | runs that paged |",
             "|---|---|---|---|---|---|---|---|"]
    for generator in ("fraud", "churn"):
        found = _latest(records, "none", "replay", generator)
        if not found:
            lines.append(f"| {generator} | (no run yet) | | | | | | |")
            continue
        r = found[-1]
        lines.append(
            f"| {generator} | {r['days']} × {r['per_day']:,}, seed {r['seed']} | "
            f"{r['run']['date'][:10]} at {r['run']['git']} | {r['runs']} | {r['alerts']} | "
            f"{r['page_alerts_per_30_days']:.1f} | {r['warning_alerts_per_30_days']:.1f} | "
            f"{r['quiet_days_with_a_page']} |")
    return "\n".join(lines)


def hysteresis_table(records: list[dict[str, Any]]) -> str:
    found = _latest(records, "all", "hysteresis") + _latest(records, "all", "hysteresis", "churn")
    if not found:
        return "(no run yet)"
    quiet = {(q.get("generator", "fraud"), q["resolve_after"], q["reopen_within_days"]): q
             for g in ("fraud", "churn") for q in _latest(records, "none", "hysteresis", g)}
    lines = ["| generator | resolve_after | reopen_within | alerts | harmful incidents with >1 page alert | "
             "days missing after raised (harmful incidents) | days after end to resolve (median) | "
             "page alerts naming no active incident | alerts (healthy run) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in found:
        harmful = [i for i in r["incidents"] if i["harmful"]]
        after = [i["resolved_days_after_end"] for i in harmful if i["resolved_days_after_end"] is not None]
        q = quiet.get((r.get("generator", "fraud"), r["resolve_after"], r["reopen_within_days"]))
        lines.append(
            f"| {r.get('generator', 'fraud')} | {r['resolve_after']} | {r['reopen_within_days']}d | "
            f"{r['alerts']} | "
            f"{sum(i['page_alerts'] > 1 for i in harmful)} | "
            f"{sum(i['days_missing_after_raised'] for i in harmful)} | "
            f"{_num(statistics.median(after) if after else None, 1)} | {len(r['unrelated_page_alerts'])} | "
            f"{'–' if q is None else q['alerts']} |")
    return "\n".join(lines)


def runs_table(records: list[dict[str, Any]]) -> str:
    """Every recorded replay, oldest first: how the figures moved from one rule to the next."""
    lines = ["| run | generator | scenario | decisions/day | page alerts naming no active incident | "
             "page-level alerts per 30 days | warning-level alerts per 30 days | "
             "harmful incidents never paged | days missing after raised (harmful) | "
             "label_definition_change: days open / active |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        if r.get("record") != "replay":
            continue
        harmful = [i for i in r["incidents"] if i["harmful"]]
        label = next((i for i in r["incidents"] if i["kind"] == "label_definition_change"), None)
        opened = "–" if label is None else f"{label['days_open']} / {label['days_active']}"
        when = r["run"]["date"][:16].replace("T", " ")
        lines.append(
            f"| {when} at {r['run']['git']} | {r.get('generator', 'fraud')} | "
            f"{r['scenario']} | {r['per_day']:,} | {len(r['unrelated_page_alerts'])} | "
            f"{r['page_alerts_per_30_days']:.1f} | {r['warning_alerts_per_30_days']:.1f} | "
            f"{sum(i['page_alerts'] == 0 for i in harmful)} | "
            f"{sum(i['days_missing_after_raised'] for i in harmful)} | {opened} |")
    return "\n".join(lines)


TABLES = {"runs": runs_table, "incidents": incidents_table,
          "incidents_churn": lambda r: incidents_table(r, "churn"),
          "quiet": quiet_table, "hysteresis": hysteresis_table}


if __name__ == "__main__":
    raise SystemExit(main())
