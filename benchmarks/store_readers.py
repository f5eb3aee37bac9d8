"""Readers and writers of the embedded store while a compaction runs: how long each waits.

    .venv/bin/python benchmarks/store_readers.py [--runs 3] [--days 10] [--files 8]
        [--rows 25000] [--before 174991f]

The same store (``days`` × ``files`` files of ``rows`` decisions) is compacted by another
process, once with the store's code at ``--before`` (the single-module store, whose
readers took the writers' exclusive lock and whose compaction held it throughout) and
once with the current code, alternately, ``--runs`` times each. Meanwhile this process
measures, against the same store:

* a reader: ``count("decisions")`` (list the files, read their footers) again and again;
* a writer: an ingest of 100 decisions into a day of its own, every 0.2 s;
* separately, a reader that opened its table before a compaction reads it again after
  (the current code's compaction is told not to wait for it).

Records go to ``benchmarks/records/store_readers.jsonl``; ``TABLES`` renders them for
``benchmarks/store_RESULTS.md`` (``make bench-tables``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _records

BENCH = "store_readers"
ROOT = Path(__file__).resolve().parent.parent
SPEC = {"model": "m", "features": [{"name": "x", "dtype": "numeric"},
                                   {"name": "c", "dtype": "categorical"}]}
DAY = datetime(2026, 3, 1, tzinfo=UTC)

COMPACT = """
import importlib.util, inspect, json, sys, time
from loopwatch.core.spec import spec_from_mapping
spec = importlib.util.spec_from_file_location("store_under_test", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module  # its dataclasses look their module up
spec.loader.exec_module(module)
store = module.ParquetStore(sys.argv[2], spec=spec_from_mapping(json.loads(sys.argv[3])))
# with a reader holding the store, the current code would wait for it; here it must not
wait = {"wait": 0.0} if sys.argv[4] == "no-wait" else {}
if "wait" not in inspect.signature(store.compact).parameters:
    wait = {}
print("start", flush=True)
began = time.perf_counter()
result = store.compact(**wait)
print(json.dumps({"seconds": time.perf_counter() - began, "ended": time.time(),
                  "partitions": result.partitions, "pending": getattr(result, "pending", 0)}))
"""


def _compaction(source: Path, root: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", COMPACT, str(source), str(root),
                             json.dumps(SPEC), mode], stdout=subprocess.PIPE, text=True)


def _module(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"store_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _template(root: Path, days: int, files: int, rows: int) -> None:
    from loopwatch.core.spec import spec_from_mapping
    from loopwatch.storage.parquet_store import ParquetStore

    store = ParquetStore(root, spec=spec_from_mapping(SPEC))
    rng = np.random.default_rng(7)
    for day in range(days):
        for f in range(files):
            n = rows
            first = (day * files + f) * n
            stamps = [DAY + timedelta(days=day, seconds=int(s)) for s in rng.integers(0, 86_400, n)]
            store.ingest("decisions", pa.table({
                "decision_id": [f"d{first + i}" for i in range(n)],
                "timestamp": pa.array(stamps, pa.timestamp("us", tz="UTC")),
                "score": rng.random(n), "x": rng.normal(size=n),
                "c": rng.choice(["a", "b", "c"], n),
            }), source="bench")


def _batch(k: int) -> pa.Table:
    at = DAY + timedelta(days=400)  # a day of its own: the compaction never touches it
    return pa.Table.from_pylist([{"decision_id": f"w{k}-{i}", "timestamp": at.isoformat(),
                                  "score": 0.5, "x": 1.0, "c": "a"} for i in range(100)])


def _alone(store_module: Any, source: Path, root: Path) -> dict[str, Any]:
    """The compaction with nothing else running."""
    child = _compaction(source, root, "default")
    compacted = json.loads(child.communicate()[0].splitlines()[-1])
    return {"alone_seconds": compacted["seconds"]}


def _contention(store_module: Any, source: Path, root: Path) -> dict[str, Any]:
    """Readers' and writers' waits while another process compacts the store.

    The reader reads again as soon as it is done (the worst case for a compaction's
    swaps, which need a moment without readers); the writer ingests every 0.2 s.
    """
    from loopwatch.core.spec import spec_from_mapping

    store = store_module.ParquetStore(root, spec=spec_from_mapping(SPEC))
    child = _compaction(source, root, "default")
    assert child.stdout is not None and child.stdout.readline().strip() == "start"
    reads: list[tuple[float, float]] = []  # (wall-clock start, seconds)
    writes: list[tuple[float, float]] = []
    next_write = time.perf_counter()
    while child.poll() is None:
        began, clock = time.perf_counter(), time.time()
        store.count("decisions")
        reads.append((clock, time.perf_counter() - began))
        if time.perf_counter() >= next_write:
            began, clock = time.perf_counter(), time.time()
            store.ingest("decisions", _batch(len(writes)), source="bench")
            writes.append((clock, time.perf_counter() - began))
            next_write = time.perf_counter() + 0.2
    compacted = json.loads(child.communicate()[0])
    # only what started while the compaction ran
    during = [t for start, t in reads if start < compacted["ended"]]
    written = [t for start, t in writes if start < compacted["ended"]]
    return {
        "compaction_seconds": compacted["seconds"], "partitions": compacted["partitions"],
        "pending": compacted["pending"],
        "reads": len(during), "read_median_ms": _ms(statistics.median, during),
        "read_max_ms": _ms(max, during), "writes": len(written),
        "write_median_ms": _ms(statistics.median, written), "write_max_ms": _ms(max, written),
    }


def _ms(statistic: Any, seconds: list[float]) -> float | None:
    return 1000 * statistic(seconds) if seconds else None


def _held(store_module: Any, source: Path, root: Path) -> dict[str, Any]:
    """Does a reader that listed its files before a compaction read them after it?"""
    from loopwatch.core.spec import spec_from_mapping

    store = store_module.ParquetStore(root, spec=spec_from_mapping(SPEC))
    con = store.connect()
    held = store.table("decisions", con=con)
    expected = held.count().to_pyarrow().as_py()
    child = _compaction(source, root, "no-wait")
    child.communicate()
    try:
        return {"held_reader_ok": held.count().to_pyarrow().as_py() == expected,
                "held_reader_error": None}
    except Exception as exc:  # the files it listed were removed under it
        return {"held_reader_ok": False, "held_reader_error": type(exc).__name__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--rows", type=int, default=25_000)
    parser.add_argument("--before", default="174991f",
                        help="commit whose storage/parquet_store.py is the code before")
    args = parser.parse_args()
    run = _records.new_run(BENCH)
    work = Path(tempfile.mkdtemp(prefix="store-readers-"))
    try:
        old = work / "before.py"
        old.write_text(subprocess.run(
            ["git", "show", f"{args.before}:src/loopwatch/storage/parquet_store.py"],
            cwd=ROOT, capture_output=True, text=True, check=True).stdout)
        new = ROOT / "src/loopwatch/storage/parquet_store.py"
        template = work / "template"
        _template(template, args.days, args.files, args.rows)
        for i in range(args.runs):
            for code, source in (("before", old), ("after", new)):
                module = _module(source)
                result: dict[str, Any] = {}
                for measure in (_alone, _contention, _held):
                    root = work / f"{code}-{i}"
                    shutil.copytree(template, root)
                    result.update(measure(module, source, root))
                    shutil.rmtree(root)
                record = {"code": code, "days": args.days, "files": args.files,
                          "rows": args.rows, **result}
                _records.append(BENCH, run, record)
                print(json.dumps(record), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _table(records: list[dict[str, Any]]) -> str:
    found = _records.latest_runs(records)
    if not found:
        return "(no records yet: run benchmarks/store_readers.py)\n"
    first = found[0]
    lines = [
        f"{first['days']} days × {first['files']} files × {first['rows']:,} decisions, "
        f"compacted by another process; `{first['run']['command']}` on "
        f"{first['run']['date'][:10]} ({first['run']['cpus']} CPUs, load average "
        f"{first['run']['load_average'][0]} at start). Median of the runs (min–max). Reads "
        "and ingests: those that started while the compaction ran.",
        "",
        "| code | compaction alone (s) | compaction beside a reader and a writer (s) "
        "| reads | longest read (ms) | ingests of 100 | median ingest (ms) "
        "| longest ingest (ms) | reader holding its table |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (code,), group in _records.group_by(found, "code").items():
        held = sum(r["held_reader_ok"] for r in group)
        errors = sorted({r["held_reader_error"] for r in group if r["held_reader_error"]})
        lines.append(
            f"| {code} | {_records.fmt_spread([r['alone_seconds'] for r in group], 1)} "
            f"| {_records.fmt_spread([r['compaction_seconds'] for r in group], 1)} "
            f"| {_records.fmt_spread([r['reads'] for r in group], 0)} "
            f"| {_spread(group, 'read_max_ms')} "
            f"| {_records.fmt_spread([r['writes'] for r in group], 0)} "
            f"| {_spread(group, 'write_median_ms')} | {_spread(group, 'write_max_ms')} "
            f"| read again in {held} of {len(group)} runs"
            + (f" ({', '.join(errors)} otherwise)" if errors else "") + " |")
    return "\n".join(lines) + "\n"


def _spread(group: list[dict[str, Any]], key: str) -> str:
    values = [r[key] for r in group if r[key] is not None]
    return _records.fmt_spread(values, 0) if values else "-"


TABLES = {"contention": _table}


if __name__ == "__main__":
    main()
