"""Time of one daily `loopwatch check` as the history grows: 30, 90 and 365 days stored.

    .venv/bin/python benchmarks/history_bench.py               # 20k a day: 30, 90, 365 days
    .venv/bin/python benchmarks/history_bench.py --per-day 1000000 --days 30,90  # 1M a day
    .venv/bin/python benchmarks/history_bench.py --per-day 2000 --days 10,20 --repeat 1  # a quick look
    .venv/bin/python benchmarks/history_bench.py --per-day 1000000 --days 30,90 --prepare
                                     # build the stores and their profiles; time nothing

Each store holds ``days`` days of decisions (``--per-day`` a day; 6 numeric and 2
categorical features, a cohort column of 4 values) and the outcomes observed until the
end of the last day: half the decisions get one, observed 0 to 14 days after the
decision (uniformly). Its profiles are brought up to date by one `loopwatch check` (not
timed) and kept aside. Then the day after arrives: its decisions, and the outcomes observed
during it (for decisions of the last 14 days). What is timed is the next daily run: the
profiles restored as they were, one `loopwatch check --as-of` the end of that day in a
fresh process (imports included, as from cron), which profiles the new day, relabels the
days the new outcomes concern and runs every check.

Two specs read the same store: one with ``label_horizon: 30d`` (every outcome here is
within it, so both give the same profiles), and one without, whose daily run joins the new
outcomes to every stored decision and reads every outcome to profile the new day.

Sizes are interleaved within each repeat (30, 90, 365 days, then again), so that a change
in the machine's load falls on all of them; each size's ratio to the smallest is taken
repeat by repeat. Records go to ``records/history_bench.jsonl``; stores are cached under
``benchmarks/.data/history`` (365 days at 20k a day is about 0.5 GB; 90 days at 1M a day
about 6 GB).

Only the largest store is written, day by day through the store's ingest; a smaller one is
its first days, hard-linked (a day's decisions, and the outcomes observed on a day, are made
from that day alone, so they are the files writing the smaller store would have made; the
profiles are brought up to date on each store by its own run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _records

ROOT = Path(__file__).resolve().parent
DATA = ROOT / ".data" / "history"
BENCH = "history_bench"
START = datetime(2025, 1, 1, tzinfo=UTC)
MAX_DELAY_DAYS = 14
VARIANTS = {"horizon": "label_horizon: 30d", "none": "no label_horizon"}
NUMERIC = [f"x{i}" for i in range(6)]
CATEGORICAL = {"merchant": 200, "channel": 5}


def spec_dict(horizon: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "model": "bench", "store": ".",
        "features": [{"name": n, "dtype": "numeric"} for n in NUMERIC]
        + [{"name": n, "dtype": "categorical"} for n in CATEGORICAL],
        "cohorts": ["segment"],
        "columns": {"model_version": None, "action": None, "threshold": None, "latency": None,
                    "cost": None, "error": None, "source": None},
        "threshold": 0.5,
        "reference": {"start": START.isoformat(), "end": (START + timedelta(days=14)).isoformat()},
    }
    if horizon:
        spec["label_horizon"] = horizon
    return spec


def decisions(day: int, n: int) -> pa.Table:
    rng = np.random.default_rng(day)
    base = int((START + timedelta(days=day)).timestamp() * 1_000_000)
    micros = np.sort(rng.integers(0, 86_400_000_000, n)) + base
    columns: dict[str, Any] = {
        "decision_id": pc.binary_join_element_wise(f"d{day}-", pa.array(np.arange(n)).cast(pa.string()), ""),
        "timestamp": pa.array(micros, pa.timestamp("us", tz="UTC")),
        "score": rng.random(n),
        "segment": pa.array(np.array(["a", "b", "c", "d"])[rng.integers(0, 4, n)]),
    }
    for i, name in enumerate(NUMERIC):
        columns[name] = rng.normal(i, 1 + i / 3, n)
    for name, k in CATEGORICAL.items():
        codes = pa.array(rng.zipf(1.3, n).clip(1, k))  # the values as strings, made by Arrow (10x numpy's)
        columns[name] = pc.binary_join_element_wise(name[0], codes.cast(pa.string()), "")
    return pa.table(columns)


def outcomes(table: pa.Table, day: int) -> pa.Table:
    """One outcome for about half the decisions, 0 to 14 days later."""
    rng = np.random.default_rng(10_000 + day)
    n = table.num_rows
    keep = rng.random(n) < 0.5
    delay = rng.integers(0, MAX_DELAY_DAYS * 86_400_000_000, n)
    micros = table.column("timestamp").cast(pa.int64()).to_numpy() + delay
    score = table.column("score").to_numpy()
    return pa.table({
        "decision_id": table.column("decision_id").filter(pa.array(keep)),
        "observed_at": pa.array(micros[keep], pa.timestamp("us", tz="UTC")),
        "label": pa.array(rng.random(int(keep.sum())) < score[keep] * 0.2),
    })


def by_observed_day(table: pa.Table) -> dict[int, pa.Table]:
    days = table.column("observed_at").cast(pa.int64()).to_numpy() // 86_400_000_000
    days = days - int(START.timestamp()) // 86_400
    return {int(d): table.filter(pa.array(days == d)) for d in np.unique(days)}


def prepare(sizes: list[int], per_day: int) -> dict[int, Path]:
    """Each size's store (cached between runs): the largest is written, the others are its
    first days (hard links to its files, which are never changed once written)."""
    largest = max(sizes)
    directories = {largest: build(largest, per_day)}
    for days in sorted(set(sizes) - {largest}):
        directories[days] = derive(directories[largest], days, per_day)
    return directories


def _new(directory: Path) -> Any:
    """A fresh directory holding the two specs, and the store they read."""
    import yaml

    from loopwatch.core.spec import load_spec
    from loopwatch.storage.parquet_store import ParquetStore

    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    for variant, horizon in (("horizon", "30d"), ("none", None)):
        (directory / f"{variant}.yaml").write_text(yaml.safe_dump(spec_dict(horizon)))
    return ParquetStore.for_spec(load_spec(directory / "horizon.yaml"))


def _ingest(store: Any, kind: Literal["decisions", "outcomes"], table: pa.Table) -> None:
    """Through the store's own ingest (validation, the day partitions, atomic files)."""
    from loopwatch.storage.parquet_store import ParquetStore

    # a store object per write: its cache of the keys written would otherwise hold every
    # id of the history (about 4 GB by day 22 at a million a day); each write here fills
    # partitions no earlier write touched, so the cache has nothing to catch
    result = ParquetStore(store.root, spec=store.spec).ingest(kind, table, source="bench")
    assert result.quarantined == 0 and result.duplicates == 0, result


