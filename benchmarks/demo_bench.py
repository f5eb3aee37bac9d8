"""Time of `loopwatch demo` (the README's main job), run as a user runs it, several times.

    .venv/bin/python benchmarks/demo_bench.py [--days 90] [--per-day N] [--repeat 3]

Each repeat runs ``loopwatch demo --format json`` in a new process into a fresh
directory and records its wall time, the CPU time of the process (user + system,
DuckDB's threads included), its peak memory, the load average before and after
(the machine is shared: a wall time means little without it), and what the run
found: incidents named by a page, by a warning only, not at all, and the false
pages. ``--per-day`` defaults to the demo's own default. The table quotes the
median and the spread of the runs, never the best.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _records  # noqa: E402

BENCH = "demo_bench"


def _children() -> tuple[float, int]:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def run_once(*, days: int, per_day: int | None, seed: int) -> dict[str, Any]:
    """One ``loopwatch demo`` in a new process; its times and what it found."""
    loopwatch = Path(sys.executable).with_name("loopwatch")
    out = Path(tempfile.mkdtemp(prefix="demo-bench-")) / "demo"
    command = [str(loopwatch), "demo", "--days", str(days), "--out", str(out), "--seed", str(seed),
               "--format", "json"]
    if per_day is not None:
        command += ["--per-day", str(per_day)]
    load_before = os.getloadavg()[0]
    cpu_before, _ = _children()
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - began
    cpu_after, rss_kb = _children()
    try:
        if done.returncode != 0:
            raise SystemExit(f"loopwatch demo exited {done.returncode}:\n{done.stderr[-2000:]}")
        found = json.loads(done.stdout)
        rows = found["incidents"]
        return {
            "wall_seconds": round(wall, 2), "cpu_seconds": round(cpu_after - cpu_before, 2),
            "peak_rss_mb": round(rss_kb / 1024), "load_before": round(load_before, 2),
            "load_after": round(os.getloadavg()[0], 2), "runs": found["runs"], "alerts": found["alerts"],
            "incidents": len(rows),
            "paged": sum(r["severity"] == "page" for r in rows),
            "warned_only": sum(r["detected_at"] is not None and r["severity"] != "page" for r in rows),
            "missed": [r["incident"] for r in rows if r["detected_at"] is None],
            "false_pages": len(found["false_pages"]),
            "mitigations": len(found.get("mitigations", [])),
            "report_bytes": (out / "report.html").stat().st_size,
        }
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--per-day", type=int, default=None, help="default: the demo's own")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    run_info = _records.new_run(BENCH, argv)
    for i in range(args.repeat):
        measured = run_once(days=args.days, per_day=args.per_day, seed=args.seed)
        record = {"days": args.days, "per_day": args.per_day, "seed": args.seed, "repeat": i, **measured}
        _records.append(BENCH, run_info, record)
        print(json.dumps(record), flush=True)
    return 0


def _demo_table(records: list[dict[str, Any]]) -> str:
    latest = _records.latest_runs(records, count=3)
    if not latest:
        return "_no records yet: run `.venv/bin/python benchmarks/demo_bench.py`_\n"
    run = latest[-1]["run"]
    lines = [f"`{run['command']}` on {run['date'][:10]} ({run['cpus']} CPUs, load average "
             f"{run['load_average'][0]} at start). Wall and CPU time of the whole command in a new process "
             "(simulation, 60 daily runs, report); load average before and after each run.", "",
             "| days | per day | runs | wall | CPU (user+sys) | peak RSS | load avg (1 min) | "
             "paged / warned / missed | false pages | run date | commit |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    tagged = [{**r, "_run": r["run"]["id"]} for r in latest]
    for (days, per_day, _), found in _records.group_by(tagged, "days", "per_day", "_run").items():
        wall = _records.fmt_spread([r["wall_seconds"] for r in found], 0, " s")
        loads = [r["load_before"] for r in found] + [r["load_after"] for r in found]
        missed = sorted({m for r in found for m in r["missed"]})
        lines.append(
            f"| {days} | {per_day or 'default'} | {len(found)} | {wall} "
            f"| {_records.fmt_spread([r['cpu_seconds'] for r in found], 0, ' s')} "
            f"| {max(r['peak_rss_mb'] for r in found)} MB | {min(loads):.1f}–{max(loads):.1f} "
            f"| {found[0]['paged']} / {found[0]['warned_only']} / {len(found[0]['missed'])}"
            f"{' (' + ', '.join(missed) + ')' if missed else ''} "
            f"| {_records.fmt_spread([r['false_pages'] for r in found], 0)} "
            f"| {found[0]['run']['date'][:10]} | {found[0]['run'].get('git') or '–'} |")
    return "\n".join(lines) + "\n"


TABLES = {"demo": _demo_table}

if __name__ == "__main__":
    raise SystemExit(main())
