"""Alerts across days with and without baselines that stop at an open alert's onset.

    .venv/bin/python benchmarks/baselines_replay.py [--generator fraud|churn] [--variant open|none]
        [--days 90] [--per-day N] [--store DIR]

Simulates a store with every incident (or reuses ``--store``), then replays it day by
day after the reference: ``run_checks`` → ``group_findings`` → the control plane (a
SQLite file, two healthy runs to resolve). Variant ``open`` passes the model's alerts
to both (baselines stop at the onset of an open alert; performance echoes of raised
incidents are no new alert); ``none`` passes none (the trailing baseline of every
check). Each day's alerts are appended to ``records/baselines_replay.jsonl`` with the
incidents they match (``simulate.scoring.matches`` on their findings and suppressed
findings); the table counts, per incident, the days it was active, the days no alert
matched it, the days an alert still matched it after it ended, and the page-level
alert-days that match no active incident.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from loopwatch.core.spec import load_spec
from loopwatch.monitoring.alert_policy import group_findings
from loopwatch.monitoring.job import run_checks
from loopwatch.simulate.churn import simulate_churn
from loopwatch.simulate.fraud import SimulationConfig, simulate, write_simulation
from loopwatch.simulate.scoring import matches
from loopwatch.storage.control.plane import ControlPlane

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _records  # noqa: E402

BENCH = "baselines_replay"


def _active(incident: dict[str, Any], day: datetime) -> bool:
    """Does the day before ``day`` (the window checked) overlap the incident?"""
    onset = datetime.fromisoformat(incident["onset"])
    end = incident["end"] and datetime.fromisoformat(incident["end"])
    return onset < day and (not end or end > day - timedelta(days=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", choices=("fraud", "churn"), default="fraud")
    parser.add_argument("--variant", choices=("open", "none"), default="open")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--per-day", type=int, default=None)
    parser.add_argument("--store", type=Path, default=None,
                        help="a simulated store (loopwatch.yaml, ground_truth.json) to reuse")
    parser.add_argument("--until", default=None, help="last day replayed (default: the store's end)")
    args = parser.parse_args(argv)
    out = args.store or HERE / ".data" / "replay" / f"{args.generator}-{args.days}d"
    if not (out / "loopwatch.yaml").exists():
        per_day = args.per_day or (20_000 if args.generator == "fraud" else 5_000)
        config = SimulationConfig(days=args.days, decisions_per_day=per_day, incidents=("all",),
                                  seed=7)
        result = simulate(config) if args.generator == "fraud" else simulate_churn(config)
        write_simulation(result, out, overwrite=True)
    spec = load_spec(out / "loopwatch.yaml")
    truth = json.loads((out / "ground_truth.json").read_text())
    run_info = _records.new_run(BENCH, argv)
    setting = {"generator": args.generator, "variant": args.variant, "days": args.days,
               "smoke": args.until is not None}
    day = datetime.fromisoformat(truth["reference"]["end"]) + timedelta(days=1)
    stop = datetime.fromisoformat(args.until or truth["end"]).replace(tzinfo=day.tzinfo)
    with tempfile.TemporaryDirectory() as scratch:
        plane = ControlPlane(url=f"sqlite:///{scratch}/control.db", resolve_after=2)
        while day <= stop:
            known = plane.alerts(model=spec.model, include_resolved=True) if args.variant == "open" else []
            live = [a for a in known if a.resolved_at is None]
            run = run_checks(spec, as_of=day, open_alerts=live)
            drafts = group_findings(run.findings, spec=spec, open_alerts=known)
            plane.apply(model=spec.model, run_time=day, drafts=drafts)
            _records.append(BENCH, run_info, {**setting, "day": day.date().isoformat(),
                "active": [i["kind"] for i in truth["incidents"] if _active(i, day)],
                "harmful": [i["kind"] for i in truth["incidents"] if i["harmful"]],
                "findings": sum(f.severity > 0 for f in run.findings),
                "alerts": [{"fingerprint": d.fingerprint, "severity": str(d.severity),
                            "grouped": len(d.findings) + len(d.suppressed),
                            "matches": sorted({i["kind"] for i in truth["incidents"]
                                               for f in (*d.findings, *d.suppressed)
                                               if f.severity > 0 and matches(f, i)})}
                           for d in drafts]})
            day += timedelta(days=1)
        plane.close()
    print(_table(_records.load(BENCH)))
    return 0


def _incidents(days: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(k for r in days for k in (*r["active"], *r["harmful"])))


def _table(records: list[dict[str, Any]]) -> str:
    if not records:
        return "(no records yet: run benchmarks/baselines_replay.py)\n"
    lines = ["| generator | variant | incident | days active | first alert | days missing | "
             "days alerting after its end | alerts (fingerprints) | most findings in one |",
             "|---|---|---|---:|---|---:|---:|---:|---:|"]
    quiet = ["", "| generator | variant | days | page-level alert-days matching no active incident | "
             "warning-level | warning-or-page findings → alerts (median a day) |",
             "|---|---|---:|---:|---:|---|"]
    full = [r for r in records if not r.get("smoke")]
    for (generator, variant), found in _records.group_by(full, "generator", "variant").items():
        days = _records.latest_runs(found)
        for kind in _incidents(days):
            active = [r["day"] for r in days if kind in r["active"]]
            hit = [r for r in days if any(kind in a["matches"] for a in r["alerts"])]
            hit_days = [r["day"] for r in hit]
            after = [d for d in hit_days if active and d > active[-1]]
            prints = {a["fingerprint"] for r in hit for a in r["alerts"] if kind in a["matches"]}
            most = max((a["grouped"] for r in hit for a in r["alerts"] if kind in a["matches"]),
                       default=0)
            lines.append(f"| {generator} | {variant} | {kind} | {len(active)} | "
                         f"{hit_days[0] if hit_days else '—'} | "
                         f"{sum(d not in hit_days for d in active)} | {len(after)} | {len(prints)} | "
                         f"{most} |")
        false = {s: sum(a["severity"] == s and not set(a["matches"]) & set(r["active"])
                        for r in days for a in r["alerts"]) for s in ("page", "warning")}
        per_day = sorted(f"{r['findings']}→{len(r['alerts'])}" for r in days)
        ratio = sorted((r["findings"], len(r["alerts"])) for r in days)[len(days) // 2]
        quiet.append(f"| {generator} | {variant} | {len(days)} | {false['page']} | "
                     f"{false['warning']} | {ratio[0]} → {ratio[1]} ({len(per_day)} days) |")
    return "\n".join(lines + quiet) + "\n"


TABLES = {"incidents": _table}


if __name__ == "__main__":
    raise SystemExit(main())
