"""Time and peak memory to profile a decision log, against a floor measured in the same run.

    .venv/bin/python benchmarks/profile_bench.py                 # 1M and 10M rows on DuckDB
    .venv/bin/python benchmarks/profile_bench.py --rows 1000000  # one size
    .venv/bin/python benchmarks/profile_bench.py --engines duckdb,postgres,pyspark --rows 10000000
    .venv/bin/python benchmarks/profile_bench.py --prepare --engines postgres --rows 10000000
                                                     # build the store, load PostgreSQL; time nothing

The data: the synthetic drift job's reference generator (20 features: 14 numeric,
6 categorical with 5 to 10,000 values; one cohort column with 8 values), with
timestamps spread over 90 days and written into a loopwatch store (one file per
day). Each measurement runs in a fresh process, so its peak RSS is its own.

* floor: one DuckDB pass over the same files that reads every column the profile reads
  (sums the numeric features and the score, the largest value of each categorical feature,
  the cohort column and the timestamp), on the connection the profile runs on: the same
  memory limit (``LOOPWATCH_ENGINE_MEMORY``, 512 MB by default), spill directory and threads.
* bins alone: one DuckDB pass over the same files, on the same connection, that only computes the bin index of
  every numeric feature (the profile's own comparison trees, compiled by Ibis, kept by
  `max`), and the same with DuckDB's native `histogram(x, edges)` aggregate: a lower
  bound for any plan that bins in the engine, before categories, days, cohorts, score
  histograms and moments.
* profile (DuckDB): what `loopwatch profile` does, `ProfileHistory.update()` into an
  empty history: the full daily profile (every day × every cohort value and hour of
  day, bins of all 20 features, score × action, moments, unseen sketches), written
  chunk by chunk, with the reference bins already fitted (the fit is timed on its own).
* profile (Spark, PostgreSQL): the same aggregates returned in memory (`profile_parts`), Spark
  on the store's files (local[2]), PostgreSQL on a table at 127.0.0.1:5432/test loaded from
  them once by COPY (not timed). Spark keeps the window's projection as one cached job and
  fetches the aggregates in day groups; PostgreSQL, like DuckDB, goes chunk by chunk.

Peak memory is the Python process's (for Spark, the driver's Python side; the JVM is a
process of its own and not counted): ``peak_rss_mb`` over the whole child, fit included,
and ``profile_peak_rss_mb``, the high-water mark reset once the fit is done (Linux
``/proc/self/clear_refs``), so the profile's own.

``--prepare`` builds the stores (and loads the PostgreSQL table when ``postgres`` is among
the engines) and times nothing, so that a timed run can start on data already there.
``--parts`` limits what is measured (default: the floor, both bins-alone passes and the
profiles). ``LOOPWATCH_BENCH_SPARK_EVENTS=<dir>`` writes Spark's event log (stage and task
times) there.

Every measurement is repeated (``--repeat``, 3 by default) and appended to
``records/profile_bench.jsonl``; the tables quote the median and the spread of the
runs, and ratios to the floor are taken repeat by repeat (each against the floor
measured just before it). The 10M-row store takes a few minutes to build the first time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _records

ROOT = Path(__file__).resolve().parent
DATA = ROOT / ".data" / "profile"
BENCH = "profile_bench"
START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 90
CHUNK = 1_000_000


def spec_dict() -> dict[str, Any]:
    from loopwatch.simulate.synthetic import CATEGORICAL_FEATURES, NUMERIC_FEATURES

    return {
        "model": "bench",
        "store": "./store",
        "features": [{"name": n, "dtype": "numeric"} for n in NUMERIC_FEATURES]
        + [{"name": n, "dtype": "categorical"} for n in CATEGORICAL_FEATURES],
        "cohorts": ["segment"],
        "columns": {"model_version": None, "action": None, "threshold": None, "latency": None,
                    "cost": None, "error": None, "source": None},
        "reference": {"start": START.isoformat(), "end": (START + timedelta(days=30)).isoformat()},
    }


def build(rows: int) -> Path:
    """Write ``rows`` decisions over 90 days into a store (cached between runs)."""
    import yaml

    from loopwatch.core.spec import load_spec
    from loopwatch.simulate.synthetic import drift_dataset
    from loopwatch.storage.parquet_store import ParquetStore

    directory = DATA / f"{rows}"
    done = directory / ".complete"
    if done.exists():
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "loopwatch.yaml").write_text(yaml.safe_dump(spec_dict()))
    spec = load_spec(directory / "loopwatch.yaml")
    store = ParquetStore.for_spec(spec)
    rng = np.random.default_rng(11)
    span = DAYS * 86_400 * 1_000_000
    for i, offset in enumerate(range(0, rows, CHUNK)):
        n = min(CHUNK, rows - offset)
        table = drift_dataset(n, shifted=False, seed=100 + i)
        micros = np.sort(rng.integers(0, span, n)) + int(START.timestamp() * 1_000_000)
        table = table.set_column(table.schema.get_field_index("timestamp"), "timestamp",
                                 pa.array(micros, pa.timestamp("us", tz="UTC")))
        ids = pa.array(np.char.add(f"c{i}-", np.arange(n).astype(str)))
        table = table.set_column(table.schema.get_field_index("decision_id"), "decision_id", ids)
        result = store.ingest("decisions", table, source="bench")
        assert result.quarantined == 0, result
        print(f"  wrote {offset + n:,} / {rows:,} rows", file=sys.stderr)
    done.touch()
    return directory


def measure(directory: Path, what: str, engine: str) -> dict[str, Any]:
    """Run one measurement in this process (called in a child); returns seconds and peak RSS."""
    from loopwatch.core.spec import load_spec
    from loopwatch.storage.fitting import fit_binning
    from loopwatch.storage.parquet_store import ParquetStore
    from loopwatch.storage.profile_history import ProfileHistory
    from loopwatch.storage.profiling import profile_parts

    spec = load_spec(directory / "loopwatch.yaml")
    store = ParquetStore.for_spec(spec)
    out: dict[str, Any] = {}
    if what == "prepare":  # the PostgreSQL table loaded once, outside any timed run
        _postgres_table(store)
        return out
    if what == "floor":
        from loopwatch.simulate.synthetic import CATEGORICAL_FEATURES, NUMERIC_FEATURES

        files = [str(f) for f in store.files("decisions")]
        # the profile's own connection: its memory limit, spill directory and threads
        con = store.connect()
        con.read_parquet(files, table_name="decisions")
        reads = ([f"sum({name})" for name in (*NUMERIC_FEATURES, "score")]
                 + [f"max({name})" for name in (*CATEGORICAL_FEATURES, "segment", "timestamp")])
        began = time.perf_counter()
        con.raw_sql(f"SELECT {', '.join(reads)} FROM decisions").fetchall()
        out["seconds"] = time.perf_counter() - began
    elif what in ("trees", "histogram"):
        out["seconds"] = _bins_alone(store, spec, what)
    elif engine in ("pyspark", "postgres"):
        con = store.connect()
        reference_table = store.table("decisions", con=con)
        ts = reference_table.timestamp
        began = time.perf_counter()
        binning = fit_binning(reference_table.filter(ts < START + timedelta(days=30)), spec)
        out["fit_seconds"] = time.perf_counter() - began
        con, table = _spark_table(store) if engine == "pyspark" else _postgres_table(store)
        _reset_peak()
        began = time.perf_counter()
        parts = profile_parts(table, spec, binning, start=START, end=START + timedelta(days=DAYS),
                              con=con)
        out["seconds"] = time.perf_counter() - began
        out["groups"] = parts.moments.num_rows
    else:
        # what `loopwatch profile` does: fit the reference's bins, then profile every day
        # into the profile history (each chunk written before the next is computed)
        history = ProfileHistory(store)
        shutil.rmtree(history._base(), ignore_errors=True)  # a fresh history each run
        began = time.perf_counter()
        history.binning()
        out["fit_seconds"] = time.perf_counter() - began
        _reset_peak()
        began = time.perf_counter()
        result = history.update()
        out["seconds"] = time.perf_counter() - began
        out["groups"] = result.days_profiled
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if what == "profile":
        out["profile_peak_rss_mb"] = _peak_since_reset()
    return out


def _reset_peak() -> None:
    """Reset this process's peak resident size to its current size (Linux 4.0 and later)."""
    Path("/proc/self/clear_refs").write_text("5")


