"""Fairness gaps: the largest gap between a column's cohorts, as a direct computation on the rows gives it."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pytest
from scipy import special, stats

from loopwatch.core.intervals import wilson
from loopwatch.core.profile import Binning, Cohort, Profile, ScoreStats, score_bin, score_edges
from loopwatch.core.spec import spec_from_mapping
from loopwatch.evaluation.fairness import fairness_gaps, newcombe_difference
from loopwatch.evaluation.metrics import Metric

DAY = datetime(2026, 3, 1, tzinfo=UTC)
BINNING = Binning(numeric={}, categorical={}, score=score_edges(None, 0.0, 1.0))
SPEC = spec_from_mapping({"model": "m", "features": [{"name": "x", "dtype": "numeric"}],
                          "cohorts": ["region", "device"], "threshold": 0.5})


def direct_wilson(successes: int, trials: int) -> tuple[float, float]:
    """Wilson (1927) from its closed form, written out here rather than taken from loopwatch."""
    z = stats.norm.ppf(0.975)
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z / (1 + z * z / trials) * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials**2))
    return centre - half, centre + half


def rows(seed: int, n: int = 60_000) -> dict[str, npt.NDArray[np.generic]]:
    rng = np.random.default_rng(seed)
    region = rng.choice(4, size=n, p=[0.5, 0.3, 0.15, 0.05])
    device = rng.choice(3, size=n)
    y = rng.random(n) < 0.05 * (1 + region)              # base rates differ by region
    z = rng.standard_normal(n) + y * (2.5 - 0.4 * region)  # and so does separation
    score = special.expit(1.5 * (z - 2.0))
    return {"region": region, "device": device, "y": y, "score": score}


def profiles(data: dict[str, npt.NDArray[np.generic]]) -> dict[Cohort, Profile]:
    b = score_bin(data["score"], BINNING.score)
    out: dict[Cohort, Profile] = {}
    for column, count in (("region", 4), ("device", 3)):
        for value in range(count):
            mask = data[column] == value
            cell = np.asarray(data["y"][mask], dtype=np.int64) * 1000 + b[mask]
            by_label = np.bincount(cell, minlength=3000).reshape(3, 1000)
            cohort = Cohort(column, f"{column[0]}{value}")
            stats_ = ScoreStats(by_label, np.zeros((1, 1000), np.int64), np.zeros((3, 1000)),
                                np.zeros((3, 1000)))
            out[cohort] = replace(BINNING.empty(DAY, DAY, cohort), n=int(mask.sum()), score=stats_)
    return out


def test_gaps_equal_a_direct_computation_on_the_rows() -> None:
    data = rows(1)
    gaps = {(g.column, g.metric): g for g in fairness_gaps(profiles(data), BINNING, SPEC)}
    flagged = data["score"] >= 0.5
    y = data["y"].astype(bool)
    for column, count in (("region", 4), ("device", 3)):
        for metric, success, trial in (("false_positive_rate", flagged & ~y, ~y), ("recall", flagged & y, y),
                                       ("precision", flagged & y, flagged)):
            counts = {}
            for value in range(count):
                mask = data[column] == value
                counts[f"{column[0]}{value}"] = (int((success & mask).sum()), int((trial & mask).sum()))
            rates = {k: s / t for k, (s, t) in counts.items()}
            high, low = max(rates, key=rates.__getitem__), min(rates, key=rates.__getitem__)
            gap = gaps[(column, metric)]
            assert (gap.high_value, gap.low_value) == (high, low)
            assert gap.gap == pytest.approx(rates[high] - rates[low])
            (l1, u1), (l2, u2) = direct_wilson(*counts[high]), direct_wilson(*counts[low])
            p1, p2 = rates[high], rates[low]
            expected = (p1 - p2 - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
                        p1 - p2 + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))
            assert gap.interval == pytest.approx(expected, abs=1e-9)
            assert gap.cohorts == count


def test_the_difference_interval_reproduces_newcombes_worked_example() -> None:
    a = Metric("recall", 56 / 70, *wilson(56, 70), n=70)
    b = Metric("recall", 48 / 80, *wilson(48, 80), n=80)
    assert newcombe_difference(a, b) == pytest.approx((0.0524, 0.3339), abs=5e-5)


def test_cohorts_below_min_n_take_no_part_and_a_column_needs_two() -> None:
    data = rows(2, n=12_000)
    found = {(g.column, g.metric): g for g in fairness_gaps(profiles(data), BINNING, SPEC, min_n=150)}
    positives = [int((data["y"] & (data["region"] == r)).sum()) for r in range(4)]
    assert sorted(positives)[0] < 150 <= sorted(positives)[1]  # the smallest region is left out
    assert found[("region", "recall")].cohorts == 3
    flagged = [int(((data["score"] >= 0.5) & (data["region"] == r)).sum()) for r in range(4)]
    if sum(f >= 150 for f in flagged) < 2:
        assert ("region", "precision") not in found
    assert fairness_gaps(profiles(data), BINNING, SPEC, columns=["nothing"]) == []
    with pytest.raises(ValueError, match="min_n must be an integer >= 1"):
        fairness_gaps(profiles(data), BINNING, SPEC, min_n=0)


def test_gaps_are_plain_data_with_json_ready_dicts() -> None:
    import json

    (gap, *_) = fairness_gaps(profiles(rows(3)), BINNING, SPEC)
    data = gap.to_dict()
    assert set(data) == {"column", "metric", "gap", "low", "high", "highest", "lowest", "cohorts"}
    json.dumps(data, allow_nan=False)