def build(days: int, per_day: int) -> Path:
    """A store of ``days`` days, plus the next day's rows kept aside (cached between runs)."""
    import pyarrow.parquet as pq

    directory = DATA / f"{per_day}x{days}"
    if (directory / ".complete").exists():
        return directory
    store = _new(directory)
    pending: dict[int, list[pa.Table]] = {}
    began = time.perf_counter()
    for day in range(days + 1):
        table = decisions(day, per_day)
        for observed, rows in by_observed_day(outcomes(table, day)).items():
            pending.setdefault(observed, []).append(rows)
        arrived = pa.concat_tables(pending.pop(day, []) or [outcomes(table.slice(0, 0), day)])
        if day == days:  # the next day: kept aside, ingested before each timed run
            pq.write_table(table, directory / "next-decisions.parquet")
            pq.write_table(arrived, directory / "next-outcomes.parquet")
            break
        _ingest(store, "decisions", table)
        _ingest(store, "outcomes", arrived)
        if day % 10 == 9:
            print(f"  {per_day:,} a day: wrote {day + 1} of {days} days "
                  f"({time.perf_counter() - began:.0f} s)", file=sys.stderr, flush=True)
    _bring_up_to_date(directory, days)
    _ingest(store, "decisions", pq.read_table(directory / "next-decisions.parquet"))
    _ingest(store, "outcomes", pq.read_table(directory / "next-outcomes.parquet"))
    (directory / ".complete").touch()
    return directory


def derive(larger: Path, days: int, per_day: int) -> Path:
    """The store of the first ``days`` days of ``larger`` (and the day after, kept aside).

    Its files are the larger store's own, hard-linked: decisions of a day, and outcomes by
    their day of observation, are generated from the day alone, so the first days of the
    larger store are what writing ``days`` days would have written, file for file.
    """
    from loopwatch.storage.layout import StoreLayout

    directory = DATA / f"{per_day}x{days}"
    if (directory / ".complete").exists():
        return directory
    store = _new(directory)

    def link(through: int) -> None:
        last = f"date={START + timedelta(days=through):%Y-%m-%d}"
        for kind in ("decisions", "outcomes"):
            for source in StoreLayout(larger, store.spec.model).partitions(kind):
                target = directory / source.relative_to(larger)
                if source.name <= last and not target.exists():
                    target.mkdir(parents=True)
                    for path in source.glob("*.parquet"):
                        os.link(path, target / path.name)

    link(days - 1)
    _bring_up_to_date(directory, days)
    link(days)  # the next day: its decisions, and the outcomes observed during it
    (directory / ".complete").touch()
    return directory


