"""One process of the concurrency tests (``test_readers.py``): a writer, a compactor or a reader.

Run as ``python store_worker.py ROLE ROOT STOP SPEC_JSON [ARG...]``; it works on the store
at ROOT until the file STOP exists (the writer: from the moment the others are up, see
``ready-*`` beside STOP, until it has written its batches), and prints what it saw as one
JSON object. A reader records every anomaly (a decision seen
twice, rows that disappear, an error) rather than stopping at the first.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

DAY = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 3
PER_BATCH = 30
RESENT = 10


def batch(i: int) -> list[dict[str, Any]]:
    """Batch ``i``: 30 new decisions over three days, and 10 of the previous batch again."""
    resent = range((i - 1) * PER_BATCH, (i - 1) * PER_BATCH + RESENT) if i else range(0)
    ids = [*range(i * PER_BATCH, (i + 1) * PER_BATCH), *resent]
    return [{"decision_id": f"d{n}", "timestamp": (DAY + timedelta(days=n % DAYS, seconds=n))
             .isoformat(), "score": (n % 100) / 100, "amount": float(n)} for n in ids]


def write(store: Any, batches: int, ready: Path, others: int) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while len(list(ready.glob("ready-*"))) < others:  # the readers and the compactor are up
        if time.monotonic() > deadline:
            raise TimeoutError("the other workers never started")
        time.sleep(0.05)
    written = duplicates = 0
    for i in range(batches):
        result = store.ingest("decisions", pa.Table.from_pylist(batch(i)), source="writer")
        written += result.written
        duplicates += result.duplicates
        if i % 4 == 0:  # outcomes too: some now, for decisions of this batch
            store.ingest("outcomes", pa.Table.from_pylist([
                {"decision_id": f"d{i * PER_BATCH}", "observed_at": DAY.isoformat(),
                 "label": True}]), source="writer")
    return {"written": written, "duplicates": duplicates}


def compact(store: Any, stop: Path) -> dict[str, Any]:
    runs = merged = deferred = 0
    while not stop.exists():
        result = store.compact(wait=0.05)
        (stop.parent / "ready-compactor").touch()
        runs += 1
        merged += result.partitions
        deferred = max(deferred, result.pending)
    return {"runs": runs, "merged": merged, "deferred": deferred}


def read(store: Any, stop: Path, mode: str) -> dict[str, Any]:
    errors: list[str] = []
    snapshots = 0
    largest = 0
    while not stop.exists() or snapshots == 0:
        try:
            if mode == "held":  # one connection, its table read twice with a pause between
                con = store.connect()
                table = store.table("decisions", con=con)
                first = table.decision_id.to_pyarrow().to_pylist()
                time.sleep(0.1)
                again = table.decision_id.to_pyarrow().to_pylist()
                if sorted(again) != sorted(first):
                    errors.append(f"the same listing read {len(first)} then {len(again)} rows")
                ids = first
                del table, con
            else:  # a fresh read each time, through Arrow and through the engine's join
                ids = store.read("decisions").column("decision_id").to_pylist()
                joined = store.joined().aggregate(n=lambda t: t.count(),
                                                  distinct=lambda t: t.decision_id.nunique())
                row = joined.to_pyarrow().to_pylist()[0]
                if row["n"] != row["distinct"]:
                    errors.append(f"the join holds {row['n']} rows of {row['distinct']} decisions")
                if row["n"] < len(ids):
                    errors.append(f"the join lost rows: {row['n']} after {len(ids)}")
        except Exception:
            errors.append(traceback.format_exc())
            continue
        snapshots += 1
        (stop.parent / f"ready-{mode}").touch()
        if len(ids) != len(set(ids)):
            errors.append(f"{len(ids) - len(set(ids))} decisions seen twice")
        if len(set(ids)) < largest:
            errors.append(f"rows disappeared: {len(set(ids))} after {largest}")
        largest = max(largest, len(set(ids)))
    return {"snapshots": snapshots, "errors": errors[:5], "error_count": len(errors),
            "largest": largest}


def main() -> None:
    from loopwatch.core.spec import spec_from_mapping
    from loopwatch.storage.parquet_store import ParquetStore

    role, root, stop, spec, *rest = sys.argv[1:]
    store = ParquetStore(root, spec=spec_from_mapping(json.loads(spec)))
    if role == "writer":
        out = write(store, int(rest[0]), Path(stop).parent, int(rest[1]))
    elif role == "compactor":
        out = compact(store, Path(stop))
    else:
        out = read(store, Path(stop), rest[0])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
