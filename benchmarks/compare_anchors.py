"""One reference-vs-current drift job, run by loopwatch and by the tools users would otherwise pick.

The job (``loopwatch.simulate.synthetic``): 14 numeric and 6 categorical
features, 4 of them shifted in the current data. Each competitor (NannyML,
Evidently, whylogs) runs its documented default drift job in its own
virtualenv (``benchmarks/competitors/setup.sh``), one tool at a time, each in a
fresh process whose resident memory is polled (with its children) from here.
loopwatch runs through :func:`loopwatch_drift_job` in a fresh process of the
project's own environment, measured the same way.

Usage (from the repository root, in the project's venv)::

    bash benchmarks/competitors/setup.sh            # once: the three tool venvs
    .venv/bin/python benchmarks/compare_anchors.py  # 1M + 1M and 5M + 5M rows, 3 repeats
    .venv/bin/python benchmarks/compare_anchors.py --quick  # 100k + 100k rows
    .venv/bin/python benchmarks/compare_anchors.py --tools '' --repeat 5  # loopwatch alone

Data is cached under ``benchmarks/.data/`` (git-ignored). Every run of every tool is
appended to ``records/compare_anchors.jsonl``; the tables of ``compare_anchors_RESULTS.md``
are rendered from the latest invocation's records (``make bench-tables``): the median
of the repeats and their spread, and each competitor's ratio to loopwatch taken repeat
by repeat (loopwatch runs first in each repeat, on the same data). The full run (every
tool, 5M rows, Evidently up to ~10 min a repeat) takes over an hour on 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _records

from loopwatch.simulate.synthetic import (
    CATEGORICAL_FEATURES,
    NUMERIC_FEATURES,
    SHIFTED_FEATURES,
    write_drift_dataset,
)

HERE = Path(__file__).resolve().parent
COMPETITORS = HERE / "competitors"
DATA = HERE / ".data"
TOOLS = ("nannyml", "whylogs", "evidently")
LOOPWATCH = "loopwatch"
BENCH = "compare_anchors"


# --------------------------------------------------------------------------- loopwatch hook


def loopwatch_drift_job(ref_path: Path, cur_path: Path) -> dict[str, Any] | None:
    """Run loopwatch's reference-vs-current drift job on two Parquet files.

    Returns ``{"seconds": float, "flagged": list[str]}`` (compute time, loading
    included, since loopwatch reads the files itself; the drift decision included;
    optionally ``cpu_seconds``, ``per_feature`` details and a ``note`` shown instead
    of the features flagged).
    """
    import math

    from loopwatch.monitoring.compare import compare_files
    from loopwatch.simulate.synthetic import drift_job_spec

    spec = drift_job_spec()
    # the engine's libraries are loaded before the clock starts, as each competitor's
    # runner imports its tool before it does (compare_files imports them on first use)
    importlib.import_module("ibis.backends.duckdb")
    start, cpu_start = time.perf_counter(), time.process_time()
    # what `loopwatch compare` runs: bins fitted on the reference, each file aggregated as
    # one bucket in DuckDB (loopwatch.storage.window); flagged: significant after
    # Benjamini-Hochberg across the 20 features and a noise-corrected effect of at least
    # 0.01 on the PSI scale (loopwatch.monitoring.drift)
    result = compare_files(spec, [ref_path], [cur_path])
    report = result.features
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "flagged": [d.feature for d in report if d.drifted],
        "per_feature": {
            d.feature: {"method": "chi2 + corrected divergence", "effect": round(d.effect, 5),
                        "p_value": d.p_value if math.isfinite(d.p_value) else None,
                        "psi": round(d.stats.psi, 5), "js": round(d.stats.js, 5), "drifted": d.drifted}
            for d in report
        },
    }


def _loopwatch_child(ref_path: str, cur_path: str) -> int:
    result = loopwatch_drift_job(Path(ref_path), Path(cur_path))
    if result is None:
        print(json.dumps({"tool": LOOPWATCH, "unavailable": "loopwatch: not available yet"}))
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    record = {
        "tool": LOOPWATCH,
        "version": importlib.import_module("loopwatch").__dict__.get("__version__", "dev"),
        "compute_seconds": round(result["seconds"], 3),
        "compute_cpu_seconds": round(result.get("cpu_seconds", 0.0), 3),
        "peak_rss_mb": round(peak / 2**20, 1),
        "flagged": result["flagged"],
        "note": result.get("note"),
        "per_feature": result.get("per_feature"),
    }
    print(json.dumps(record))
    return 0


# --------------------------------------------------------------------------- running one tool


@dataclass
class Run:
    """One tool on one data size: what it reported and what we measured."""

    tool: str
    rows: int
    status: str = "ok"  # ok | timeout | failed | skipped | unavailable
    wall_seconds: float = 0.0
    polled_peak_mb: float = 0.0
    child_cpu_seconds: float = 0.0
    other_cpu_seconds: float = 0.0
    idle_cpu_percent: float = 0.0
    record: dict[str, Any] = field(default_factory=dict)
    message: str = ""

    @property
    def compute_seconds(self) -> float | None:
        value = self.record.get("compute_seconds")
        return float(value) if value is not None else None

    @property
    def peak_mb(self) -> float | None:
        if self.status != "ok":
            return None
        return max(self.polled_peak_mb, float(self.record.get("peak_rss_mb", 0.0)))

    @property
    def flagged(self) -> list[str]:
        return list(self.record.get("flagged", []))


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for member in members:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += member.memory_info().rss
    return total


def _busy_cpu_seconds() -> float:
    times = psutil.cpu_times()
    return float(times.user + times.nice + times.system + times.irq + times.softirq)


def _wait_until_idle(limit: float) -> float:
    """Wait (up to ``limit`` s) for other work on the machine to settle; return its CPU %."""
    deadline = time.perf_counter() + limit
    busy = psutil.cpu_percent(interval=2.0)
    while busy > 25.0 and time.perf_counter() < deadline:
        busy = psutil.cpu_percent(interval=5.0)
    return busy


def _run_measured(tool: str, rows: int, command: Sequence[str], timeout: float, wait_idle: float) -> Run:
    """Run ``command`` in a new session; poll its memory; kill it past ``timeout``.

    The child is reaped with ``os.wait4``, which gives the resources of that child
    alone (``RUSAGE_CHILDREN`` would be the maximum over every child so far).
    """
    run = Run(tool=tool, rows=rows)
    run.idle_cpu_percent = _wait_until_idle(wait_idle)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        busy_start = _busy_cpu_seconds()
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, start_new_session=True)
        watched = psutil.Process(child.pid)
        peak = 0
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid == child.pid:
                break
            peak = max(peak, _tree_rss(watched))
            if run.status != "timeout" and time.perf_counter() - start > timeout:
                os.killpg(child.pid, signal.SIGKILL)  # our own child's process group only
                run.status = "timeout"
                run.message = f"did not finish in {timeout:.0f} s"
            time.sleep(0.05)
        run.wall_seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        child_cpu = usage.ru_utime + usage.ru_stime
        # CPU the rest of the machine used meanwhile: a sign the timing is disturbed
        run.other_cpu_seconds = max(0.0, _busy_cpu_seconds() - busy_start - child_cpu)
        run.child_cpu_seconds = child_cpu
        peak = max(peak, usage.ru_maxrss * 1024)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    run.polled_peak_mb = round(peak / 2**20, 1)
    if run.status == "timeout":
        return run
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if child.returncode != 0 or not lines:
        run.status = "failed"
        tail = stderr.strip().splitlines()[-3:]
        run.message = f"exit {child.returncode}: " + " | ".join(tail)
        return run
    run.record = json.loads(lines[-1])
    if "unavailable" in run.record:
        run.status = "unavailable"
        run.message = run.record["unavailable"]
    return run


def _runner_command(tool: str, ref: Path, cur: Path) -> list[str]:
    python = COMPETITORS / f".venv-{tool}" / "bin" / "python"
    if not python.exists():
        raise FileNotFoundError(
            f"no virtualenv for {tool} at {python.parent.parent}; "
            f"run: bash benchmarks/competitors/setup.sh {tool}"
        )
    return [
        str(python),
        str(COMPETITORS / f"run_{tool}.py"),
        "--reference",
        str(ref),
        "--current",
        str(cur),
        "--numeric",
        ",".join(NUMERIC_FEATURES),
        "--categorical",
        ",".join(CATEGORICAL_FEATURES),
    ]


def _loopwatch_command(ref: Path, cur: Path) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--loopwatch-child", str(ref), str(cur)]


# --------------------------------------------------------------------------- data


def _dataset(rows: int, seed: int) -> tuple[Path, Path]:
    DATA.mkdir(parents=True, exist_ok=True)
    ignore = DATA / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# generated benchmark data and raw results\n*\n")
    ref = DATA / f"reference-{rows}-{seed}.parquet"
    cur = DATA / f"current-{rows}-{seed}.parquet"
    if not (ref.exists() and cur.exists()):
        print(f"generating {rows:,} + {rows:,} rows into {DATA} ...", flush=True)
        start = time.perf_counter()
        paths = write_drift_dataset(DATA, rows, seed=seed)
        print(f"  done in {time.perf_counter() - start:.1f} s", flush=True)
        ref, cur = paths.reference, paths.current
    return ref, cur


# --------------------------------------------------------------------------- report


def _fmt_seconds(run: Run) -> str:
    if run.status == "ok" and run.compute_seconds is not None:
        return f"{run.compute_seconds:.2f}"
    return "—"


def _ratio(run: Run, anchor: Run | None) -> str:
    if anchor is None or anchor.status != "ok" or not anchor.compute_seconds:
        return "n/a"
    if run.tool == LOOPWATCH:
        return "1.0×"
    if run.status == "ok" and run.compute_seconds is not None:
        return f"{run.compute_seconds / anchor.compute_seconds:.1f}×"
    if run.status == "timeout":
        return f"> {run.wall_seconds / anchor.compute_seconds:.0f}×"
    return "n/a"


def _found(run: Run) -> str:
    if run.status != "ok":
        return run.message
    if run.record.get("note"):
        return str(run.record["note"])
    flagged = set(run.flagged)
    shifted = [name for name in SHIFTED_FEATURES if name in flagged]
    extra = sorted(flagged - set(SHIFTED_FEATURES))
    text = f"{len(flagged)} flagged; shifted found {len(shifted)}/4"
    missed = [name for name in SHIFTED_FEATURES if name not in flagged]
    if missed:
        text += f" (missed {', '.join(missed)})"
    if extra:
        text += f"; also flagged: {', '.join(extra)}"
    return text


def _table(runs: list[Run]) -> list[str]:
    lines = [
        "| tool | rows (ref + cur) | compute s | compute CPU s | wall s | peak RSS MB | "
        "time vs loopwatch | other CPU s | features flagged |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    anchors = {run.rows: run for run in runs if run.tool == LOOPWATCH}
    for run in runs:
        peak = f"{run.peak_mb:,.0f}" if run.peak_mb is not None else "—"
        wall = f"{run.wall_seconds:.1f}" if run.status in ("ok", "timeout") else "—"
        measured = run.status in ("ok", "timeout")
        cpu_value = run.record.get("compute_cpu_seconds")
        cpu = f"{cpu_value:.2f}" if run.status == "ok" and cpu_value is not None else "—"
        other = f"{run.other_cpu_seconds:.1f}" if measured else "—"
        lines.append(
            f"| {run.tool} {run.record.get('version', '')}".rstrip()
            + f" | {run.rows:,} + {run.rows:,} | {_fmt_seconds(run)} | {cpu} | {wall} | {peak} | "
            f"{_ratio(run, anchors.get(run.rows))} | {other} | {_found(run)} |"
        )
    return lines


def _targets(runs: list[Run]) -> list[str]:
    by = {(run.tool, run.rows): run for run in runs}
    lines = []

    def ratio(tool: str, rows: int) -> float | None:
        anchor, other = by.get((LOOPWATCH, rows)), by.get((tool, rows))
        if anchor is None or other is None or anchor.status != "ok":
            return None
        if other.status == "ok" and other.compute_seconds and anchor.compute_seconds:
            return other.compute_seconds / anchor.compute_seconds
        return None

    for rows in sorted({run.rows for run in runs}):
        anchor = by.get((LOOPWATCH, rows))
        if anchor is None or anchor.status != "ok":
            continue
        competitors = [ratio(tool, rows) for tool in TOOLS if ratio(tool, rows) is not None]
        if rows == 1_000_000 and competitors:
            fastest = min(r for r in competitors if r is not None)
            lines.append(f"- 1M: vs the fastest competitor {fastest:.1f}× (target ≥ 15×)")
            evidently = ratio("evidently", rows)
            if evidently is not None:
                lines.append(f"- 1M: vs Evidently {evidently:.1f}× (target ≥ 50×)")
        if rows == 5_000_000:
            nannyml = ratio("nannyml", rows)
            if nannyml is not None:
                lines.append(f"- 5M: vs NannyML {nannyml:.1f}× (target ≥ 20×)")
        if anchor.peak_mb is not None:
            lines.append(f"- {rows:,}: loopwatch peak RSS {anchor.peak_mb:,.0f} MB (target < 1,024)")
    return lines


def _details(runs: list[Run]) -> list[str]:
    lines = []
    for run in runs:
        per_feature = run.record.get("per_feature")
        if not per_feature:
            continue
        lines.append(f"<details><summary>{run.tool}, {run.rows:,} rows: per feature</summary>")
        lines.append("")
        lines.append("```json")
        lines.extend(json.dumps({k: v}) for k, v in per_feature.items())
        lines.append("```")
        if run.record.get("notes"):
            lines.append(f"Note: {run.record['notes']}")
        lines.append("</details>")
        lines.append("")
    return lines


# --------------------------------------------------------------------------- main


def _projected(previous: Run | None, rows: int) -> float | None:
    if previous is None or previous.status != "ok":
        return None
    return previous.wall_seconds * rows / previous.rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,5000000", help="rows per side, comma-separated")
    parser.add_argument("--tools", default=",".join(TOOLS), help="competitors, comma-separated")
    parser.add_argument("--timeout-per-tool", type=float, default=600.0, metavar="SECONDS")
    parser.add_argument("--quick", action="store_true", help="100,000 rows per side only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="before each run, wait up to this long for other CPU use to drop below 25%%",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of every tool per size")
    parser.add_argument("--loopwatch-child", nargs=2, metavar=("REF", "CUR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.loopwatch_child:
        return _loopwatch_child(*args.loopwatch_child)

    sizes = [100_000] if args.quick else [int(size) for size in args.sizes.split(",")]
    tools = [tool.strip() for tool in args.tools.split(",") if tool.strip()]
    unknown = [tool for tool in tools if tool not in TOOLS]
    if unknown:
        parser.error(f"unknown tool {unknown[0]!r} in --tools; expected one of: {', '.join(TOOLS)}")
    run_info = _records.new_run(BENCH, list(argv) if argv is not None else None)
    DATA.mkdir(parents=True, exist_ok=True)
    runs: list[Run] = []
    last: dict[str, Run] = {}
    for rows in sorted(sizes):
        ref, cur = _dataset(rows, args.seed)
        for repeat in range(args.repeat):
            for tool in [LOOPWATCH, *tools]:
                projected = _projected(last.get(tool), rows)
                if projected is not None and projected > args.timeout_per_tool:
                    run = Run(tool=tool, rows=rows, status="skipped")
                    run.message = (
                        f"skipped: projected ~{projected:.0f} s from {last[tool].rows:,} rows "
                        f"exceeds the {args.timeout_per_tool:.0f} s limit"
                    )
                else:
                    print(f"{tool} at {rows:,} + {rows:,} rows, repeat {repeat + 1} ...", flush=True)
                    cmd = (_loopwatch_command(ref, cur) if tool == LOOPWATCH
                           else _runner_command(tool, ref, cur))
                    run = _run_measured(tool, rows, cmd, args.timeout_per_tool, args.wait_idle)
                print(f"  {run.status}: compute {_fmt_seconds(run)} s, wall {run.wall_seconds:.1f} s, "
                      f"peak {run.peak_mb or 0:,.0f} MB; {_found(run)}", flush=True)
                runs.append(run)
                last[tool] = run
                _records.append(BENCH, run_info, {**run.__dict__, "repeat": repeat, "seed": args.seed})
    print()
    print(_tools_table(_records.load(BENCH)))
    return 0


def _from_record(record: dict[str, Any]) -> Run:
    known = {name: record[name] for name in Run.__dataclass_fields__ if name in record}
    return Run(**known)


def _median_of(values: list[float | None], digits: int = 2) -> str:
    found = [v for v in values if v is not None]
    return _records.fmt_spread(found, digits) if found else "—"


def _tools_table(records: list[dict[str, Any]]) -> str:
    found = _records.latest_runs(records)
    if not found:
        return "(no records yet: run benchmarks/compare_anchors.py)\n"
    info = found[0]["run"]
    lines = [
        f"`{info['command']}` on {info['date'][:10]} ({info['cpus']} CPUs, {info['cpu_model']}, "
        f"load average {info['load_average'][0]} at start; commit {info['git']}), data seed "
        f"{found[0].get('seed', 0)}. Median of the repeats (min–max); *vs loopwatch* is each "
        "repeat's compute time over loopwatch's in the same repeat.",
        "",
        "| tool | rows (ref + cur) | ok runs | compute s | compute CPU s | wall s | peak RSS MB "
        "(largest) | vs loopwatch | other CPU s | features flagged (first run) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    anchors = {(r["rows"], r["repeat"]): _from_record(r) for r in found if r["tool"] == LOOPWATCH}
    targets: dict[tuple[str, int], float] = {}
    for (tool, rows), group in _records.group_by(found, "tool", "rows").items():
        runs = [_from_record(r) for r in group]
        ok = [run for run in runs if run.status == "ok"]
        ratios = []
        for record, run in zip(group, runs, strict=True):
            anchor = anchors.get((rows, record["repeat"]))
            if (tool != LOOPWATCH and anchor is not None and anchor.compute_seconds
                    and run.status == "ok" and run.compute_seconds is not None):
                ratios.append(run.compute_seconds / anchor.compute_seconds)
        if ratios:
            targets[(tool, rows)] = _records.spread(ratios)[0]
        peaks = [run.peak_mb for run in ok if run.peak_mb is not None]
        version = next((run.record.get("version") for run in ok if run.record.get("version")), "")
        lines.append(
            f"| {tool} {version}".rstrip() + f" | {rows:,} + {rows:,} | {len(ok)}/{len(runs)} "
            f"| {_median_of([run.compute_seconds for run in ok])} "
            f"| {_median_of([run.record.get('compute_cpu_seconds') for run in ok])} "
            f"| {_median_of([run.wall_seconds for run in ok], 1)} "
            f"| {f'{max(peaks):,.0f}' if peaks else '—'} "
            f"| {'1.0×' if tool == LOOPWATCH else _records.fmt_spread(ratios, 1, '×') if ratios else 'n/a'} "
            f"| {_median_of([run.other_cpu_seconds for run in ok], 1)} "
            f"| {_found(ok[0] if ok else runs[0])} |")
    lines += ["", "Targets (medians):", ""]
    fastest = [v for (tool, rows), v in targets.items() if rows == 1_000_000]
    if fastest:
        lines.append(f"- 1M: vs the fastest competitor run {min(fastest):.1f}× (target ≥ 15×)")
    for tool, rows, target in (("evidently", 1_000_000, 50), ("nannyml", 5_000_000, 20)):
        if (tool, rows) in targets:
            lines.append(f"- {rows // 1_000_000}M: vs {tool} {targets[(tool, rows)]:.1f}× "
                         f"(target ≥ {target}×)")
    for (tool, rows), group in _records.group_by(found, "tool", "rows").items():
        peaks = [p for p in (_from_record(r).peak_mb for r in group) if p is not None]
        if tool == LOOPWATCH and peaks:
            lines.append(f"- {rows:,}: loopwatch peak RSS {max(peaks):,.0f} MB, the largest of "
                         f"{len(peaks)} runs (target < 1,024)")
    if not targets:
        lines.append("- no competitor ran in this invocation: no ratios")
    return "\n".join(lines) + "\n"


def _features_table(records: list[dict[str, Any]]) -> str:
    found = [r for r in _records.latest_runs(records) if r["tool"] == LOOPWATCH and r["repeat"] == 0]
    return "\n".join(_details([_from_record(r) for r in found])) + "\n"


TABLES = {"tools": _tools_table, "features": _features_table}


if __name__ == "__main__":
    raise SystemExit(main())
