"""The learning loop's figures: paired-interval coverage by simulation, and the simulator's scenarios.

Two parts, each writing records to ``benchmarks/records/learning_loop.jsonl``:

* ``coverage``: how often the intervals the learning loop relies on cover a known truth —
  the correlated-DeLong interval of an AUC difference (binormal and heavy-tailed scores, at
  the rule's floor of 25 positives and above) and the weighted model-effect interval
  (a holdout share that changes with the world, lognormal dollar losses; a constant share with
  Pareto losses; a constant 2% share with heavier lognormal losses; each at 30,000 and 120,000
  decisions), counting the windows it reports "not enough data" for apart.
* ``scenarios``: on the fraud simulator, per seed, the champion/challenger scenario (a
  challenger better overall but misreading one region's IP reputation) and the ablation
  scenario (a second IP-reputation vendor built to be redundant).

    .venv/bin/python benchmarks/learning_loop.py --runs 400 --seeds 11,12,13
    .venv/bin/python benchmarks/learning_loop.py --runs 500 --parts effect
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from _records import append, latest_runs, load, new_run
from scipy import stats

from loopwatch.core.spec import load_spec
from loopwatch.core.window import Window
from loopwatch.evaluation.paired import paired_auc
from loopwatch.evaluation.policy_effect import policy_effect
from loopwatch.learning.ablation import ablate
from loopwatch.learning.champion import compare_replay
from loopwatch.learning.training_data import rows_as_of
from loopwatch.simulate.fraud import SimulationConfig, simulate, write_simulation
from loopwatch.simulate.redundant import REDUNDANT_FEATURE, with_redundant_feature
from loopwatch.simulate.retrain import train
from loopwatch.simulate.world import FEATURES
from loopwatch.storage.sources import open_source

BENCH = "learning_loop"
TRAIN = Window.of("2026-01-01", "2026-01-15")
COMPARED = Window.of("2026-01-15", "2026-02-10")
HELD_OUT = Window.of("2026-01-15", "2026-02-05")

#: (name, positives, negatives, latent, shift of the champion, of the challenger, correlation)
AUC_SETTINGS = (
    ("binormal, 25 positives", 25, 2000, "normal", 1.5, 1.8, 0.6),
    ("binormal, 100 positives", 100, 5000, "normal", 1.5, 1.8, 0.6),
    ("t3 latents, 25 positives", 25, 2000, "t3", 1.5, 1.8, 0.6),
    ("t3 latents, 100 positives", 100, 5000, "t3", 1.5, 1.8, 0.6),
)
#: (name, decisions, early holdout share, late holdout share, losses); each shape at 30,000 and 120,000
#: decisions, so that the "not enough data" floor is crossed within a shape, not only between shapes
EFFECT_SHAPES = (("holdout 5% then 25%", 0.05, 0.25, "lognormal"),
                 ("holdout 2% then 20%", 0.02, 0.20, "lognormal"),
                 ("holdout 10%, Pareto losses", 0.10, 0.10, "pareto"),
                 ("holdout 2%, lognormal σ 1.5", 0.02, 0.02, "lognormal 1.5"))
EFFECT_SETTINGS = tuple((name, n, early, late, kind) for n in (30_000, 120_000)
                        for name, early, late, kind in EFFECT_SHAPES)


def _losses(rng: np.random.Generator, kind: str, size: int) -> np.ndarray:
    """Dollar losses of frauds: lognormal (μ 4, σ 1 or 1.5) or Pareto (tail index 2.5, from 20)."""
    if kind == "pareto":
        return 20.0 * (1.0 + rng.pareto(2.5, size))
    return rng.lognormal(4.0, 1.5 if kind == "lognormal 1.5" else 1.0, size)


def _latent(rng: np.random.Generator, kind: str, size: tuple[int, ...], rho: float) -> np.ndarray:
    cov = [[1.0, rho], [rho, 1.0]]
    z = rng.multivariate_normal([0.0, 0.0], cov, size=size)
    if kind == "t3":
        z = z / np.sqrt(rng.chisquare(3, size=size)[..., None] / 3)
    return z


def _true_auc(kind: str, shift: float) -> float:
    """AUC of a positive latent shifted by ``shift`` against a negative one (difference of two draws)."""
    if kind == "normal":
        return float(stats.norm.cdf(shift / math.sqrt(2)))
    rng = np.random.default_rng(0)
    a = rng.standard_t(3, 2_000_000)
    b = rng.standard_t(3, 2_000_000)
    return float(np.mean(a + shift > b))


def auc_coverage(runs: int, seed: int) -> list[dict[str, Any]]:
    out = []
    for name, m, n, kind, shift_a, shift_b, rho in AUC_SETTINGS:
        rng = np.random.default_rng([seed, m, n])
        truth = _true_auc(kind, shift_b) - _true_auc(kind, shift_a)
        covered = 0
        for _ in range(runs):
            pos, neg = _latent(rng, kind, (m,), rho), _latent(rng, kind, (n,), rho)
            labels = np.r_[np.ones(m, bool), np.zeros(n, bool)]
            a = np.r_[pos[:, 0] + shift_a, neg[:, 0]]
            b = np.r_[pos[:, 1] + shift_b, neg[:, 1]]
            got = paired_auc(labels, a, b)
            covered += got.low <= truth <= got.high
        out.append({"part": "coverage", "statistic": "paired AUC (DeLong)", "setting": name, "runs": runs,
                    "covered": covered, "truth": truth})
    return out


def effect_coverage(runs: int, seed: int) -> list[dict[str, Any]]:
    """Per setting: windows with an interval, how many of those cover the truth, and the coverage of
    every window's interval had the "not enough data" floor not applied (the same windows)."""
    out = []
    for name, n, early, late_share, kind in EFFECT_SETTINGS:
        rng = np.random.default_rng([seed, n, int(early * 100), int(late_share * 100), len(kind)])
        reported = covered = covered_unfloored = 0
        for _ in range(runs):
            late = rng.random(n) < 0.5
            fraud = rng.random(n) < np.where(late, 0.05, 0.02)
            amount = np.zeros(n)
            amount[fraud] = _losses(rng, kind, int(fraud.sum()))
            lost_model = np.where(fraud & ~(rng.random(n) < 0.7), amount, 0.0)
            lost_holdout = np.where(fraud & ~(rng.random(n) < 0.2), amount, 0.0)
            p = np.where(late, late_share, early)
            h = rng.random(n) < p
            observed = np.where(h, lost_holdout, lost_model)
            truth = float((lost_model - lost_holdout).mean())
            got = policy_effect(observed, h, p)
            unfloored = policy_effect(observed, h, p, max_skewness=math.inf)
            covered_unfloored += unfloored.low <= truth <= unfloored.high
            if got.status == "ok":
                reported += 1
                covered += got.low <= truth <= got.high
        out.append({"part": "coverage", "statistic": "model effect (weighted)", "setting": name,
                    "decisions": n, "runs": runs, "reported": reported, "covered": covered,
                    "not_enough_data": runs - reported, "covered_unfloored": covered_unfloored,
                    "truth": None})
    return out


