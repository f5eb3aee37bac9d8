"""Model effect from the prediction loop's randomized holdout, read from the decision log."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from loopwatch.cli.main import app
from loopwatch.core.spec import Spec, spec_from_mapping
from loopwatch.core.window import Window
from loopwatch.errors import InputError
from loopwatch.learning.model_effect import model_effect
from loopwatch.storage.parquet_store import ParquetStore

WINDOW = Window.of("2026-03-08", "2026-03-15")


def _spec(tmp_path: Path, *, serving: bool = True) -> Spec:
    data = {"model": "m", "features": [{"name": "x", "dtype": "numeric"}], "cohorts": ["region"],
            "threshold": 0.5, "store": str(tmp_path / "store"), "value": {"false_positive": 5.0},
            "reference": {"start": "2026-03-01", "end": "2026-03-08"}}
    if serving:
        data["serving"] = {"holdout": 0.1, "canary": 0.05}
    return spec_from_mapping(data)


def _write(spec: Spec, seed: int = 0) -> dict[str, float]:
    """14 days; the holdout share rises from 10% to 30% on day 10 while fraud rises (the world
    changes); the model blocks 80% of frauds (and 2% of the rest), the holdout approves everything.
    Returns the true effect on dollars lost per decision in the compared week, by cohort."""
    rng = np.random.default_rng(seed)
    n = 14 * 4000
    day = np.repeat(np.arange(14), 4000)
    region = np.where(rng.random(n) < 0.3, "EU", "NA")
    fraud = rng.random(n) < np.where(day >= 10, 0.06, 0.02)
    amount = np.round(rng.lognormal(4.0, 0.8, n), 2)
    blocked_by_model = np.where(fraud, rng.random(n) < 0.8, rng.random(n) < 0.02)
    share = np.where(day >= 10, 0.3, 0.1)
    u = rng.random(n)
    holdout, canary = u < share, (u >= share) & (u < share + 0.05)
    blocked = np.where(holdout, False, blocked_by_model)
    decisions = [{
        "decision_id": f"d{i}", "timestamp": f"2026-03-{1 + day[i]:02d}T12:00:00Z", "x": 1.0,
        "region": str(region[i]), "score": 0.9 if blocked_by_model[i] else 0.1,
        "action": "block" if blocked[i] else "approve", "holdout": bool(holdout[i]),
        "holdout_probability": float(share[i]),
        "route": "holdout" if holdout[i] else "canary" if canary[i] else "primary",
    } for i in range(n)]
    outcomes = [{"decision_id": f"d{i}", "observed_at": "2026-03-25T00:00:00Z", "label": bool(fraud[i]),
                 "value": float(amount[i])} for i in range(n)]
    store = ParquetStore.for_spec(spec)
    store.ingest("decisions", pa.Table.from_pylist(decisions), source="test")
    store.ingest("outcomes", pa.Table.from_pylist(outcomes), source="test")
    # potential outcomes: dollars lost under the model minus under the holdout, for every decision
    effect = np.where(fraud & ~blocked_by_model, amount, 0.0) - np.where(fraud, amount, 0.0)
    week = (day >= 7) & ~canary
    return {"all": float(effect[week].mean()),
            **{f"region={r}": float(effect[week & (region == r)].mean()) for r in ("EU", "NA")}}


@pytest.mark.slow
def test_the_effect_on_dollars_lost_is_found_per_cohort_with_intervals_that_hold(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    truth = _write(spec)
    report = model_effect(spec, WINDOW)
    assert report.mature and report.excluded_canary > 0
    by_cohort = {c.cohort: c.effects for c in report.cohorts}
    assert set(by_cohort) == {"all", "region=EU", "region=NA"}
    for cohort, true_effect in truth.items():
        lost = by_cohort[cohort]["lost_per_decision"]
        if cohort == "region=EU":
            # 30% of the traffic: its holdout holds too few lognormal losses for an interval to be
            # trusted; the estimate stays, the interval is "not enough data", and the rates have theirs
            assert lost.status == "not_enough_data" and "skewness" in lost.reason, lost
            assert np.isnan(lost.low) and lost.effect < 0
            assert by_cohort[cohort]["missed_positive_rate"].status == "ok"
            continue
        assert lost.status == "ok" and lost.low <= true_effect <= lost.high, (cohort, lost, true_effect)
        assert lost.high < 0  # the model prevents losses, significantly
    # the holdout approves everything, so its decision rate is zero
    assert by_cohort["all"]["decision_rate"].holdout == 0.0
    assert {"value_per_decision", "missed_positive_rate"} <= set(by_cohort["all"])


def test_a_spec_without_a_holdout_is_an_error_that_says_what_to_add(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no holdout.*serving"):
        model_effect(_spec(tmp_path, serving=False), WINDOW)


@pytest.mark.slow
def test_the_command_prints_json_and_a_table(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    _write(spec, seed=1)
    path = tmp_path / "loopwatch.yaml"
    path.write_text(spec.to_yaml())
    args = ["effect", "--spec", str(path), "--from", "2026-03-08", "--to", "2026-03-15"]
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["cohorts"][0]["cohort"] == "all" and data["mature"] is True
    table = CliRunner().invoke(app, args, env={"COLUMNS": "160"})
    assert table.exit_code == 0 and "lost_per_decision" in table.stdout and "region=EU" in table.stdout
