"""The evaluate job: per cohort and day, realized beside label-free, immature days marked, JSON-ready."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest
from scipy import special

from loopwatch.core.profile import ALL, Cohort
from loopwatch.core.spec import Spec, spec_from_mapping
from loopwatch.core.window import Window
from loopwatch.errors import InputError
from loopwatch.evaluation.profile_metrics import evaluate_profile
from loopwatch.evaluation.report import EvaluationReport, evaluate
from loopwatch.storage.parquet_store import ParquetStore
from loopwatch.storage.profile_history import ProfileHistory

T0 = datetime(2026, 4, 1, tzinfo=UTC)
DAYS, PER_DAY, NOW = 50, 3_000, 50.0  # labels observed before the end of day 50
REGIONS = np.array(["NA", "EU", "APAC", "AFR"], dtype=object)


def make_spec() -> Spec:
    return spec_from_mapping({
        "model": "m", "cohorts": ["region"], "threshold": 0.5,
        "features": [{"name": "x", "dtype": "numeric"}],
        "reference": {"start": T0.isoformat(), "end": (T0 + timedelta(days=20)).isoformat()},
        "value": {"false_positive": 5.0, "false_negative": 0.0},
    })


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[EvaluationReport, ParquetStore]:
    """50 days of decisions; from day 22, AFR's fraud scores like legitimate payments."""
    rng = np.random.default_rng(0)
    n = DAYS * PER_DAY
    day = rng.uniform(0, DAYS, n)
    region = rng.choice(4, size=n, p=[0.45, 0.3, 0.15, 0.1])
    y = rng.random(n) < 0.03
    hidden = (region == 3) & (day >= 22)
    z = rng.standard_normal(n) + np.where(y & ~hidden, 3.0, 0.0)
    score = special.expit(1.5 * (z - 2.5))
    delay = np.where(y, np.exp(np.log(9) + 0.6 * rng.standard_normal(n)), 2 + rng.exponential(2.0, n))
    observed = day + delay
    seen = observed < NOW
    stamps = [T0 + timedelta(days=float(d)) for d in day]
    decisions = pa.table({
        "decision_id": [f"d{i}" for i in range(n)],
        "timestamp": pa.array(stamps, pa.timestamp("us", tz="UTC")),
        "score": score, "x": rng.standard_normal(n), "region": pa.array(REGIONS[region], pa.string()),
    })
    outcomes = pa.table({
        "decision_id": [f"d{i}" for i in np.flatnonzero(seen)],
        "observed_at": pa.array([T0 + timedelta(days=float(d)) for d in observed[seen]],
                                pa.timestamp("us", tz="UTC")),
        "label": y[seen], "value": rng.gamma(2.0, 50.0, int(seen.sum())),
    })
    store = ParquetStore(tmp_path_factory.mktemp("report") / "store", spec=make_spec())
    store.ingest("decisions", decisions, source="test")
    store.ingest("outcomes", outcomes, source="test")
    return evaluate(make_spec(), store=store), store


def test_the_default_window_runs_from_the_reference_end_to_the_last_stored_day(
        report: tuple[EvaluationReport, ParquetStore]) -> None:
    result, _ = report
    assert (result.start, result.end) == (T0 + timedelta(days=20), T0 + timedelta(days=DAYS))
    assert result.reference == Window(T0, T0 + timedelta(days=20))
    assert [d.start for d in result.days] == [T0 + timedelta(days=20 + k) for k in range(DAYS - 20)]


def test_recent_days_are_immature_and_still_have_label_free_estimates(
        report: tuple[EvaluationReport, ParquetStore]) -> None:
    result, _ = report
    # a single day's flagged decisions are few, so its maturity is noisy at the edge; the last
    # ten days (chargebacks take a median of 9 days) are clearly immature
    assert not any(d.maturity.mature for d in result.days[-10:])
    assert sum(d.maturity.mature for d in result.days[:7]) >= 4
    for d in result.days:
        assert set(d.estimates) >= {"roc_auc", "precision", "recall", "value_per_decision"}
    last = result.days[-1]
    assert last.maturity.coverage < 0.2 and math.isfinite(last.estimates["precision"].value)
    assert result.compared is not None
    assert result.compared.start == result.start
    # the compared stretch is mature as a whole: older days' labels carry a few younger ones
    assert result.compared.end <= result.end - timedelta(days=7)


def test_the_hidden_fraud_in_the_small_region_is_a_finding_of_the_compared_window(
        report: tuple[EvaluationReport, ParquetStore]) -> None:
    result, _ = report
    cohorts = {f.cohort for f in result.findings}
    assert "region=AFR" in cohorts
    assert {f.statistic for f in result.findings if f.cohort == "region=AFR"} & {"recall", "roc_auc"}
    assert all(Window(f.start, f.end) == result.compared for f in result.findings)


def test_cohort_metrics_equal_those_of_a_profile_of_the_window(
        report: tuple[EvaluationReport, ParquetStore]) -> None:
    result, store = report
    history = ProfileHistory(store)
    for evaluation in result.cohorts:
        if evaluation.cohort not in (ALL, Cohort("region", "EU")):
            continue
        profile = history.profile(start=result.start, end=result.end, cohort=evaluation.cohort)
        expected = evaluate_profile(profile, history.binning(), make_spec())
        assert evaluation.n == profile.n
        for name in ("roc_auc", "precision", "recall", "label_coverage"):
            assert evaluation.metrics[name] == expected[name]


def test_to_dict_is_json_with_stable_keys_and_rows_are_flat(
        report: tuple[EvaluationReport, ParquetStore]) -> None:
    result, _ = report
    data = result.to_dict()
    assert list(data) == ["model", "window", "reference", "compared", "threshold", "cohorts", "days",
                          "fairness", "findings"]
    assert data["window"] == {"start": "2026-04-21T00:00:00+00:00", "end": "2026-05-21T00:00:00+00:00"}
    json.dumps(data, allow_nan=False)
    rows = result.rows()
    assert {tuple(sorted(r)) for r in rows} == {
        ("basis", "cohort", "high", "label_coverage", "low", "mature", "metric", "n", "status", "value")}
    assert {r["basis"] for r in rows} == {"labels", "label-free"}
    assert {r["cohort"] for r in rows} >= {"all", "region=AFR", "region=EU"}
    assert {g.column for g in result.fairness} == {"region"}


def test_an_empty_window_is_an_input_error(report: tuple[EvaluationReport, ParquetStore]) -> None:
    _, store = report
    with pytest.raises(InputError, match="is empty"):
        evaluate(make_spec(), store=store, start=T0 + timedelta(days=30), end=T0 + timedelta(days=30),
                 update=False)


def test_the_report_is_the_one_scikit_learns_isotonic_estimator_gives(
        report: tuple[EvaluationReport, ParquetStore], monkeypatch: pytest.MonkeyPatch) -> None:
    """The calibration's fits are computed without the estimator, for speed; not one number moves."""
    from sklearn.isotonic import IsotonicRegression

    from loopwatch.evaluation import label_free

    def estimator(rates: np.ndarray, weights: np.ndarray) -> np.ndarray:
        x = np.arange(rates.size, dtype=np.float64)
        used = weights > 0
        fit = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
        fit.fit(x[used], rates[used], sample_weight=weights[used])
        return np.asarray(fit.predict(x), dtype=np.float64)

    result, store = report
    monkeypatch.setattr(label_free, "_isotonic", estimator)
    before = evaluate(make_spec(), store=store)
    assert json.dumps(before.to_dict(), sort_keys=True) == json.dumps(result.to_dict(), sort_keys=True)
