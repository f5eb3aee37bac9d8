"""Benchmark of the decision logger: the caller's-thread cost of ``log()`` under a burst, before and after.

Run::

    .venv/bin/python benchmarks/logger_bench.py            # 3 rounds of 1M-call bursts
    .venv/bin/python benchmarks/logger_bench.py --quick    # 1 round of 100k calls
    .venv/bin/python benchmarks/logger_bench.py --profile  # also cProfile the writer's work
    .venv/bin/python benchmarks/logger_bench.py --one-core # pin the process to one CPU

Each decision has 20 features (14 numeric, 4 categorical, 2 boolean) plus id, time,
model version, score and action. A burst is ``--calls`` ``log()`` calls in a tight
loop on one thread, each timed with ``time.perf_counter_ns`` (so they include the
~50 ns of the timer itself), the logger then closed (everything written). Compared
in each round, in turn:

* ``before``: the logger of commit ``BEFORE`` (its ``logger.py``, read from git and
  imported beside today's store and validator), with its default settings, which
  drop when the queue is full, silently;
* ``after``: today's logger with its default settings (wait for room, at most 10 s);
* ``after, on_full='drop'``: today's logger with the old policy (drops, reported);
* ``after, log_columns``: the same decisions in batches of 64 given as columns, one
  call per batch, the cost per decision being the call's time over 64.

Records go to ``benchmarks/records/logger_bench.jsonl``; ``make bench-tables`` renders them.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib.util
import io
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _records  # noqa: E402

from loopwatch.core.spec import Spec, spec_from_mapping  # noqa: E402
from loopwatch.prediction.logger import DecisionLogger  # noqa: E402
from loopwatch.storage.parquet_store import ParquetStore  # noqa: E402

BENCH = "logger_bench"
#: The commit whose logger is measured as "before" (its default dropped when the queue was full).
BEFORE = "1216ed1"
BATCH = 64

NUMERIC, CATEGORICAL, BOOLEAN = 14, 4, 2


def make_spec(store: str) -> Spec:
    features: list[dict[str, Any]] = (
        [{"name": f"num_{i}", "dtype": "numeric"} for i in range(NUMERIC)]
        + [{"name": f"cat_{i}", "dtype": "categorical"} for i in range(CATEGORICAL)]
        + [{"name": f"flag_{i}", "dtype": "boolean"} for i in range(BOOLEAN)]
    )
    return spec_from_mapping({"model": "bench", "store": store, "features": features})


def make_row() -> dict[str, Any]:
    row: dict[str, Any] = {
        "decision_id": "d-0",
        "timestamp": datetime.now(UTC),
        "model_version": "v7",
        "score": 0.73,
        "action": "approve",
    }
    row.update({f"num_{i}": 0.5 + i for i in range(NUMERIC)})
    row.update({f"cat_{i}": ("fr", "de", "us", "br")[i % 4] for i in range(CATEGORICAL)})
    row.update({f"flag_{i}": i % 2 == 0 for i in range(BOOLEAN)})
    return row


def per_call(fn: Callable[[dict[str, Any]], object], row: dict[str, Any], ids: list[str]
             ) -> tuple[list[int], int]:
    """Nanoseconds of each call ``fn(row)`` (a fresh decision id set outside the timer), and
    how many calls returned true."""
    clock = time.perf_counter_ns
    out = [0] * len(ids)
    accepted = 0
    for i, decision_id in enumerate(ids):
        row["decision_id"] = decision_id
        t0 = clock()
        ok = fn(row)
        out[i] = clock() - t0
        accepted += bool(ok)
    return out, accepted


def quantiles_us(samples: list[int]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    n = len(ordered)

    def q(p: float) -> float:
        return ordered[min(n - 1, int(p * n))] / 1000

    return statistics.median(ordered) / 1000, q(0.99), q(0.999)


def profile_writer(n: int, tmp: Path) -> str:
    """cProfile of the writer thread's work (validate + write), run on this thread."""
    store = ParquetStore.for_spec(make_spec(str(tmp / "profile")))
    schema = store.schema("decisions")
    template = make_row()
    batches = []
    for start in range(0, n, 10_000):
        batch = []
        for i in range(start, min(n, start + 10_000)):
            r = dict(template)
            r["decision_id"] = f"d-{i}"
            batch.append(r)
        batches.append(batch)
    profiler = cProfile.Profile()
    profiler.enable()
    for batch in batches:
        store.write("decisions", schema.conform_rows(batch, source="bench"))
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
    return out.getvalue()


def old_logger_class(tmp: Path) -> Any:
    """``DecisionLogger`` as it was at commit ``BEFORE``, imported from its source in git."""
    source = subprocess.run(["git", "show", f"{BEFORE}:src/loopwatch/prediction/logger.py"],
                            capture_output=True, text=True, check=True, cwd=HERE).stdout
    path = tmp / "logger_before.py"
    path.write_text(source, encoding="utf-8")
    found = importlib.util.spec_from_file_location("logger_before", path)
    assert found is not None and found.loader is not None
    module = importlib.util.module_from_spec(found)
    sys.modules["logger_before"] = module  # dataclasses look their module up there
    found.loader.exec_module(module)
    return module.DecisionLogger