def _peak_since_reset() -> float:
    """This process's peak resident size in MB since :func:`_reset_peak` (``VmHWM``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _bins_alone(store: Any, spec: Any, how: str) -> float:
    """Seconds for one pass that only bins the numeric features (``trees`` or ``histogram``)."""
    import ibis
    import sqlglot as sg

    from loopwatch.storage.bin_expressions import numeric_bin
    from loopwatch.storage.fitting import split_features
    from loopwatch.storage.profile_history import ProfileHistory

    binning = ProfileHistory(store).binning()  # fitted once, not timed
    numeric, _ = split_features(spec)
    con = store.connect()  # as the floor's and the profile's: memory limit, threads
    con.read_parquet([str(f) for f in store.files("decisions")], table_name="decisions")
    if how == "trees":
        table = ibis.table({name: "float64" for name in numeric}, name="decisions")
        expr = table.aggregate(**{f"b{k}": numeric_bin(table[name], binning.numeric[name]).max()
                                  for k, name in enumerate(numeric)})
        sql = ibis.to_sql(expr, dialect="duckdb")
    else:
        columns = ", ".join(
            f"histogram({sg.to_identifier(name, quoted=True).sql('duckdb')}, "
            f"{[float(e) for e in binning.numeric[name]]})" for name in numeric)
        sql = f"SELECT {columns} FROM decisions"
    began = time.perf_counter()
    con.raw_sql(sql).fetchall()
    return time.perf_counter() - began


def _spark_table(store: Any) -> tuple[Any, Any]:
    import ibis
    from pyspark.sql import SparkSession

    builder = (SparkSession.builder.master("local[2]").appName("loopwatch-bench")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "8")
               .config("spark.driver.memory", "4g").config("spark.sql.session.timeZone", "UTC")
               .config("spark.ui.showConsoleProgress", "false"))
    events = os.environ.get("LOOPWATCH_BENCH_SPARK_EVENTS")
    if events:  # Spark's event log (stage and task times), to see where a run goes
        Path(events).mkdir(parents=True, exist_ok=True)
        builder = (builder.config("spark.eventLog.enabled", "true")
                   .config("spark.eventLog.dir", Path(events).resolve().as_uri()))
    session = builder.getOrCreate()
    con = ibis.pyspark.connect(session)
    # one glob: Ibis's Spark backend takes a single path (committed files end in .parquet)
    pattern = store.root / "decisions" / f"model={store.spec.model}" / "date=*" / "*.parquet"
    return con, con.read_parquet(str(pattern))


def _postgres_table(store: Any) -> tuple[Any, Any]:
    """The store's decisions in a PostgreSQL table at 127.0.0.1:5432/test (loaded once, by COPY)."""
    import io

    import ibis
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    con = ibis.postgres.connect(host="127.0.0.1", port=5432, user="postgres", database="test")
    files = store.files("decisions")
    name = f"lw_bench_decisions_{sum(pq.ParquetFile(f).metadata.num_rows for f in files)}"
    if name not in con.list_tables():
        loading = f"{name}_loading"
        con.create_table(loading, schema=ibis.Schema.from_pyarrow(store.schema("decisions").arrow),
                         overwrite=True)
        for path in files:
            buffer = io.BytesIO()
            table = pq.read_table(path)
            pacsv.write_csv(table, buffer)
            columns = ", ".join(f'"{c}"' for c in table.column_names)
            with con.con.cursor() as cursor, cursor.copy(
                    f'COPY "{loading}" ({columns}) FROM STDIN WITH (FORMAT csv, HEADER true)') as copy:
                copy.write(buffer.getvalue())
            con.con.commit()
        with con.con.cursor() as cursor:  # complete, then named: an interrupted load is not reused
            cursor.execute(f'ALTER TABLE "{loading}" RENAME TO "{name}"')
        con.con.commit()
    return con, con.table(name)


