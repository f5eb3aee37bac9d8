"""Benchmark of what logging costs the serving loop, in CPU per decision, before and after a change.

Run::

    .venv/bin/python benchmarks/logging_cost.py                   # 5 rounds, before = BEFORE
    .venv/bin/python benchmarks/logging_cost.py --rounds 3 --before main

The simulator's fraud loop (the gradient-boosting model of ``serve_bench.py``, 13
features, the serving columns) decides ``--decisions`` transactions in batches of 62
on one thread (``DecisionLoop.decide_now``, no HTTP), logging each batch through a
``DecisionLogger`` that writes ``--rows-per-write`` rows a file, as ``loopwatch serve``'s
logger does at a few hundred decisions a second (it writes every 5 s). Counted
in-process with thread CPU time, as the server counts it: the batch thread's building
and enqueuing of the logged columns, and the writer thread's validating, converting
and writing. Each round runs the code of commit ``--before`` (exported with
``git archive``) and today's code, each in a fresh process, in turn (the order turns
every round), so that the machine's load falls on both alike; figures are the median
of the rounds with their range.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _records  # noqa: E402

BENCH = "logging_cost"
#: the commit before the logging changes this benchmark was written for
BEFORE = "8618275"


def export(commit: str, into: Path) -> Path:
    """The ``src`` tree of ``commit``, written under ``into``."""
    archive = into / "src.tar"
    subprocess.run(["git", "-C", str(HERE.parent), "archive", "-o", str(archive), commit, "src"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / commit, filter="data")
    return into / commit / "src"


def prepare(work: Path, seed: int) -> Path:
    from loopwatch.simulate.serving import fraud_serving

    serving = fraud_serving(seed=seed)
    path = work / "serving.pkl"
    with open(path, "wb") as handle:
        pickle.dump({"spec": serving.spec.to_yaml(), "rows": serving.rows, "labels": serving.labels,
                     "full": serving.full.predictor, "cheap": serving.cheap.predictor,
                     "version": serving.full.version}, handle)
    return path


def worker(saved: Path, decisions: int, rows_per_write: int, store: Path) -> dict[str, float]:
    """One measurement in this process (whose ``loopwatch`` is the code measured)."""
    import yaml

    from loopwatch.core.spec import spec_from_mapping
    from loopwatch.prediction.logger import DecisionLogger
    from loopwatch.prediction.models import Model
    from loopwatch.simulate.serving import CATEGORIES, CHEAP_FEATURES, FEATURES, FraudServing, fraud_loop

    with open(saved, "rb") as handle:
        data = pickle.load(handle)
    from loopwatch.core.spec import Spec

    # keys an older Spec does not know (sections added since, at their defaults) are left out
    known = {k: v for k, v in yaml.safe_load(data["spec"]).items() if k in Spec.model_fields}
    spec = spec_from_mapping({**known, "store": str(store)})
    serving = FraudServing(
        spec=spec, rows=[], labels=data["labels"][:0],
        full=Model(predictor=data["full"], version=data["version"], features=FEATURES, categories=CATEGORIES),
        cheap=Model(predictor=data["cheap"], version="fraud-logreg-1.0", features=CHEAP_FEATURES))
    loop = fraud_loop(serving)
    logger = DecisionLogger(spec, queue_size=200_000, batch_size=rows_per_write, flush_interval=600.0,
                            on_full="block")
    loop.logger = logger
    rows = data["rows"]
    batch = 62

    def run(n: int, offset: int) -> None:
        for start in range(0, n, batch):
            chunk = [dict(rows[(offset + start + i) % len(rows)]) for i in range(batch)]
            loop.decide_now(chunk)

    run(4 * batch, 0)  # warm-up: imports, first file of the day
    logger.flush()
    log0, writer0, main0 = loop.log_cpu_s, logger.stats().writer_cpu_s, time.thread_time()
    run(decisions, 10_000)
    main1 = time.thread_time()
    logger.flush()
    log1, writer1 = loop.log_cpu_s, logger.stats().writer_cpu_s
    done = logger.stats()
    logger.close()
    n = done.written - 4 * batch
    return {"decisions": n, "batch_us": 1e6 * (log1 - log0) / n, "writer_us": 1e6 * (writer1 - writer0) / n,
            "main_us": 1e6 * (main1 - main0) / n}


def measure(src: Path | None, saved: Path, args: argparse.Namespace, store: Path) -> dict[str, float]:
    env = {**os.environ}
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, __file__, "--worker", str(saved), "--decisions",
                           str(args.decisions), "--rows-per-write", str(args.rows_per_write),
                           "--store", str(store)],
                          env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the worker failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--decisions", type=int, default=12_400)
    parser.add_argument("--rows-per-write", type=int, default=2_000,
                        help="rows a write, before and after (the server's at ~400 decisions/s, 5 s)")
    parser.add_argument("--large-writes", type=int, default=10_000,
                        help="rows a write of the third configuration (the server's at ~330/s, 30 s)")
    parser.add_argument("--before", default=BEFORE, help="commit whose code is the baseline")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.decisions, args.rows_per_write, args.store)))
        return
    run = _records.new_run(BENCH, argv)
    print(f"{os.cpu_count()} CPUs, load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"{args.rounds} rounds of {args.decisions} decisions, before = {args.before}", flush=True)
    with tempfile.TemporaryDirectory(prefix="logging-cost-") as name:
        work = Path(name)
        before_src = export(args.before, work)
        saved = prepare(work, args.seed)
        configs = [("before", before_src, args.rows_per_write), ("after", None, args.rows_per_write),
                   (f"after, {args.large_writes:,} rows a write", None, args.large_writes)]
        for r in range(args.rounds):
            for i, (code, src, rows) in enumerate(configs if r % 2 == 0 else configs[::-1]):
                load = os.getloadavg()[0]
                args.rows_per_write = rows
                result = measure(src, saved, args, work / f"store-{r}-{i}")
                record = {"round": r, "code": code, "before": args.before,
                          "rows_per_write": rows, **result,
                          "logging_us": result["batch_us"] + result["writer_us"],
                          "load_before": round(load, 2)}
                _records.append(BENCH, run, record)
                print(f"  round {r} {code:<30} batch thread {result['batch_us']:6.1f} µs  writer "
                      f"{result['writer_us']:6.1f} µs  logging {record['logging_us']:6.1f} µs a decision "
                      f"(loop {result['main_us']:7.1f} µs)  load {load:.2f}", flush=True)


def _table(records: list[dict[str, Any]]) -> str:
    latest = _records.latest_runs(records)
    if not latest:
        return "(no runs yet)\n"
    run = latest[0]["run"]
    lines = [f"Run {run['date']}, `{run['command']}`, {run['cpus']} CPUs ({run['cpu_model']}), "
             f"load average at start {run['load_average'][0]}; before = commit `{latest[0]['before']}`, "
             f"after = commit `{run['git']}`.", "",
             "| code | rows a write | batch thread µs a decision | writer thread µs a decision "
             "| logging µs a decision | load |", "|---|--:|--:|--:|--:|--:|"]
    for (code,), rs in _records.group_by(latest, "code").items():
        lines.append(f"| {code} | {rs[0]['rows_per_write']:,} | "
                     f"{_records.fmt_spread([r['batch_us'] for r in rs], 1)} | "
                     f"{_records.fmt_spread([r['writer_us'] for r in rs], 1)} | "
                     f"{_records.fmt_spread([r['logging_us'] for r in rs], 1)} | "
                     f"{min(r['load_before'] for r in rs)}–{max(r['load_before'] for r in rs)} |")
    rounds = [{r["code"]: r for r in rs} for rs in _records.group_by(latest, "round").values()]
    for code in sorted({c for x in rounds for c in x} - {"before"}):
        saved = [100 * (1 - x[code]["logging_us"] / x["before"]["logging_us"])
                 for x in rounds if code in x and "before" in x]
        if saved:
            lines += ["", f"Logging CPU saved within a round, {code} against before: "
                          f"{_records.fmt_spread(saved, 1, '%')}."]
    return "\n".join(lines) + "\n"


TABLES = {"cost": _table}

if __name__ == "__main__":
    main()
