"""Benchmark of the decision logger: the caller's-thread cost of ``log()`` and sustained throughput.

Run::

    .venv/bin/python benchmarks/logger_bench.py            # 200k calls, 1M decisions
    .venv/bin/python benchmarks/logger_bench.py --quick    # 20k calls, 100k decisions
    .venv/bin/python benchmarks/logger_bench.py --profile  # also cProfile the writer's work
    .venv/bin/python benchmarks/logger_bench.py --one-core # pin the process to one CPU

Each decision has 20 features (14 numeric, 4 categorical, 2 boolean) plus id, time,
model version, score and action. Latencies are measured per call with
``time.perf_counter_ns`` (so they include the ~50 ns of the timer itself, as does
the baseline), in one run, next to a bare ``list.append`` and to writing one
Parquet file per decision through the store (validate + atomic write + fsync).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import platform
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loopwatch.core.spec import Spec, spec_from_mapping
from loopwatch.prediction.logger import DecisionLogger
from loopwatch.storage.parquet_store import ParquetStore

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
             ) -> list[int]:
    """Nanoseconds of each call ``fn(row)``, with a fresh decision id set outside the timer."""
    clock = time.perf_counter_ns
    out = [0] * len(ids)
    for i, decision_id in enumerate(ids):
        row["decision_id"] = decision_id
        t0 = clock()
        fn(row)
        out[i] = clock() - t0
    return out


def quantiles_us(samples: list[int]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    n = len(ordered)

    def q(p: float) -> float:
        return ordered[min(n - 1, int(p * n))] / 1000

    return statistics.median(ordered) / 1000, q(0.99), q(0.999)


def bench_latency(calls: int, per_file: int, tmp: Path) -> list[tuple[str, int, tuple[float, ...]]]:
    row = make_row()
    ids = [f"d-{i}" for i in range(calls)]
    results: list[tuple[str, int, tuple[float, ...]]] = []

    sink: list[dict[str, Any]] = []
    results.append(("list.append (baseline)", calls, quantiles_us(per_call(sink.append, row, ids))))
    sink.clear()

    spec = make_spec(str(tmp / "latency"))
    # a queue that takes every call, so that the accepted path is what is measured
    logger = DecisionLogger(spec, queue_size=calls)
    gc.collect()
    samples = per_call(logger.log, row, ids)
    logger.flush()
    stats = logger.stats()
    logger.close()
    assert stats.dropped == 0 and stats.written == calls, stats
    results.append(("DecisionLogger.log", calls, quantiles_us(samples)))

    store = ParquetStore.for_spec(make_spec(str(tmp / "per-file")))
    schema = store.schema("decisions")

    def one_file(r: dict[str, Any]) -> None:
        store.write("decisions", schema.conform_rows([r], source="bench"))

    results.append(("one Parquet file per decision", per_file,
                    quantiles_us(per_call(one_file, row, ids[:per_file]))))
    return results


def bench_throughput(n: int, tmp: Path) -> tuple[float, float, Any]:
    row = make_row()
    logger = DecisionLogger(make_spec(str(tmp / "throughput")), on_full="block")
    log = logger.log
    t0 = time.perf_counter()
    for i in range(n):
        row["decision_id"] = f"d-{i}"
        log(row)
    t_logged = time.perf_counter()
    logger.flush()
    t1 = time.perf_counter()
    stats = logger.stats()
    logger.close()
    assert stats.written == n and stats.dropped == 0, stats
    return n / (t1 - t0), t_logged - t0, stats


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer iterations (seconds)")
    parser.add_argument("--profile", action="store_true", help="cProfile the writer's work")
    parser.add_argument("--one-core", action="store_true",
                        help="pin the process (caller and writer threads) to one CPU")
    args = parser.parse_args(argv)
    if args.one_core:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    calls, per_file, n = (20_000, 100, 100_000) if args.quick else (200_000, 300, 1_000_000)

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs "
          f"({len(os.sched_getaffinity(0))} used), load average {load}; "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {'--quick' if args.quick else 'full'}")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        latency = bench_latency(calls, per_file, tmp)
        base = latency[0][2][0]
        print(f"\ncaller's thread, one decision of {NUMERIC + CATEGORICAL + BOOLEAN} features")
        print(f"{'':32} {'calls':>8} {'median µs':>10} {'p99 µs':>10} {'p99.9 µs':>10} "
              f"{'vs append':>10}")
        for label, count, (med, p99, p999) in latency:
            print(f"{label:32} {count:>8} {med:>10.2f} {p99:>10.2f} {p999:>10.2f} "
                  f"{med / base:>10.1f}")
        rate, log_s, stats = bench_throughput(n, tmp)
        print(f"\nsustained: {n:,} decisions logged (on_full='block') and flushed at "
              f"{rate:,.0f} decisions/s (logging loop {log_s:.2f}s; {stats.written:,} written, "
              f"{stats.dropped} dropped)")
        if args.profile:
            print("\nwriter's work under cProfile (validate + write, batches of 10k):")
            print(profile_writer(min(n, 200_000), tmp))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
