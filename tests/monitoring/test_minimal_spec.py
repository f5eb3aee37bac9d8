"""A spec that logs only features and a score (no action, latency, source or outcomes):
the checks measure impact on the score instead of on decisions, and still page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from loopwatch.core.spec import Spec, spec_from_mapping
from loopwatch.monitoring.job import run_checks
from loopwatch.storage.parquet_store import ParquetStore

pytestmark = pytest.mark.slow

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAYS, PER_DAY = 40, 3000


def _spec(root: Path) -> Spec:
    return spec_from_mapping({
        "model": "minimal", "store": str(root / "store"),
        "columns": {"model_version": None, "action": None, "threshold": None, "latency": None,
                    "cost": None, "error": None, "source": None},
        "features": [{"name": "x", "dtype": "numeric"}, {"name": "y", "dtype": "numeric"},
                     {"name": "noise", "dtype": "numeric"}, {"name": "kind", "dtype": "categorical"}],
        "cohorts": ["kind"],
        "reference": {"start": T0.isoformat(), "end": (T0 + timedelta(days=30)).isoformat()},
    })


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ParquetStore:
    root = tmp_path_factory.mktemp("minimal")
    spec = _spec(root)
    rng = np.random.default_rng(11)
    n = DAYS * PER_DAY
    seconds = np.sort(rng.integers(0, DAYS * 86400, n))
    ts = np.array([T0 + timedelta(seconds=int(s)) for s in seconds])
    day = seconds // 86400
    x, y, noise = rng.normal(size=n), rng.lognormal(size=n), rng.normal(size=n)
    score = 1 / (1 + np.exp(-(1.5 * x + 0.8 * np.log(y) - 2)))  # the model ignores `noise`
    x_served = np.where((day == 35) & (rng.random(n) < 0.5), np.nan, x)  # x half missing on day 35
    y_served = np.where(day == 37, y * 100, y)  # y in other units on day 37
    noise_served = np.where(day >= 33, noise + 3.0, noise)  # a big shift the model ignores
    table = pa.table({
        "decision_id": [f"d{i}" for i in range(n)],
        "timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "score": np.where(day == 37, 1 / (1 + np.exp(-(1.5 * x + 0.8 * np.log(y * 100) - 2))),
                          np.where(np.isnan(x_served), 1 / (1 + np.exp(-(0.8 * np.log(y) - 2))),
                                   score)),
        "x": x_served, "y": y_served, "noise": noise_served,
        "kind": rng.choice(np.array(["a", "b", "c"], dtype=object), n),
    })
    target = ParquetStore.for_spec(spec)
    assert target.ingest("decisions", table, source="test").quarantined == 0
    return target


def _pages(store: ParquetStore, day: int) -> list[tuple[str, str | None, str | None]]:
    run = run_checks(store.spec, as_of=T0 + timedelta(days=day + 1), store=store)
    return [(f.kind, f.statistic, f.feature) for f in run.pages]


def test_a_feature_the_score_depends_on_going_missing_pages(store: ParquetStore) -> None:
    pages = _pages(store, 35)
    assert ("health", "missing_rate", "x") in pages


def test_a_unit_change_in_an_important_feature_pages(store: ParquetStore) -> None:
    assert any(feature == "y" for _, _, feature in _pages(store, 37))


def test_a_shift_in_a_feature_the_score_ignores_does_not_page(store: ParquetStore) -> None:
    assert not any(feature == "noise" for _, _, feature in _pages(store, 34))
    run = run_checks(store.spec, as_of=T0 + timedelta(days=35), store=store, update=False)
    found = [f for f in run.findings if f.feature == "noise" and f.kind == "drift"]
    assert found, "the shift itself is reported, as information"
