"""False alarms and power of the performance comparisons, by simulation.

    .venv/bin/python benchmarks/eval_false_alarms.py                    # synthetic profiles, 200 periods
    .venv/bin/python benchmarks/eval_false_alarms.py --simulator 29     # and 29 simulated 90-day runs
    .venv/bin/python benchmarks/eval_false_alarms.py --draws 0 --detection 3   # detection days, 3 seeds

Two simulations.

**Synthetic profiles** (fast). One draw is one period: a reference (16 days) and
a current window (7 days) of 10,000 decisions a day (20,000 for ``power``), drawn from one population,
profiled by cohort (global; region, 5 values with shares 38/30/20/10/2%; device,
3 values; hour of day, 24 values): 33 cohorts × 6 metrics. A decision is
positive with probability 1% × a region factor (1, 0.8, 1, 1.1, 1.2); its
latent ``z`` is ``N(0, 1)`` for a negative and, for a positive, ``N(4, 1)``
(70%) or ``N(0.5, 1)`` (30%, careful fraud that looks ordinary), like the fraud
simulator's model (AUC about 0.89, recall 0.59 and precision 0.8 at the
threshold); its score ``expit(1.5·(z - 3))`` falls in the 1,000 uniform score
bins; block/review at scores 0.8/0.5; labels known for 92% of
positives and 97% of negatives (a mature window); a positive's value is Gamma(2,
scale 60) dollars. The value model gains the value of a caught positive, costs 15
per false positive and loses the value of a missed one. ``healthy_rate`` counts
the periods where :func:`~loopwatch.evaluation.comparison.compare` finds
anything. ``power`` injects the incident of the fraud simulator's
``minority_performance_drop``: in the 2% region ``AFR``, an extra 2% (3%, 5%) of
the current window's decisions are positives that score like negatives; it counts
the periods where a page for ``region=AFR`` is found, and those where the global
cohort alone would have paged.

**The fraud simulator** (slow, honest replay). For each seed, a healthy 90-day
run of :func:`loopwatch.simulate.fraud.simulate` at 5,000 decisions a day is
ingested into a Parquet store; for as-of days 48, 55, ... 90 (a week apart, so
the mature windows checked do not overlap) only the outcomes observed before
the as-of day are ingested, the profile history is updated and the monitoring
job runs the ``performance`` check (``run_checks``); ``Replay`` writes the run
day by day with :func:`loopwatch.simulate.replay.replay`. A period is one run; it is
a false alarm if the check returns any finding. The reference is days 14-30 of
the run: the simulated model is trained on a sample of its first 14 days, which
makes them optimistic, so the simulator starts its reference after them.

**Detection** (``--detection``): the ``minority_performance_drop`` and
``label_definition_change`` runs (10,000 decisions a day) replayed day by day
(:func:`detection`): the day the incident's labels matured (the first as-of day
whose checked window holds the onset) and the day the check paged.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from loopwatch.core.findings import Finding, Severity
from loopwatch.simulate.population import START, healthy_rate, power
from loopwatch.simulate.replay import Replay

AS_OF_DAYS = (48, 55, 62, 69, 76, 83, 90)


def simulated_periods(seed: int, *, per_day: int = 5_000, as_of_days: Sequence[int] = AS_OF_DAYS,
                      incidents: tuple[str, ...] = ()) -> dict[int, list[Finding]]:
    """Findings of the performance check as of each day of one simulated run, replayed honestly."""
    from loopwatch.simulate.fraud import SimulationConfig, simulate

    result = simulate(SimulationConfig(days=90, decisions_per_day=per_day, incidents=incidents, seed=seed,
                                       start=START))
    spec = result.spec
    days = sorted(as_of_days)
    with tempfile.TemporaryDirectory() as tmp:
        replay = Replay(result, spec, Path(tmp) / "store")
        return {(now - START).days: replay.check(now)
                for now in replay.times(first=START + timedelta(days=days[0]),
                                        last=START + timedelta(days=days[-1]))
                if (now - START).days in days}


def detection(seed: int, incident: str, *, per_day: int = 10_000, first_day: int,
              last_day: int = 90) -> dict[str, Any]:
    """Replay one incident day by day: when its labels matured and when the check found it.

    ``matured`` is the first as-of day whose mature window holds the incident's
    onset; ``found`` the first day with a performance page (for
    ``minority_performance_drop``: a page for ``region=AFR``); ``global_found``
    the first day with a finding for the global cohort.
    """
    from loopwatch.simulate.fraud import SimulationConfig, simulate

    result = simulate(SimulationConfig(days=90, decisions_per_day=per_day, incidents=(incident,), seed=seed,
                                       start=START))
    onset = datetime.fromisoformat(result.ground_truth["incidents"][0]["onset"])
    spec = result.spec
    out: dict[str, Any] = {"seed": seed, "incident": incident, "onset": (onset - START).days,
                           "matured": None, "found": None, "global_found": None, "findings": []}
    with tempfile.TemporaryDirectory() as tmp:
        replay = Replay(result, spec, Path(tmp) / "store")
        days = replay.times(first=START + timedelta(days=first_day), last=START + timedelta(days=last_day))
        for now in days:
            day = (now - START).days
            findings = replay.check(now)
            window = replay.mature_window(now)
            if out["matured"] is None and window is not None and window.end > onset:
                out["matured"] = day
            pages = [f for f in findings if f.severity == Severity.PAGE
                     and (incident != "minority_performance_drop" or f.cohort == "region=AFR")]
            if out["found"] is None and pages:
                out["found"] = day
                out["findings"] = [(f.statistic, f.cohort, str(f.severity)) for f in findings]
            if out["global_found"] is None and any(f.cohort is None for f in findings):
                out["global_found"] = day
            if out["found"] is not None and day >= out["found"] + 2:
                break
    return out


def _share(found: Mapping[int, Sequence[Finding]]) -> tuple[int, int]:
    return sum(bool(f) for f in found.values()), len(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--draws", type=int, default=200, help="synthetic periods (default 200)")
    parser.add_argument("--simulator", type=int, default=0, metavar="SEEDS",
                        help="also replay this many healthy simulated runs (7 periods each)")
    parser.add_argument("--detection", type=int, default=0, metavar="SEEDS",
                        help="replay the AFR drop and the label change day by day for this many seeds")
    args = parser.parse_args()
    began = time.perf_counter()
    if args.draws:
        rate, _ = healthy_rate(draws=args.draws, seed=1)
        print(f"synthetic healthy periods with any finding: {rate:.1%} of {args.draws} "
              f"({time.perf_counter() - began:.0f} s)")
        for drop in (0.02, 0.03, 0.05):
            found, alone = power(draws=args.draws // 2, seed=2, drop=drop)
            print(f"synthetic AFR drop ({drop:.0%} extra missed fraud in a 2% region): region=AFR pages in "
                  f"{found:.1%}; the global cohort alone pages in {alone:.1%}")
    if args.simulator:
        alarms = total = 0
        for seed in range(100, 100 + args.simulator):
            t = time.perf_counter()
            by_day = simulated_periods(seed)
            a, n = _share(by_day)
            alarms, total = alarms + a, total + n
            noisy = {d: [(f.statistic, f.cohort, str(f.severity)) for f in fs]
                     for d, fs in by_day.items() if fs}
            print(f"seed {seed}: {a}/{n} periods with a finding {noisy or ''} "
                  f"({time.perf_counter() - t:.0f} s)", flush=True)
        print(f"simulated healthy periods with any finding: {alarms}/{total} = {alarms / total:.1%}")
    for seed in range(3, 3 + args.detection):
        for incident, first_day in (("minority_performance_drop", 78), ("label_definition_change", 80)):
            t = time.perf_counter()
            print(detection(seed, incident, first_day=first_day), f"({time.perf_counter() - t:.0f} s)",
                  flush=True)
    print(f"total {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
