"""Benchmark of ``loopwatch serve``: micro-batching against batch size 1, logging on against off; the cascade.

Run::

    .venv/bin/python benchmarks/serve_bench.py                 # 8 rounds of 3 servers, then the cascade
    .venv/bin/python benchmarks/serve_bench.py --rounds 1 --seconds 5   # quicker
    .venv/bin/python benchmarks/serve_bench.py --part cascade  # the cascade only

Serving: the simulator's scikit-learn gradient-boosting fraud model (13 features)
behind ``loopwatch serve`` (uvicorn, one process), loaded by Debian's ``wrk`` from
another process at a fixed concurrency (one thread, ``--connections`` connections,
each sending ``POST /v1/decide`` with one decision drawn from 2,000 simulated
transactions). Three servers a round, in turn: batched (``--batch-rows 64``, 2 ms
wait budget) with logging, batched without logging, batch size 1 with logging (the
order turning over four rounds, logging on and off always next to each other);
each server is warmed up before it is measured. Throughput is a timed figure: run it
under the machine's benchmark lock with others' work niced; the kernel's autogroups
share the CPU between sessions by the niceness of each session's group, not of its
processes, so run it in a session of its own whose group is not niced below theirs
(``setsid sh -c 'echo -10 > /proc/$$/autogroup; exec .venv/bin/python benchmarks/serve_bench.py'``).
The records keep the load average, this process's niceness and its group's. The server counts the CPU time it
spends logging (the batch thread's building and enqueuing, the writer thread's
validating and writing), which the machine's other load does not move. Ratios are taken within a round
(the machine's load drifts between rounds) and quoted as the median of the rounds
with their spread. The last line is machine-readable.

Cascade: the simulator's model (full) and a logistic regression on five numeric
features (cheap) scored on the same labelled transactions after the training
weeks; the band is calibrated on the first half (cheap decisions agreeing with the
full model's on 99.9% of the rows) and evaluated on the second half; cost per
decision is CPU time per row of each model (batches of 64, one thread) priced at
the spec's ``cpu_second``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _records  # noqa: E402

BENCH = "serve_bench"
CONFIGS = {  # name: (batch rows, wait ms, logging)
    "batched": (64, 2.0, True),
    "single": (1, 0.0, True),
    "batched, no logging": (64, 2.0, False),
}
MODELS_ENV = "SERVE_BENCH_MODELS"
#: the order of the servers in round r is ORDERS[r % 4]: logging on and off always next to each
#: other, each first in half the rounds, batch size 1 before them in half the rounds, so that
#: the machine's load drifting within a round falls on every server alike
ORDERS = (("batched", "batched, no logging", "single"), ("single", "batched, no logging", "batched"),
          ("batched, no logging", "batched", "single"), ("single", "batched", "batched, no logging"))


# --- the loop the server runs (imported by `loopwatch serve --loop serve_bench:build_loop`) ----------


def build_loop(spec: Any) -> Any:
    """The fraud loop over the models the benchmark trained (pickled at ``$SERVE_BENCH_MODELS``)."""
    from loopwatch.prediction.models import Model
    from loopwatch.simulate.serving import CATEGORIES, CHEAP_FEATURES, FEATURES, FraudServing, fraud_loop

    with open(os.environ[MODELS_ENV], "rb") as handle:
        saved = pickle.load(handle)
    serving = FraudServing(
        spec=spec, rows=[], labels=saved["labels"][:0],
        full=Model(predictor=saved["full"], version=saved["version"], features=FEATURES,
                   categories=CATEGORIES),
        cheap=Model(predictor=saved["cheap"], version="fraud-logreg-1.0", features=CHEAP_FEATURES))
    return fraud_loop(serving)


# --- load generation ---------------------------------------------------------------------------

_LUA = """
local bodies = {%s}
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i %% #bodies + 1
  return wrk.format(nil, "/v1/decide", nil, bodies[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\nRESULT {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, '
    .. '"mean_us": %%.1f, "non2xx": %%d, "socket_errors": %%d}\\n', summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.mean, e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is missing; installing Debian's package (apt-get install -y wrk)", flush=True)
    install = ["apt-get", "install", "-y", "wrk"]
    if os.geteuid() != 0:
        install = ["sudo", *install]
    if subprocess.run(install, capture_output=True).returncode != 0:
        subprocess.run([*install[:-3], "update"], capture_output=True)
        subprocess.run(install, check=True, capture_output=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("could not install wrk")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not become ready")


def metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return float("nan")


def own_store(work: Path, name: str) -> Path:
    """A copy of the spec whose store is new: a server that starts on a store holding other
    servers' decisions first reads their ids (to skip resent ones), a cost of the restart that a
    long-running service pays once a day, not in every measured second."""
    text = (work / "loopwatch.yaml").read_text(encoding="utf-8")
    old = f"store: {work / 'store'}"
    if old not in text:
        raise SystemExit(f"the spec has no line {old!r}")
    path = work / f"loopwatch-{name}.yaml"
    path.write_text(text.replace(old, f"store: {work / ('store-' + name)}"), encoding="utf-8")
    return path


def logging_cpu(port: int) -> tuple[float, float]:
    """CPU seconds the server spent logging, counted in-process: the batch thread's building and
    enqueuing of logged batches, and the logger's writer thread (validating and writing)."""
    return (metric(port, "loopwatch_logging_batch_cpu_seconds_total"),
            metric(port, "loopwatch_logger_writer_cpu_seconds_total"))


def run_wrk(wrk: str, port: int, script: Path, *, seconds: float, connections: int) -> dict[str, Any]:
    done = subprocess.run([wrk, "-t1", f"-c{connections}", f"-d{round(seconds)}s", "--timeout", "10s",
                           "-s", str(script), f"http://127.0.0.1:{port}"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    result["throughput"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


@dataclass
class Server:
    """One ``loopwatch serve`` of a round, started beside the round's others and idle until measured."""

    config: str
    port: int
    process: subprocess.Popen[bytes]
    measured: dict[str, Any] = field(default_factory=dict)
    stderr: bytes = b""


def start_server(config: str, *, work: Path, round_: int) -> Server:
    rows, wait, log = CONFIGS[config]
    port = free_port()
    env = {**os.environ, MODELS_ENV: str(work / "models.pkl"),
           "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    command = [str(Path(sys.executable).with_name("loopwatch")), "serve", "--spec",
               str(own_store(work, f"r{round_}-{list(CONFIGS).index(config)}")), "--loop",
               "serve_bench:build_loop", "--port", str(port),
               "--batch-rows", str(rows), "--batch-wait-ms", str(wait), "--log" if log else "--no-log"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return Server(config, port, process)


def measure(server: Server, *, wrk: str, script: Path, seconds: float, connections: int) -> None:
    """Load ``server`` for ``seconds`` and keep what the window cost it (CPU, logging CPU)."""
    port, log = server.port, CONFIGS[server.config][2]
    load_before = os.getloadavg()[0]
    cpu = [psutil.Process(server.process.pid), *psutil.Process(server.process.pid).children(recursive=True)]
    log_cpu_before = logging_cpu(port) if log else (0.0, 0.0)
    cpu_before = sum(sum(p.cpu_times()[:2]) for p in cpu)
    measured = run_wrk(wrk, port, script, seconds=seconds, connections=connections)
    cpu_used = sum(sum(p.cpu_times()[:2]) for p in cpu) - cpu_before
    batch_cpu, writer_cpu = ((after - before for after, before in zip(logging_cpu(port), log_cpu_before,
                                                                      strict=True))
                             if log else (0.0, 0.0))
    server.measured = {**measured, "cpu_used": cpu_used, "batch_cpu": batch_cpu, "writer_cpu": writer_cpu,
                       "rows_sum": metric(port, "loopwatch_batch_rows_sum"),
                       "rows_count": metric(port, "loopwatch_batch_rows_count"),
                       "dropped": metric(port, "loopwatch_logger_dropped") if log else 0.0,
                       "load_before": load_before, "load_after": os.getloadavg()[0]}


def stop(server: Server) -> None:
    server.process.send_signal(signal.SIGINT)
    try:
        _, server.stderr = server.process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.communicate()


def record_of(server: Server, *, seconds: float, connections: int, run: dict[str, Any],
              round_: int, position: int) -> dict[str, Any]:
    rows, wait, log = CONFIGS[server.config]
    m = server.measured
    cpu_used, batch_cpu, writer_cpu = m["cpu_used"], m["batch_cpu"], m["writer_cpu"]
    log_cpu = batch_cpu + writer_cpu
    # the writer's CPU a decision over the server's life, every write included (a write
    # every --log-flush-seconds falls inside a short measured window or not: counted so,
    # the window's writer CPU would be 0 or several intervals' worth)
    final = re.search(rb"logged (\d+) decisions .*writer CPU ([\d.]+) s", server.stderr or b"")
    writer_per_decision = (float(final.group(2)) / int(final.group(1))
                           if log and final and int(final.group(1)) else None)
    steady_writer = writer_per_decision * m["requests"] if writer_per_decision is not None else None
    rows_sum, rows_count = m["rows_sum"], m["rows_count"]
    record = {"part": "serving", "config": server.config, "round": round_, "position": position,
              "batch_rows_max": rows, "wait_ms": wait, "logging": log, "connections": connections,
              "seconds": seconds, "throughput": round(m["throughput"], 1), "p50_ms": m["p50_us"] / 1e3,
              "p99_ms": m["p99_us"] / 1e3, "mean_ms": round(m["mean_us"] / 1e3, 3),
              "requests": m["requests"], "non2xx": m["non2xx"],
              "server_cpu_ms_per_decision": round(1e3 * cpu_used / max(m["requests"], 1), 4),
              "socket_errors": m["socket_errors"],
              "mean_batch_rows": round(rows_sum / rows_count, 2) if rows_count else None,
              "logger_dropped": m["dropped"],
              "logging_cpu_share_pct": round(100 * log_cpu / cpu_used, 2) if cpu_used else None,
              "logging_batch_thread_pct": round(100 * batch_cpu / cpu_used, 2) if cpu_used else None,
              "logging_writer_pct": round(100 * writer_cpu / cpu_used, 2) if cpu_used else None,
              "writer_us_per_decision": (None if writer_per_decision is None
                                         else round(1e6 * writer_per_decision, 2)),
              **_steady(cpu_used, batch_cpu, writer_cpu, steady_writer),
              "load_before": round(m["load_before"], 2), "nice": os.nice(0),
              "autogroup_nice": _autogroup_nice(),
              "load_after": round(m["load_after"], 2), "server_exit": server.process.returncode}
    _records.append(BENCH, run, record)
    print(f"  round {round_} {server.config:<22} {record['throughput']:>8,.0f} decisions/s  p50 "
          f"{record['p50_ms']:6.2f} ms  p99 {record['p99_ms']:7.2f} ms  CPU "
          f"{record['server_cpu_ms_per_decision']:.3f} ms/decision  mean batch "
          f"{record['mean_batch_rows']}  non-2xx {record['non2xx']}  logging "
          f"{record['logging_cpu_share_pct'] or 0:.1f}% of CPU (batch thread "
          f"{record['logging_batch_thread_pct'] or 0:.1f}%, writer {record['logging_writer_pct'] or 0:.1f}%)"
          f"  load {record['load_before']}",
          flush=True)
    return record


def _autogroup_nice() -> int | None:
    """The niceness of this process's scheduling group: with the kernel's autogroups, processes of
    other sessions share the CPU by their group's niceness, whatever their own."""
    try:
        text = Path("/proc/self/autogroup").read_text(encoding="utf-8")
    except OSError:
        return None
    found = re.search(r"nice (-?\d+)", text)
    return int(found.group(1)) if found else None


def serve_round(*, wrk: str, work: Path, script: Path, seconds: float, connections: int,
                run: dict[str, Any], round_: int) -> dict[str, dict[str, Any]]:
    """One round: the three servers started side by side and warmed up, then measured one after
    another in this round's order (back to back, so that the machine's load drifts little between
    them), then stopped."""
    order = ORDERS[round_ % len(ORDERS)]
    servers = [start_server(c, work=work, round_=round_) for c in order]
    try:
        for server in servers:
            wait_ready(server.port, server.process)
        for server in servers:
            run_wrk(wrk, server.port, script, seconds=min(3.0, seconds), connections=connections)  # warm-up
        for server in servers:
            measure(server, wrk=wrk, script=script, seconds=seconds, connections=connections)
    finally:
        for server in servers:
            stop(server)
    return {s.config: record_of(s, seconds=seconds, connections=connections, run=run, round_=round_,
                                position=i) for i, s in enumerate(servers)}


def _steady(cpu_used: float, batch_cpu: float, writer_cpu: float, steady_writer: float | None
            ) -> dict[str, float | None]:
    """Logging's share of the server's CPU with the writer's CPU a decision over the server's life."""
    if steady_writer is None or not cpu_used:
        return {"logging_share_steady_pct": None, "logging_writer_steady_pct": None}
    total = cpu_used - writer_cpu + steady_writer
    return {"logging_share_steady_pct": round(100 * (batch_cpu + steady_writer) / total, 2),
            "logging_writer_steady_pct": round(100 * steady_writer / total, 2)}


def prepare(work: Path, *, seed: int) -> Any:
    from loopwatch.simulate.serving import fraud_serving

    serving = fraud_serving(seed=seed)
    store = work / "store"
    spec = serving.spec.model_copy(update={"store": str(store)})
    (work / "loopwatch.yaml").write_text(spec.to_yaml(), encoding="utf-8")
    with open(work / "models.pkl", "wb") as handle:
        pickle.dump({"full": serving.full.predictor, "cheap": serving.cheap.predictor,
                     "version": serving.full.version, "labels": serving.labels}, handle)
    bodies = [json.dumps({"inputs": row}, default=str) for row in serving.rows[:2000]]
    lua = ", ".join("[[" + b + "]]" for b in bodies)
    (work / "load.lua").write_text(_LUA % lua, encoding="utf-8")
    return serving


def bench_serving(args: argparse.Namespace, run: dict[str, Any], work: Path) -> dict[str, float]:
    wrk = ensure_wrk()
    rounds: list[dict[str, dict[str, Any]]] = []
    for r in range(args.rounds):
        rounds.append(serve_round(wrk=wrk, work=work, script=work / "load.lua", seconds=args.seconds,
                                  connections=args.connections, run=run, round_=r))
    ratios = [round_ratios(x) for x in rounds]
    print("logging's CPU per decision: "
          f"{_records.fmt_spread([r['logging_cpu'] for r in ratios], 1, '%')} more than without logging; "
          f"logging's share of the batched server's CPU (in-process): "
          f"{_records.fmt_spread([r['logging_share'] for r in ratios], 1, '%')}; the writer counted over "
          f"the server's life: {_records.fmt_spread([r['logging_share_steady'] for r in ratios], 1, '%')}")
    return {k: statistics.median(r[k] for r in ratios) for k in ratios[0]}


def round_ratios(servers: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Ratios within one round: batched ÷ single, and what logging costs (throughput, server CPU)."""
    batched, single, quiet = servers["batched"], servers["single"], servers["batched, no logging"]
    cpu = "server_cpu_ms_per_decision"
    return {"throughput": batched["throughput"] / single["throughput"],
            "p99": batched["p99_ms"] / single["p99_ms"],
            "logging": 100 * (1 - batched["throughput"] / quiet["throughput"]),
            "logging_cpu": 100 * (batched[cpu] / quiet[cpu] - 1),
            # counted in-process, so the other load on the machine does not move it
            "logging_share": batched.get("logging_cpu_share_pct") or float("nan"),
            "logging_batch": batched.get("logging_batch_thread_pct") or float("nan"),
            "logging_writer": batched.get("logging_writer_pct") or float("nan"),
            "logging_share_steady": batched.get("logging_share_steady_pct") or float("nan"),
            "logging_writer_steady": batched.get("logging_writer_steady_pct") or float("nan")}


def bench_cascade(run: dict[str, Any], serving: Any) -> None:
    import numpy as np
    from threadpoolctl import threadpool_limits

    from loopwatch.prediction.cascade import Cascade, calibrate_cascade
    from loopwatch.prediction.cascade_report import evaluate_cascade
    from loopwatch.simulate.model import REVIEW_THRESHOLD

    rows, labels = serving.rows, serving.labels
    half = len(rows) // 2

    def cost_per_row(model: Any, sample: list[dict[str, Any]]) -> tuple[np.ndarray, float]:
        scores, cpu = [], 0.0
        with threadpool_limits(limits=1):
            for start in range(0, len(sample), 64):
                t0 = time.thread_time()
                scores.append(model.score(sample[start:start + 64]))
                cpu += time.thread_time() - t0
        return np.concatenate(scores), cpu / len(sample)

    full, full_cpu = cost_per_row(serving.full, rows)
    cheap, cheap_cpu = cost_per_row(serving.cheap, rows)
    low, high = calibrate_cascade(cheap[:half], full[:half], threshold=REVIEW_THRESHOLD, agreement=0.999)
    price = serving.spec.serving.cost.cpu_second
    report = evaluate_cascade(Cascade(cheap=serving.cheap, low=low, high=high), cheap=cheap[half:],
                              full=full[half:], labels=labels[half:], cost_cheap=cheap_cpu * price,
                              cost_full=full_cpu * price, threshold=REVIEW_THRESHOLD)
    print(f"\ncascade on {len(rows) - half:,} simulated transactions ({int(labels[half:].sum())} frauds); "
          f"band: cheap < {low:.4g} or ≥ {high:.4g}")
    for p in report.policies:
        auc = p.auc
        print(f"  {p.name:<11} AUC {auc.value:.4f} ({auc.low:.4f}–{auc.high:.4f})  cost per decision "
              f"{p.cost_per_decision:.3g} USD  full model on {p.full_share:.1%}")
        _records.append(BENCH, run, {"part": "cascade", "policy": p.name, "auc": auc.value,
                                     "auc_low": auc.low, "auc_high": auc.high, "n": auc.n,
                                     "cost_per_decision": p.cost_per_decision, "full_share": p.full_share,
                                     "low": low, "high": None if high == float("inf") else high})
    diff, lo, hi = report.auc_change
    print(f"  cascade vs full: AUC {diff:+.4f} ({lo:+.4f} to {hi:+.4f}, paired), cost "
          f"{report.cost_change / report.policies[1].cost_per_decision:+.1%}, routed to cheap "
          f"{report.routed_share:.1%}, decisions changed {report.decisions_changed:.3%}")
    _records.append(BENCH, run, {"part": "cascade", "policy": "cascade vs full", "auc_change": diff,
                                 "auc_change_low": lo, "auc_change_high": hi,
                                 "cost_change": report.cost_change, "routed_share": report.routed_share,
                                 "decisions_changed": report.decisions_changed})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=8,
                        help="rounds of the three servers (the order turns over 4 rounds)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per server")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections of wrk")
    parser.add_argument("--part", choices=("all", "serving", "cascade"), default="all")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    run = _records.new_run(BENCH, argv)
    print(f"{os.cpu_count()} CPUs, load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"{args.rounds} rounds × {len(CONFIGS)} servers × {args.seconds:g} s at {args.connections} "
          "connections", flush=True)
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as name:
        work = Path(name)
        serving = prepare(work, seed=args.seed)
        ratios = bench_serving(args, run, work) if args.part in ("all", "serving") else None
        if args.part in ("all", "cascade"):
            bench_cascade(run, serving)
    if ratios is not None:
        print(f"throughput_ratio_batched_vs_single={ratios['throughput']:.2f} "
              f"p99_ratio_batched_vs_single={ratios['p99']:.3f} "
              f"logging_overhead_pct={ratios['logging']:.1f}")


# --- tables for RESULTS.md ----------------------------------------------------------------


def _serving_table(records: list[dict[str, Any]]) -> str:
    latest = _records.latest_runs([r for r in records if r.get("part") == "serving"])
    if not latest:
        return "(no runs yet)\n"
    run = latest[0]["run"]
    lines = [f"Run {run['date']}, `{run['command']}`, {run['cpus']} CPUs ({run['cpu_model']}), "
             f"load average at start {run['load_average'][0]}"
             + (f"; the benchmark at niceness {latest[0]['nice']}"
                + (f" in a scheduling group of niceness {latest[0]['autogroup_nice']}"
                   if latest[0].get("autogroup_nice") is not None else "")
                + ", under the benchmark lock" if "nice" in latest[0] else "") + ".", "",
             "| server | decisions/s | p50 ms | p99 ms | server CPU ms per decision "
             "| mean rows per model call | non-2xx | load |",
             "|---|--:|--:|--:|--:|--:|--:|--:|"]
    groups = _records.group_by(latest, "config")
    for (config,), rs in groups.items():
        lines.append(f"| {config} | {_records.fmt_spread([r['throughput'] for r in rs], 0)} | "
                     f"{_records.fmt_spread([r['p50_ms'] for r in rs])} | "
                     f"{_records.fmt_spread([r['p99_ms'] for r in rs])} | "
                     f"{_records.fmt_spread([r['server_cpu_ms_per_decision'] for r in rs], 3)} | "
                     f"{_records.fmt_spread([r['mean_batch_rows'] or 0 for r in rs], 1)} | "
                     f"{sum(r['non2xx'] + r['socket_errors'] for r in rs)} | "
                     f"{min(r['load_before'] for r in rs)}–{max(r['load_before'] for r in rs)} |")
    by_round = _records.group_by(latest, "round")
    ratio = [{r["config"]: r for r in rs} for rs in by_round.values()]
    complete = [round_ratios(x) for x in ratio if len(x) == len(CONFIGS)]
    if complete:
        lines += ["", "| within a round | median (min–max, rounds) |", "|---|--:|"]
        for key, label, digits in (("throughput", "throughput, batched ÷ batch size 1", 2),
                                   ("p99", "p99, batched ÷ batch size 1", 3),
                                   ("logging", "throughput lost to logging, %", 1),
                                   ("logging_cpu", "server CPU per decision added by logging, %", 1),
                                   ("logging_share", "share of the batched server's CPU spent logging "
                                    "(counted in-process), %", 1),
                                   ("logging_batch", "… of which the batch thread building and enqueuing "
                                    "logged batches, %", 1),
                                   ("logging_writer", "… of which the logger's writer thread validating "
                                    "and writing, %", 1),
                                   ("logging_share_steady", "share of the batched server's CPU spent "
                                    "logging, the writer counted over the server's life, %", 1),
                                   ("logging_writer_steady", "… of which the writer thread (over the "
                                    "server's life), %", 1)):
            if any(math.isnan(x[key]) for x in complete):
                continue  # a run from before the server counted it
            lines.append(f"| {label} | {_records.fmt_spread([x[key] for x in complete], digits)} |")
    return "\n".join(lines) + "\n"


def _cascade_table(records: list[dict[str, Any]]) -> str:
    latest = _records.latest_runs([r for r in records if r.get("part") == "cascade"])
    if not latest:
        return "(no runs yet)\n"
    lines = ["| policy | ROC AUC (95% interval) | cost per million decisions (USD) "
             "| scored by the full model |",
             "|---|--:|--:|--:|"]
    for r in latest:
        if "auc" in r:
            lines.append(f"| {r['policy']} | {r['auc']:.4f} ({r['auc_low']:.4f}–{r['auc_high']:.4f}) | "
                         f"{r['cost_per_decision'] * 1e6:.3g} | {r['full_share']:.1%} |")
    change = next((r for r in latest if r["policy"] == "cascade vs full"), None)
    if change is not None:
        full = next(r for r in latest if r["policy"] == "full only")
        lines += ["", f"Cascade against the full model on the same transactions: AUC "
                      f"{change['auc_change']:+.4f} ({change['auc_change_low']:+.4f} to "
                      f"{change['auc_change_high']:+.4f}, paired DeLong), cost per decision "
                      f"{change['cost_change'] / full['cost_per_decision']:+.1%}, "
                      f"{change['routed_share']:.1%} of decisions routed to the cheap model, "
                      f"{change['decisions_changed']:.3%} of decisions changed; "
                      f"{full['n']:,} labelled decisions."]
    return "\n".join(lines) + "\n"


TABLES = {"serving": _serving_table, "cascade": _cascade_table}


if __name__ == "__main__":
    main()