def child(directory: Path, what: str, engine: str) -> dict[str, Any]:
    began = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", str(directory), what, engine],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} on {engine} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - began
    # the child's own peak, as the kernel counted it
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", default="1000000,10000000")
    parser.add_argument("--engines", default="duckdb")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median kept)")
    parser.add_argument("--parts", default="floor,trees,histogram,profile",
                        help="what to measure, in this order (the floor is always measured)")
    parser.add_argument("--prepare", action="store_true",
                        help="build the stores (and the PostgreSQL table); measure nothing")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        directory, what, engine = args.child
        print(json.dumps(measure(Path(directory), what, engine)))
        return
    engines = args.engines.split(",")
    if args.prepare:
        for rows in (int(r) for r in args.rows.split(",")):
            directory = build(rows)
            if "postgres" in engines:
                child(directory, "prepare", "postgres")
        return
    parts = [p for p in args.parts.split(",") if p != "floor"]
    unknown = set(parts) - {"trees", "histogram", "profile"}
    if unknown:
        parser.error(f"--parts: unknown {sorted(unknown)} (floor, trees, histogram, profile)")
    run = _records.new_run(BENCH, argv)
    for rows in (int(r) for r in args.rows.split(",")):
        directory = build(rows)
        for repeat in range(args.repeat):
            # each repeat measures its own floor first: ratios are taken within a repeat
            steps = [("floor", "duckdb"), *[(p, "duckdb") for p in parts if p != "profile"],
                     *[("profile", e) for e in engines if "profile" in parts]]
            for what, engine in steps:
                result = child(directory, what, engine)
                record = {"rows": rows, "what": what, "engine": engine, "repeat": repeat, **result}
                _records.append(BENCH, run, record)
                print(json.dumps(record), flush=True)
    print(_profile_table(_records.load(BENCH)))
    print(_bins_table(_records.load(BENCH)))


