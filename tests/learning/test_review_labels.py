"""Labels from people: turnaround quantiles, waiting decisions and agreement with later ground truth,
checked against numpy and scikit-learn on the same planted data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from sklearn.metrics import cohen_kappa_score

from loopwatch.core.spec import Spec, spec_from_mapping
from loopwatch.errors import InputError
from loopwatch.learning.review_labels import review_report
from loopwatch.storage.parquet_store import ParquetStore

START = datetime(2026, 3, 1, tzinfo=UTC)
SPEC = spec_from_mapping({"model": "fraud", "features": [{"name": "amount", "dtype": "numeric"}],
                          "cohorts": ["region"], "outcomes": {"label_source": "label_source"}})


def _world(tmp_path: Path, seed: int = 4) -> tuple[ParquetStore, dict[str, Any]]:
    """Region EU is reviewed in ~3 h, APAC in ~30 h; reviewers agree with the truth 90% of the time."""
    rng = np.random.default_rng(seed)
    n = 3_000
    region = rng.choice(["EU", "APAC"], n, p=[0.7, 0.3])
    ts = [START + timedelta(minutes=int(m)) for m in rng.integers(0, 14 * 24 * 60, n)]
    action = np.where(rng.random(n) < 0.4, "review", "approve")
    fraud = rng.random(n) < 0.1
    decisions = pa.table({"decision_id": [f"d{i}" for i in range(n)], "timestamp": ts,
                          "score": rng.random(n), "amount": rng.random(n) * 100, "region": region,
                          "action": action})
    queued = np.flatnonzero(action == "review")
    reviewed = queued[rng.random(queued.size) < 0.9]  # the rest still wait
    hours = np.where(region[reviewed] == "EU", rng.exponential(3.0, reviewed.size),
                     rng.exponential(30.0, reviewed.size))
    correct = rng.random(reviewed.size) < 0.9
    review_label = np.where(correct, fraud[reviewed], ~fraud[reviewed])
    truthed = reviewed[rng.random(reviewed.size) < 0.8]
    rows = [{"decision_id": f"d{i}", "observed_at": ts[i] + timedelta(hours=float(h)),
             "label": bool(lab), "label_source": "review"}
            for i, h, lab in zip(reviewed, hours, review_label, strict=True)]
    # ground truth arrives 30-60 days later; and an earlier chargeback label that is not a review
    rows += [{"decision_id": f"d{i}", "observed_at": ts[i] + timedelta(days=30 + int(i) % 30),
              "label": bool(fraud[i]), "label_source": "chargeback"} for i in truthed]
    store = ParquetStore(tmp_path / "store", spec=SPEC)
    store.ingest("decisions", decisions, source="test")
    store.ingest("outcomes", pa.Table.from_pylist(rows), source="test")
    return store, {"region": region, "reviewed": reviewed, "hours": hours, "review": review_label,
                   "truthed": truthed, "fraud": fraud, "queued": queued, "ts": ts}


def test_turnaround_quantiles_per_cohort_match_numpy(tmp_path: Path) -> None:
    store, w = _world(tmp_path)
    report = review_report(store)
    by = {c.name: c for c in report.cohorts}
    for name, mask in (("all", np.ones(w["reviewed"].size, bool)),
                       ("region=EU", w["region"][w["reviewed"]] == "EU"),
                       ("region=APAC", w["region"][w["reviewed"]] == "APAC")):
        hours = w["hours"][mask]
        got = by[name]
        assert got.reviewed == hours.size
        # times are stored to the microsecond: agreement to 1e-6 h
        assert got.hours_median == pytest.approx(np.quantile(hours, 0.5), abs=1e-5)
        assert got.hours_p90 == pytest.approx(np.quantile(hours, 0.9), abs=1e-5)
        assert got.hours_max == pytest.approx(hours.max(), abs=1e-5)
    assert [c.name for c in report.longest_wait] == ["region=APAC", "region=EU"]


def test_waiting_decisions_are_counted_and_aged(tmp_path: Path) -> None:
    store, w = _world(tmp_path)
    as_of = START + timedelta(days=20)
    report = review_report(store, as_of=as_of)
    waiting = np.setdiff1d(w["queued"], w["reviewed"])
    assert report.overall.waiting == waiting.size
    oldest = max((as_of - w["ts"][i]).total_seconds() / 3600 for i in waiting)
    assert report.overall.oldest_waiting_hours == pytest.approx(oldest, abs=1e-5)


def test_agreement_and_kappa_match_scikit_learn_and_cover_the_planted_accuracy(tmp_path: Path) -> None:
    store, w = _world(tmp_path)
    report = review_report(store)
    truthed = set(w["truthed"].tolist())
    keep = np.array([i in truthed for i in w["reviewed"]])
    review, truth = w["review"][keep], w["fraud"][w["reviewed"][keep]]
    overall = report.overall
    assert overall.compared == keep.sum()
    assert overall.agreement == pytest.approx(np.mean(review == truth))
    assert overall.kappa == pytest.approx(cohen_kappa_score(review, truth))
    low, high = overall.agreement_interval or (0.0, 0.0)
    assert low < 0.9 < high


def test_a_truth_that_came_before_the_review_is_not_compared(tmp_path: Path) -> None:
    store = ParquetStore(tmp_path / "store", spec=SPEC)
    store.ingest("decisions", pa.table({"decision_id": ["a", "b"], "timestamp": [START, START],
                                        "score": [0.5, 0.5], "amount": [1.0, 2.0], "region": ["EU", "EU"],
                                        "action": ["review", "review"]}), source="test")
    store.ingest("outcomes", pa.Table.from_pylist([
        {"decision_id": "a", "observed_at": START + timedelta(hours=5), "label": True,
         "label_source": "review"},
        {"decision_id": "a", "observed_at": START + timedelta(hours=1), "label": False,
         "label_source": "chargeback"},
        {"decision_id": "b", "observed_at": START + timedelta(hours=2), "label": True,
         "label_source": "review"},
        {"decision_id": "b", "observed_at": START + timedelta(hours=9), "label": True,
         "label_source": "chargeback"}]), source="test")
    overall = review_report(store).overall
    assert (overall.reviewed, overall.compared, overall.both_positive) == (2, 1, 1)
    assert overall.kappa is None  # one class on both sides


def test_a_spec_or_store_without_label_sources_is_an_input_error(tmp_path: Path) -> None:
    plain: Spec = spec_from_mapping({"model": "fraud", "features": [{"name": "amount", "dtype": "numeric"}]})
    with pytest.raises(InputError, match="outcomes name no label_source column"):
        review_report(ParquetStore(tmp_path / "a", spec=plain))
    store = ParquetStore(tmp_path / "b", spec=plain)
    store.ingest("outcomes", pa.Table.from_pylist([{"decision_id": "a", "observed_at": START,
                                                    "label": True}]), source="test")
    with pytest.raises(InputError, match="stored outcomes have no 'label_source' column"):
        review_report(ParquetStore(tmp_path / "b", spec=SPEC))
