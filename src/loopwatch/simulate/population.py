"""A synthetic scored population, profiled by cohort: periods for the false-alarm and power studies.

One period is a reference (16 days) and a current window (7 days) of ``per_day``
decisions a day, drawn from one :class:`Population` and profiled by cohort
(global; region, 5 values with shares 38/30/20/10/2%; device, 3 values; hour of
day, 24 values). A decision is positive with probability ``base_rate`` × a region
factor (1, 0.8, 1, 1.1, 1.2); its latent ``z`` is ``N(0, 1)`` for a negative and,
for a positive, ``N(4, 1)`` (``obvious``, 70%) or ``N(0.5, 1)`` (careful fraud
that looks ordinary), like the fraud simulator's model (AUC about 0.89); its score
``expit(1.5·(z - 3))`` falls in 1,000 uniform score bins; block/review at scores
0.8/0.5; labels known for 92% of positives and 97% of negatives (a mature
window); a positive's value is Gamma(2, scale 60) dollars. ``afr_drop`` injects
the fraud simulator's ``minority_performance_drop``: in the 2% region ``AFR``, an
extra share of the current window's decisions are positives that score like
negatives. ``benchmarks/eval_false_alarms.py`` runs these periods by the hundred.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy import special

from loopwatch.core.findings import Finding, Severity
from loopwatch.core.profile import (
    ALL,
    HOUR_OF_DAY,
    Binning,
    Cohort,
    Profile,
    ScoreStats,
    score_bin,
    score_edges,
)
from loopwatch.core.spec import Spec, spec_from_mapping
from loopwatch.evaluation.comparison import compare

__all__ = [
    "BINNING",
    "START",
    "Period",
    "Population",
    "draw_profiles",
    "healthy_rate",
    "period",
    "power",
    "synthetic_spec",
]

#: The first day of every period's reference.
START: Final = datetime(2026, 1, 1, tzinfo=UTC)
ACTIONS = ("approve", "block", "review")
BINNING = Binning(numeric={}, categorical={}, score=score_edges(None, 0.0, 1.0), actions=ACTIONS)
REGIONS = ("NA", "EU", "APAC", "LATAM", "AFR")
REGION_SHARE = np.array([0.38, 0.30, 0.20, 0.10, 0.02])
REGION_FACTOR = np.array([1.0, 0.8, 1.0, 1.1, 1.2])
DEVICES = ("ios", "android", "web")
DEVICE_SHARE = np.array([0.35, 0.35, 0.30])


def synthetic_spec(*, value: bool = True) -> Spec:
    """The spec of the synthetic population: threshold 0.5, cohorts region and device, a value model."""
    return spec_from_mapping({
        "model": "synthetic", "features": [{"name": "amount", "dtype": "numeric"}],
        "cohorts": ["region", "device"], "threshold": 0.5,
        **({"value": {"false_positive": 15.0, "false_negative": 0.0}} if value else {}),
    })


@dataclass(frozen=True)
class Population:
    """The synthetic decisions of one window (see the module docstring)."""

    per_day: int = 10_000
    base_rate: float = 0.01
    #: share of positives whose latent z is N(4, 1); the others' is N(0.5, 1)
    obvious: float = 0.7
    labelled_positive: float = 0.92
    labelled_negative: float = 0.97
    #: extra share of AFR decisions that are positives scoring like negatives (the incident)
    afr_drop: float = 0.0


def draw_profiles(population: Population, *, days: int, start: datetime,
                  rng: np.random.Generator) -> dict[Cohort, Profile]:
    """Profiles by cohort of ``days`` days of synthetic decisions."""
    n = int(rng.poisson(population.per_day * days))
    region = rng.choice(len(REGIONS), size=n, p=REGION_SHARE)
    device = rng.choice(len(DEVICES), size=n, p=DEVICE_SHARE)
    hour = rng.integers(0, 24, size=n)
    y = rng.random(n) < population.base_rate * REGION_FACTOR[region]
    z = rng.standard_normal(n) + y * np.where(rng.random(n) < population.obvious, 4.0, 0.5)
    if population.afr_drop:
        turned = (region == REGIONS.index("AFR")) & ~y & (rng.random(n) < population.afr_drop)
        y = y | turned  # positives whose z is a negative's: the model misses them
    score = special.expit(1.5 * (z - 3.0))
    labelled = rng.random(n) < np.where(y, population.labelled_positive, population.labelled_negative)
    value = np.where(y & labelled, rng.gamma(2.0, 60.0, n), 0.0)
    action = np.where(score >= 0.8, 1, np.where(score >= 0.5, 2, 0))
    b = score_bin(score, BINNING.score)
    cell = np.where(labelled, y.astype(np.int64), 2) * 1000 + b
    end = start + timedelta(days=days)
    groups: dict[Cohort, npt.NDArray[np.bool_]] = {ALL: np.ones(n, dtype=np.bool_)}
    groups |= {Cohort("region", r): region == i for i, r in enumerate(REGIONS)}
    groups |= {Cohort("device", d): device == i for i, d in enumerate(DEVICES)}
    groups |= {Cohort(HOUR_OF_DAY, str(h)): hour == h for h in range(24)}
    out: dict[Cohort, Profile] = {}
    for cohort, mask in groups.items():
        c = cell[mask]
        stats = ScoreStats(
            by_label=np.bincount(c, minlength=3000).reshape(3, 1000),
            by_action=np.bincount(action[mask] * 1000 + b[mask], minlength=4000).reshape(4, 1000),
            value_sum=_floats(np.bincount(c, weights=value[mask], minlength=3000)).reshape(3, 1000),
            value_sq=_floats(np.bincount(c, weights=value[mask] ** 2, minlength=3000)).reshape(3, 1000),
        )
        out[cohort] = replace(BINNING.empty(start, end, cohort), n=int(mask.sum()), score=stats)
    return out


@dataclass(frozen=True)
class Period:
    """The findings of one simulated period."""

    findings: tuple[Finding, ...]
    global_findings: tuple[Finding, ...]

    @property
    def any(self) -> bool:
        return bool(self.findings)

    def pages_for(self, cohort: str | None) -> bool:
        return any(f.cohort == cohort and f.severity == Severity.PAGE for f in self.findings)


def period(population: Population, rng: np.random.Generator, spec: Spec | None = None) -> Period:
    """One reference (16 days, healthy) and one current window (7 days, ``population``), compared."""
    spec = spec or synthetic_spec()
    reference = draw_profiles(replace(population, afr_drop=0.0), days=16, start=START, rng=rng)
    start = START + timedelta(days=20)
    current = draw_profiles(population, days=7, start=start, rng=rng)
    window = current[ALL].window
    found = compare(reference, current, BINNING, spec, window=window)
    alone = compare({ALL: reference[ALL]}, {ALL: current[ALL]}, BINNING, spec, window=window)
    return Period(tuple(found), tuple(alone))


def healthy_rate(*, draws: int, seed: int = 0) -> tuple[float, list[Period]]:
    """Share of healthy periods with any finding."""
    rng = np.random.default_rng(seed)
    periods = [period(Population(), rng) for _ in range(draws)]
    return sum(p.any for p in periods) / draws, periods


def power(*, draws: int, seed: int = 0, drop: float = 0.02, per_day: int = 20_000) -> tuple[float, float]:
    """Share of periods with the AFR incident where region=AFR pages, and where the global cohort
    alone (compared on its own) would page.

    The spec has no value model, like the fraud simulator's: the value per decision, a
    small difference of large sums, reacts to a few hundred dollars of missed fraud.
    """
    rng = np.random.default_rng(seed)
    spec = synthetic_spec(value=False)
    periods = [period(Population(per_day=per_day, afr_drop=drop), rng, spec) for _ in range(draws)]
    found = sum(p.pages_for("region=AFR") for p in periods) / draws
    global_alone = sum(any(f.severity == Severity.PAGE for f in p.global_findings) for p in periods) / draws
    return found, global_alone


def _floats(values: npt.NDArray[np.generic]) -> npt.NDArray[np.float64]:
    # bincount with weights returns floats; numpy's stubs say integers
    return np.asarray(values, dtype=np.float64)