def _paired(group: list[dict[str, Any]], floors: list[dict[str, Any]]) -> list[float]:
    by_repeat = {r["repeat"]: r["seconds"] for r in floors}
    return [r["seconds"] / by_repeat[r["repeat"]] for r in group if r["repeat"] in by_repeat]


def _latest_per_size(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records of the latest run that measured each size, smallest size first."""
    sizes = sorted({r["rows"] for r in records})
    return [r for rows in sizes for r in _records.latest_runs(records, where={"rows": rows})]


def _header(found: list[dict[str, Any]]) -> str:
    runs = list(dict.fromkeys(r["run"]["id"] for r in found))
    parts = []
    for run in (next(r["run"] for r in found if r["run"]["id"] == i) for i in runs):
        parts.append(f"`{run['command']}` on {run['date'][:10]} ({run['cpus']} CPUs, load average "
                     f"{run['load_average'][0]} at start; commit {run['git']})")
    return ("; ".join(parts) + ". Median of the repeats (min–max); each ratio is a repeat's time "
            "over the floor measured in the same repeat.")


def _profile_table(records: list[dict[str, Any]]) -> str:
    found = _latest_per_size(records)
    if not found:
        return "(no records yet: run benchmarks/profile_bench.py)\n"
    lines = [_header(found) + " *× duckdb*: each repeat's time over DuckDB's profile in the same "
             "repeat (DuckDB's also writes the history). *profile's peak*: the process's peak "
             "resident size from the end of the fit (for Spark, the driver's Python process; the "
             "JVM is not counted).", "",
             "| engine | rows | floor s | profile s | × floor | × duckdb | rows/s | fit s "
             "| peak RSS MB | profile's peak MB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for (rows,), group in _records.group_by(found, "rows").items():
        floors = [r for r in group if r["what"] == "floor"]
        profiles = [r for r in group if r["what"] == "profile"]
        duckdb = [r for r in profiles if r["engine"] == "duckdb"]
        for (engine,), runs in _records.group_by(profiles, "engine").items():
            seconds = [r["seconds"] for r in runs]
            versus = (_records.fmt_spread(_paired(runs, duckdb), 2, "×")
                      if duckdb and engine != "duckdb" else "–")
            own = [r["profile_peak_rss_mb"] for r in runs if "profile_peak_rss_mb" in r]
            lines.append(
                f"| {engine} | {rows:,} | {_records.fmt_spread([r['seconds'] for r in floors])} "
                f"| {_records.fmt_spread(seconds)} | {_records.fmt_spread(_paired(runs, floors), 1, '×')} "
                f"| {versus} | {rows / _records.spread(seconds)[0]:,.0f} "
                f"| {_records.fmt_spread([r['fit_seconds'] for r in runs])} "
                f"| {max(r['peak_rss_mb'] for r in runs):,.0f} (largest) "
                f"| {f'{max(own):,.0f} (largest)' if own else '–'} |")
    return "\n".join(lines) + "\n"


def _bins_table(records: list[dict[str, Any]]) -> str:
    found = _latest_per_size(records)
    if not found:
        return "(no records yet: run benchmarks/profile_bench.py)\n"
    lines = [_header(found), "", "| bins by | rows | floor s | bins alone s | × floor |",
             "|---|---|---|---|---|"]
    for (rows,), group in _records.group_by(found, "rows").items():
        floors = [r for r in group if r["what"] == "floor"]
        for how in ("trees", "histogram"):
            runs = [r for r in group if r["what"] == how]
            if runs:
                lines.append(f"| {how} | {rows:,} | {_records.fmt_spread([r['seconds'] for r in floors])} "
                             f"| {_records.fmt_spread([r['seconds'] for r in runs])} "
                             f"| {_records.fmt_spread(_paired(runs, floors), 1, '×')} |")
    return "\n".join(lines) + "\n"


TABLES = {"profile": _profile_table, "bins": _bins_table}


if __name__ == "__main__":
    main()