def scenarios(seed: int, per_day: int) -> dict[str, Any]:
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sim"
        config = SimulationConfig(days=56, decisions_per_day=per_day, incidents=(), seed=seed,
                                  start=datetime(2026, 1, 1, tzinfo=UTC))
        write_simulation(with_redundant_feature(simulate(config)), out)
        spec = load_spec(out / "loopwatch.yaml")
        store = open_source(spec)
        rows = rows_as_of(store, TRAIN, labelled_only=True)
        without = train(rows, [f for f in FEATURES if f != "ip_risk_score"], "label", seed=1)
        full = train(rows, FEATURES, "label", seed=1)

        def challenger(table: pa.Table) -> np.ndarray:
            afr = pc.equal(table.column("region"), "AFR")
            ip = table.column("ip_risk_score")
            inverted = pc.if_else(afr, pc.subtract(1.0, ip), ip)
            at = table.column_names.index("ip_risk_score")
            return full(table.set_column(at, "ip_risk_score", inverted))

        result = compare_replay(spec, COMPARED, champion=without, challenger=challenger, store=store)
        by = {c.cohort: c for c in result.cohorts}
        afr, overall = by.get("region=AFR"), result.overall
        redundant = ablate(spec, features=[REDUNDANT_FEATURE], train=TRAIN, held_out=HELD_OUT, store=store)
        both = ablate(spec, features=[REDUNDANT_FEATURE, "ip_risk_score"], train=TRAIN, held_out=HELD_OUT,
                      store=store)

    def diff(d: Any) -> dict[str, float] | None:
        return None if d is None else {"difference": d.difference, "low": d.low, "high": d.high}

    return {"part": "scenarios", "seed": seed, "per_day": per_day,
            "champion_verdict": result.verdict, "blocked": list(result.blocked_cohorts),
            "overall": diff(overall.metric if overall else None), "superiority_p": result.superiority_p,
            "afr": diff(afr.metric if afr else None), "afr_positives": afr.positives if afr else None,
            "redundant": {"recommendation": redundant.recommendation, **(diff(redundant.auc) or {}),
                          "latency_ms": redundant.saved.latency_ms, "price": redundant.saved.price},
            "both": {"recommendation": both.recommendation, **(diff(both.auc) or {})},
            "seconds": time.perf_counter() - began}