def _bring_up_to_date(directory: Path, days: int) -> None:
    """The profiles up to date for the stored days (the run before the timed one), kept aside."""
    began = time.perf_counter()
    check(directory, "horizon", days)
    print(f"  {directory.name}: profiles up to date ({time.perf_counter() - began:.0f} s)",
          file=sys.stderr, flush=True)
    shutil.rmtree(directory / "profiles.kept", ignore_errors=True)
    shutil.copytree(directory / "profiles", directory / "profiles.kept")


def check(directory: Path, variant: str, days: int) -> float:
    """Seconds of one `loopwatch check` for the day ending at START + ``days`` days."""
    as_of = (START + timedelta(days=days)).strftime("%Y-%m-%d")
    command = [str(Path(sys.executable).parent / "loopwatch"), "check", "--spec",
               str(directory / f"{variant}.yaml"), "--as-of", as_of, "--format", "json"]
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False,
                          env={**os.environ, "LOOPWATCH_STORE": str(directory)})
    seconds = time.perf_counter() - began
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds


def relabelled(directory: Path) -> dict[str, int]:
    """What the timed run did to the history: days stored, and days still owed labels."""
    manifests = list((directory / "profiles").glob("model=*/binning=*/manifest.json"))
    data = json.loads(manifests[0].read_text())
    return {"days_stored": len(data["days"]), "owed": len(data.get("relabel", []))}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--days", default="30,90,365", help="history lengths, comma-separated")
    parser.add_argument("--per-day", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per size and variant")
    parser.add_argument("--variants", default="horizon,none")
    parser.add_argument("--prepare", action="store_true",
                        help="build the stores (and bring their profiles up to date); time nothing")
    args = parser.parse_args(argv)
    sizes = [int(d) for d in args.days.split(",")]
    directories = prepare(sizes, args.per_day)  # built before anything is timed
    if args.prepare:
        return
    run = _records.new_run(BENCH, argv)
    for repeat in range(args.repeat):
        for variant in args.variants.split(","):
            for days in sizes:
                directory = directories[days]
                shutil.rmtree(directory / "profiles")
                shutil.copytree(directory / "profiles.kept", directory / "profiles")
                seconds = check(directory, variant, days + 1)
                record = {"per_day": args.per_day, "days": days, "variant": variant, "repeat": repeat,
                          "seconds": seconds, "load_average": [round(x, 2) for x in os.getloadavg()],
                          **relabelled(directory)}
                _records.append(BENCH, run, record)
                print(json.dumps(record), flush=True)
    print(_table(_records.load(BENCH)))


def _table(records: list[dict[str, Any]]) -> str:
    """Per decisions a day, the latest run: the daily check's time at each history length,
    and its ratio to the shortest, repeat by repeat."""
    lines: list[str] = []
    for (per_day,), group in sorted(_records.group_by(records, "per_day").items()):
        found = _records.latest_runs(group)
        run = found[0]["run"]
        loads = [r["load_average"][0] for r in found]
        lines += [f"{per_day:,} decisions a day: `{run['command']}` on {run['date'][:10]} "
                  f"({run['cpus']} CPUs; load average {run['load_average'][0]} at start, "
                  f"{min(loads)}–{max(loads)} after the runs; commit {run['git']}). Median of the "
                  "repeats (min–max); the ratio is each repeat's time over the shortest history's "
                  "in the same repeat.", "",
                  "| label_horizon | days stored | daily check s | × shortest history |",
                  "|---|---|---|---|"]
        for (variant,), runs in _records.group_by(found, "variant").items():
            shortest = min(r["days"] for r in runs)
            base = {r["repeat"]: r["seconds"] for r in runs if r["days"] == shortest}
            for (days,), at in _records.group_by(sorted(runs, key=lambda r: r["days"]), "days").items():
                ratios = [r["seconds"] / base[r["repeat"]] for r in at if r["repeat"] in base]
                lines.append(f"| {VARIANTS.get(variant, variant)} | {days} "
                             f"| {_records.fmt_spread([r['seconds'] for r in at])} "
                             f"| {_records.fmt_spread(ratios, 2, '×')} |")
        lines.append("")
    return "\n".join(lines) if lines else "(no records yet: run benchmarks/history_bench.py)\n"


TABLES = {"daily": _table}


if __name__ == "__main__":
    main()