def burst(make: Callable[[Spec], Any], calls: int, tmp: Path, name: str, *,
          columns: bool = False) -> dict[str, Any]:
    """One burst of ``calls`` decisions into a fresh logger; caller-side ns per decision."""
    spec = make_spec(str(tmp / name))
    logger = make(spec)
    row = make_row()
    ids = [f"d-{i}" for i in range(calls)]
    gc.collect()
    t0 = time.perf_counter()
    if columns:
        clock = time.perf_counter_ns
        samples = []
        accepted = 0
        names = list(row)
        for start in range(0, calls, BATCH):
            chunk = ids[start:start + BATCH]
            batch = {n: [row[n]] * len(chunk) for n in names}
            batch["decision_id"] = chunk
            c0 = clock()
            took = logger.log_columns(batch)
            elapsed = clock() - c0
            accepted += len(chunk) if took else 0
            samples.extend([elapsed // len(chunk)] * len(chunk))
    else:
        samples, accepted = per_call(logger.log, row, ids)
    logged = time.perf_counter() - t0
    logger.close()
    total = time.perf_counter() - t0
    stats = logger.stats()
    med, p99, p999 = quantiles_us(samples)
    return {"calls": calls, "median_us": round(med, 3), "p99_us": round(p99, 3),
            "p999_us": round(p999, 3), "max_us": round(max(samples) / 1000, 1),
            "accepted": stats.accepted, "written": stats.written, "dropped": stats.dropped,
            "lost": calls - stats.written - stats.duplicates - stats.quarantined,
            "loop_s": round(logged, 3), "to_written_s": round(total, 3)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="one round of 100k calls")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of the four loggers")
    parser.add_argument("--calls", type=int, default=None, help="log() calls per burst")
    parser.add_argument("--profile", action="store_true", help="cProfile the writer's work")
    parser.add_argument("--one-core", action="store_true",
                        help="pin the process (caller and writer threads) to one CPU")
    parser.add_argument("--no-record", action="store_true", help="print only (development)")
    args = parser.parse_args(argv)
    if args.one_core:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    rounds = args.rounds or (1 if args.quick else 3)
    calls = args.calls or (100_000 if args.quick else 1_000_000)
    run = _records.new_run(BENCH, argv)
    run["before_commit"] = BEFORE

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs "
          f"({len(os.sched_getaffinity(0))} used), load average {load}; "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {rounds} rounds of {calls:,} calls")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        old = old_logger_class(tmp)
        configs: dict[str, tuple[Callable[[Spec], Any], bool]] = {
            f"before ({BEFORE}, default: drop)": (lambda spec: old(spec), False),
            "after (default: block ≤ 10 s)": (lambda spec: DecisionLogger(spec), False),
            "after, on_full='drop'": (lambda spec: DecisionLogger(spec, on_full="drop"), False),
            f"after, log_columns ({BATCH} a call)": (lambda spec: DecisionLogger(spec), True),
        }
        print(f"{'':34} {'median µs':>9} {'p99 µs':>8} {'p99.9 µs':>9} {'max ms':>8} "
              f"{'dropped':>9} {'lost':>9} {'to written s':>12}")
        for r in range(rounds):
            for i, (label, (make, columns)) in enumerate(configs.items()):
                record = burst(make, calls, tmp, f"r{r}-{i}", columns=columns)
                record.update({"config": label, "round": r, "load_before": os.getloadavg()[0]})
                if not args.no_record:
                    _records.append(BENCH, run, record)
                print(f"{label:34} {record['median_us']:>9.2f} {record['p99_us']:>8.2f} "
                      f"{record['p999_us']:>9.2f} {record['max_us'] / 1000:>8.1f} "
                      f"{record['dropped']:>9,} {record['lost']:>9,} {record['to_written_s']:>12.1f}",
                      flush=True)
        if args.profile:
            print("\nwriter's work under cProfile (validate + write, batches of 10k):")
            print(profile_writer(min(calls, 200_000), tmp))
    sys.stdout.flush()


# --- tables for RESULTS.md ----------------------------------------------------------------


def _burst_table(records: list[dict[str, Any]]) -> str:
    latest = _records.latest_runs(records)
    if not latest:
        return "(no runs yet)\n"
    run = latest[0]["run"]
    lines = [f"Run {run['date']}, `{run['command']}`, {run['cpus']} CPUs ({run['cpu_model']}), "
             f"load average at start {run['load_average'][0]}; before = commit "
             f"`{run.get('before_commit')}`.", "",
             "| logger | calls a burst | median µs | p99 µs | p99.9 µs | longest call ms "
             "| dropped | lost silently, all runs | burst to all written, s |",
             "|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
    fmt = _records.fmt_spread
    for (config,), rs in _records.group_by(latest, "config").items():
        silent = sum(r["dropped"] for r in rs) if config.startswith("before") else 0
        lines.append(f"| {config} | {rs[0]['calls']:,} | {fmt([r['median_us'] for r in rs])} | "
                     f"{fmt([r['p99_us'] for r in rs])} | {fmt([r['p999_us'] for r in rs], 1)} | "
                     f"{fmt([r['max_us'] / 1000 for r in rs], 1)} | "
                     f"{fmt([r['dropped'] for r in rs], 0)} | {silent:,} | "
                     f"{fmt([r['to_written_s'] for r in rs], 1)} |")
    return "\n".join(lines) + "\n"


TABLES = {"burst": _burst_table}


if __name__ == "__main__":
    main()
