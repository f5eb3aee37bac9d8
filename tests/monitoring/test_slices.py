"""Slice harm: a new or grown slice whose decisions collapse pages, whatever the feature's
importance; a slice that grows without harm, or too small to tell, does not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from loopwatch.core.profile import BinScores, NumericStats
from loopwatch.core.spec import Spec, spec_from_mapping
from loopwatch.monitoring.checks import CHECKS
from loopwatch.monitoring.health import _range_shares, _range_slots
from loopwatch.monitoring.impact import decision_shift
from loopwatch.monitoring.job import run_checks
from loopwatch.monitoring.slices import SliceCheck, _adjusted, slice_harm
from loopwatch.storage.parquet_store import ParquetStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAYS, PER_DAY, ONSET = 36, 20_000, 33


def test_the_interval_is_clopper_pearson_and_the_test_compares_two_proportions() -> None:
    harm = slice_harm(3, 400, 600, 20_000)
    ci = stats.binomtest(3, 400).proportion_ci(confidence_level=0.95, method="exact")
    assert harm.interval == pytest.approx((ci.low, ci.high))
    assert harm.expected == pytest.approx(0.03)
    # 3/400 against 3%: the interval's upper end (2.2%) is below 3%: at least -27%
    assert harm.relative == pytest.approx(ci.high / 0.03 - 1)
    pooled = 603 / 20_400
    z = (3 / 400 - 0.03) / np.sqrt(pooled * (1 - pooled) * (1 / 400 + 1 / 20_000))
    assert harm.p_value == pytest.approx(2 * stats.norm.sf(abs(z)))
    # few events expected in the slice (6): Fisher's exact test
    small = slice_harm(1, 200, 600, 20_000)
    assert small.p_value == pytest.approx(stats.fisher_exact([[1, 199], [600, 19_400]]).pvalue)


@pytest.mark.parametrize(("positive", "n", "collapsed"), [
    (0, 2000, True),      # none flagged where 3% of the rest are
    (0, 60, False),       # 60 rows: zero flagged is what 3% often gives
    (50, 2000, False),    # 2.5%: no collapse
    (1900, 2000, True),   # the reverse: nearly all flagged where 3% are
])
def test_a_collapse_needs_its_interval_below_a_quarter_of_the_comparable_rate(
        positive: int, n: int, collapsed: bool) -> None:
    assert slice_harm(positive, n, 600, 20_000).collapsed is collapsed


def test_a_mean_score_uses_hoeffdings_bound() -> None:
    harm = slice_harm(0.01 * 2000, 2000, 0.2 * 10_000, 10_000, signal="score")
    half = np.sqrt(np.log(2 / 0.05) / (2 * 2000))
    assert harm.interval == pytest.approx((0.0, 0.01 + half))
    assert harm.collapsed
    assert not slice_harm(0.01 * 900, 900, 0.2 * 10_000, 10_000, signal="score").collapsed


def test_parameters_are_validated_and_the_check_is_registered() -> None:
    assert CHECKS.get("slice") is SliceCheck
    with pytest.raises(ValueError, match="collapse must be in"):
        SliceCheck(collapse=1.5)
    with pytest.raises(ValueError, match="both sides need rows"):
        slice_harm(0, 0, 1, 10)


def _spec(root: Path) -> Spec:
    return spec_from_mapping({
        "model": "slices", "store": str(root / "store"),
        "columns": {"model_version": None, "threshold": None, "latency": None, "cost": None,
                    "error": None, "source": None},
        # wallet matters nothing to the model: its importance is zero
        "features": [{"name": "x", "dtype": "numeric", "importance": 1.0},
                     {"name": "wallet", "dtype": "categorical", "importance": 0.0}],
        "cohorts": ["region"],
        "positive_actions": ["review"],
        "reference": {"start": T0.isoformat(), "end": (T0 + timedelta(days=30)).isoformat()},
    })


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ParquetStore:
    """From day 33 on, 5% of decisions arrive with ``wallet`` null and get a fallback score."""
    root = tmp_path_factory.mktemp("slices")
    spec = _spec(root)
    rng = np.random.default_rng(5)
    n = DAYS * PER_DAY
    seconds = np.sort(rng.integers(0, DAYS * 86400, n))
    day = seconds // 86400
    x = rng.normal(size=n)
    score = 1 / (1 + np.exp(-(2.0 * x - 3.76)))  # about 3% reviewed
    broken = (day >= ONSET) & (rng.random(n) < 0.05)
    wallet = rng.choice(np.array(["apple", "google", "none"], dtype=object), n)
    wallet[broken] = None
    score = np.where(broken, 0.001, score)
    # a region that grows from 2% to 8% of traffic on day 33 and is decided like the rest
    region = np.where(rng.random(n) < np.where(day >= ONSET, 0.08, 0.02), "LATAM", "EU")
    table = pa.table({
        "decision_id": [f"d{i}" for i in range(n)],
        "timestamp": pa.array(int(T0.timestamp()) * 1_000_000 + seconds * 1_000_000,
                              pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "score": score, "action": np.where(score >= 0.5, "review", "approve"),
        "x": x, "wallet": wallet, "region": region.astype(object),
    })
    target = ParquetStore.for_spec(spec)
    assert target.ingest("decisions", table, source="test").quarantined == 0
    return target


def test_a_five_percent_slice_whose_decisions_collapse_pages_on_an_unimportant_feature(
        store: ParquetStore) -> None:
    run = run_checks(store.spec, as_of=T0 + timedelta(days=ONSET + 1), store=store)
    pages = [f for f in run.pages if f.check == "slice"]
    assert [(f.feature, f.evidence["slice"]) for f in pages] == [("wallet", "wallet missing")]
    (page,) = pages
    assert page.value == 0.0 and page.threshold is not None and page.threshold > 0.01
    assert "of decisions have wallet missing" in page.message
    assert "none of them is flagged" in page.message
    # the health check on its own grades the missing rate by importance: nothing to page
    assert not [f for f in run.pages if f.check == "health" and f.feature == "wallet"]


def test_a_region_that_grows_but_is_decided_as_before_raises_nothing(
        store: ParquetStore) -> None:
    run = run_checks(store.spec, as_of=T0 + timedelta(days=ONSET + 1), store=store,
                     checks=["slice"])
    assert not [f for f in run.findings if f.cohort == "region=LATAM"]


def test_healthy_days_raise_no_slice_finding(store: ParquetStore) -> None:
    for day in (31, 32, 33):
        run = run_checks(store.spec, as_of=T0 + timedelta(days=day), store=store,
                         checks=["slice"])
        assert run.findings == ()


def test_an_out_of_range_slice_is_graded_by_its_own_share_not_the_whole_features_drift() -> None:
    # slots: missing, below, three bins inside, above; the top inner bin is flagged often
    rates = BinScores(np.array([0, 10, 1000, 1000, 1000, 200]), np.zeros(6),
                      np.array([0, 0, 10, 10, 300, 60]))
    before = NumericStats(3000, 0, 0.0, 0.0, 0.0, 1.0, np.array([0, 1000, 1000, 1000, 0]))
    # inside the range mass moved to the top bin; 2 values in 100 fell above the range
    after = NumericStats(3000, 0, 0.0, 0.0, 0.0, 1.0, np.array([0, 500, 500, 1940, 60]))
    slice_only = decision_shift(_range_shares(before), _range_shares(after),
                                rates_now=_range_slots(rates), rates_then=_range_slots(rates),
                                n_reference=3000, n_current=3000)
    # 2% of traffic moved to a slot flagged 30% of the time from one flagged 10.7%
    inside = 320 / 3000
    assert slice_only.value == pytest.approx(0.02 * (0.3 - inside))
    assert abs(slice_only.relative) < 0.25  # below the page threshold: the feature's drift is drift's


def test_a_change_every_slice_shares_is_not_one_slices_harm() -> None:
    # the rest's flagged rate went from 0.7% to 2.3% (a drift elsewhere); a region flagged at
    # 0.7% in the reference is expected at 2.3% now, so 2.5% of it flagged is no harm
    expected = _adjusted(70.0, 10_000, rest_now=(460.0, 20_000), rest_then=(630.0, 90_000))
    assert expected == pytest.approx(70.0 * (0.023 / 0.007))
    assert slice_harm(110, 4400, expected, 10_000).relative == 0.0
    # the same region against its raw reference would have looked harmed
    assert slice_harm(110, 4400, 70.0, 10_000).relative > 1.0
