"""What leaves the warehouse: the size of one day's aggregates, for the benchmark stores' specs.

    .venv/bin/python benchmarks/aggregate_bytes.py benchmarks/.data/history/20000x30 \\
        benchmarks/.data/profile/10000000

A profile run on a warehouse source returns only aggregates: per day, the counts,
moments, label, sketch and by-bin tables of every cohort value. Their size depends on
the spec (features, bins, categories, cohort values), not on how many decisions a day
holds. For each store given (its profiles already computed, by ``history_bench.py`` or
``profile_bench.py``), this reads every stored day's parts and records the median
Arrow size of a day (what a query's results hold in memory, near what crosses the
network) and the median on-disk Parquet size of a day in the profile history.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _records

BENCH = "aggregate_bytes"


def measure(directory: Path) -> dict[str, Any]:
    from loopwatch.core.spec import load_spec
    from loopwatch.storage.parquet_store import ParquetStore
    from loopwatch.storage.profile_history import ProfileHistory, _day

    spec_path = next(p for p in (directory / "horizon.yaml", directory / "loopwatch.yaml") if p.exists())
    spec = load_spec(spec_path)
    store = ParquetStore.for_spec(spec)
    history = ProfileHistory(store)
    manifest = history._manifest(history.binning())
    days = sorted(manifest["days"])
    sizes = []
    for d in days:
        parts = history.parts(start=_day(d), end=_day(d) + timedelta(days=1))
        sizes.append(sum(getattr(parts, name).nbytes for name in
                         ("counts", "moments", "labels", "sketch", "by_bin")))
    decisions_per_day = store.count("decisions") / max(1, len(store.versions("decisions")))
    return {"store": directory.name, "days": len(days), "decisions_per_day": round(decisions_per_day),
            "features": len(spec.features), "cohorts": list(spec.cohorts),
            "arrow_bytes_per_day": statistics.median(sizes), "arrow_bytes_max": max(sizes)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("stores", nargs="+", type=Path)
    args = parser.parse_args(argv)
    run = _records.new_run(BENCH, argv)
    for directory in args.stores:
        record = measure(directory)
        _records.append(BENCH, run, record)
        print(json.dumps(record), flush=True)
    print(_table(_records.load(BENCH)))


def _table(records: list[dict[str, Any]]) -> str:
    found = _records.latest_runs(records)
    if not found:
        return "(no records yet: run benchmarks/aggregate_bytes.py)\n"
    run = found[0]["run"]
    lines = [f"`{run['command']}` on {run['date'][:10]} (commit {run['git']}).", "",
             "| store | features | decisions a day | days | aggregates a day (median) | largest day |",
             "|---|---|---|---|---|---|"]
    for r in found:
        lines.append(f"| {r['store']} | {r['features']} | {r['decisions_per_day']:,} | {r['days']} "
                     f"| {r['arrow_bytes_per_day'] / 1024:,.0f} KB | {r['arrow_bytes_max'] / 1024:,.0f} KB |")
    return "\n".join(lines) + "\n"


TABLES = {"sizes": _table}


if __name__ == "__main__":
    main()