def _ci(d: dict[str, Any] | None) -> str:
    if not d:
        return "—"
    return f"{d['difference']:+.4f} ({d['low']:+.4f} to {d['high']:+.4f})"


def table_coverage(records: list[dict[str, Any]]) -> str:
    """Coverage of the 95% intervals reported, per setting, with its binomial standard error, and how
    often the model effect said "not enough data"; each statistic from its latest run."""
    statistics = list(dict.fromkeys(r["statistic"] for r in records if r.get("part") == "coverage"))
    if not statistics:
        return "(no records: run benchmarks/learning_loop.py)\n"
    runs, rows = [], []
    for statistic in statistics:
        found = latest_runs(records, where={"part": "coverage", "statistic": statistic})
        runs.append((statistic, found[0]["run"]))
        rows.extend(found)
    out = [f"{statistic}: run {info['id']} ({info['date']}, `{info['command']}`, git {info['git']}, load "
           f"average {info['load_average'][0]})." for statistic, info in runs]
    out = [*(f"- {line}" for line in out), "",
           "Share of the 95% intervals reported that cover the truth; windows with \"not enough data\" "
           "(no interval) counted apart, and what every window's interval would have covered without "
           "that floor:", "",
           "| statistic | setting | decisions | runs | not enough data | coverage of those reported "
           "| without the floor |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        reported = r.get("reported", r["runs"])
        if reported:
            p = r["covered"] / reported
            coverage = f"{100 * p:.1f}% ±{100 * math.sqrt(p * (1 - p) / reported):.1f}"
        else:
            coverage = "none reported"
        floor = "—" if "not_enough_data" not in r else f"{100 * r['not_enough_data'] / r['runs']:.1f}%"
        unfloored = ("—" if "covered_unfloored" not in r
                     else f"{100 * r['covered_unfloored'] / r['runs']:.1f}%")
        decisions = f"{r['decisions']:,}" if "decisions" in r else "—"
        out.append(f"| {r['statistic']} | {r['setting']} | {decisions} | {r['runs']} | {floor} | "
                   f"{coverage} | {unfloored} |")
    return "\n".join(out) + "\n"


def table_scenarios(records: list[dict[str, Any]]) -> str:
    """Per seed: the champion/challenger verdict and differences, and the two ablations."""
    rows = [r for r in latest_runs(records, where={"part": "scenarios"})]
    if not rows:
        return "(no records: run benchmarks/learning_loop.py)\n"
    info = rows[0]["run"]
    out = [f"Run {info['id']} ({info['date']}, `{info['command']}`, git {info['git']}, load average "
           f"{info['load_average'][0]}): 56 simulated days at {rows[0]['per_day']:,} decisions a day "
           "per seed; "
           "AUC differences (challenger − champion; without − with) with their intervals "
           "(90% for the rule, 95% for ablation).", "",
           "| seed | verdict | blocked | overall AUC diff | AFR AUC diff (positives) | without the redundant "
           "vendor | without both vendors |", "|---:|---|---|---|---|---|---|"]
    for r in rows:
        red, both = r["redundant"], r["both"]
        out.append(f"| {r['seed']} | {r['champion_verdict']} | {', '.join(r['blocked']) or '—'} | "
                   f"{_ci(r['overall'])} | {_ci(r['afr'])} ({r['afr_positives']}) | "
                   f"{red['recommendation']}: {_ci(red)} | {both['recommendation']}: {_ci(both)} |")
    return "\n".join(out) + "\n"


TABLES = {"coverage": table_coverage, "scenarios": table_scenarios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=400, help="simulated samples per coverage setting")
    parser.add_argument("--seeds", default="11,12,13", help="simulator seeds of the scenarios")
    parser.add_argument("--per-day", type=int, default=8000, help="simulated decisions a day")
    parser.add_argument("--parts", default="coverage,scenarios",
                        help="which parts to run: coverage (auc and effect), auc, effect, scenarios")
    parser.add_argument("--no-record", action="store_true", help="print only; write no records")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    meta = new_run(BENCH)
    found = [*(auc_coverage(args.runs, 20261205) if parts & {"coverage", "auc"} else []),
             *(effect_coverage(args.runs, 20261205) if parts & {"coverage", "effect"} else [])]
    for r in found:
        shown = f"{r['covered']}/{r.get('reported', r['runs'])} reported"
        print(f"{r['statistic']}, {r['setting']}, {r.get('decisions', '')}: {shown} of {r['runs']}",
              flush=True)
    for seed in (int(s) for s in args.seeds.split(",") if s and "scenarios" in parts):
        r = scenarios(seed, args.per_day)
        print(r, flush=True)
        found.append(r)
    if not args.no_record:
        for r in found:
            append(BENCH, meta, r)
        print(table_coverage(load(BENCH)))
        print(table_scenarios(load(BENCH)))


if __name__ == "__main__":
    main()
