"""Champion/challenger from shadow scores logged beside each decision (the serving columns)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from loopwatch.core.spec import Spec, spec_from_mapping
from loopwatch.core.window import Window
from loopwatch.errors import InputError
from loopwatch.learning.champion import compare_versions
from loopwatch.storage.parquet_store import ParquetStore

REFERENCE = Window.of("2026-03-01", "2026-03-08")
COMPARED = Window.of("2026-03-08", "2026-03-15")


def _spec(tmp_path: Path, *, serving: bool = True) -> Spec:
    data = {"model": "m", "features": [{"name": "x", "dtype": "numeric"}], "cohorts": ["region"],
            "threshold": 0.5, "store": str(tmp_path / "store"),
            "reference": {"start": "2026-03-01", "end": "2026-03-08"}}
    if serving:
        data["serving"] = {"holdout": 0.0}
    return spec_from_mapping(data)


def _write(spec: Spec, *, canary_share: float, worse_in: str | None, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    n = 14 * 1500
    day = np.repeat(np.arange(14), 1500)
    y = rng.random(n) < 0.1
    region = np.where(rng.random(n) < 0.05, "small", "large")
    champion = 1 / (1 + np.exp(-(2.0 * y - 2 + rng.normal(0, 1.2, n))))
    challenger = 1 / (1 + np.exp(-(2.0 * y - 2 + rng.normal(0, 0.8, n))))
    if worse_in is not None:
        broken = region == worse_in
        challenger[broken] = rng.random(broken.sum())
    canary = rng.random(n) < canary_share
    decisions = [{
        "decision_id": f"d{i}", "timestamp": f"2026-03-{1 + day[i]:02d}T12:00:00Z", "x": 1.0,
        "region": str(region[i]),
        "model_version": "v2" if canary[i] else "v1",
        "score": float(challenger[i] if canary[i] else champion[i]),
        "shadow_score": float(champion[i] if canary[i] else challenger[i]),
        "shadow_version": "v1" if canary[i] else "v2",
    } for i in range(n)]
    outcomes = [{"decision_id": f"d{i}", "observed_at": "2026-03-20T00:00:00Z", "label": bool(y[i])}
                for i in range(n)]
    store = ParquetStore.for_spec(spec)
    store.ingest("decisions", pa.Table.from_pylist(decisions), source="test")
    store.ingest("outcomes", pa.Table.from_pylist(outcomes), source="test")


@pytest.mark.slow
def test_shadow_scores_on_champion_and_canary_traffic_are_paired_the_same_way_round(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    _write(spec, canary_share=0.3, worse_in=None)
    result = compare_versions(spec, "v1", "v2", COMPARED)
    assert result.source == "shadow" and result.verdict == "passed", result.report()
    assert result.overall is not None and result.overall.n == 7 * 1500
    # turned round, the old version is the challenger: worse everywhere, so blocked everywhere
    reversed_ = compare_versions(spec, "v2", "v1", COMPARED)
    assert reversed_.verdict == "blocked"
    assert set(reversed_.blocked_cohorts) == {"all", "region=large", "region=small"}


@pytest.mark.slow
def test_a_challenger_worse_in_one_region_of_shadow_traffic_is_blocked_there(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    _write(spec, canary_share=0.0, worse_in="small")
    result = compare_versions(spec, "v1", "v2", COMPARED)
    assert result.blocked_cohorts == ("region=small",)
    assert result.to_dict()["blocked_cohorts"] == ["region=small"]


def test_versions_never_logged_together_give_no_verdict_but_no_pass(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    _write(spec, canary_share=0.0, worse_in=None)
    result = compare_versions(spec, "v1", "v9", COMPARED)
    assert result.verdict == "no_paired_scores" and not result.passed
    assert "v9" in result.reason


def test_without_serving_columns_the_error_says_to_replay(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"logs no shadow scores.*compare_replay"):
        compare_versions(_spec(tmp_path, serving=False), "v1", "v2", COMPARED)
    with pytest.raises(InputError, match="the same version"):
        compare_versions(_spec(tmp_path), "v1", "v1", COMPARED)
