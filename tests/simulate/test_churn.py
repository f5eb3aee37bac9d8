"""The simulated subscription-churn system: shaped unlike the fraud world, incidents where they should be."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from loopwatch.cli.main import app
from loopwatch.core.schema import decision_schema, outcome_schema
from loopwatch.simulate.churn import (
    CALL_THRESHOLD,
    CHURN_INCIDENT_KINDS,
    OFFER_THRESHOLD,
    ChurnConfig,
    simulate_churn,
)
from loopwatch.simulate.churn_incidents import NEW_CHANNEL
from loopwatch.simulate.fraud import INCIDENT_KINDS, SimulationResult

START = datetime(2026, 1, 1, tzinfo=UTC)
DAY_US = 86_400_000_000


@pytest.fixture(scope="module")
def run() -> SimulationResult:
    return simulate_churn(ChurnConfig(days=90, decisions_per_day=1_500, seed=5, start=START))


@pytest.fixture(scope="module")
def healthy() -> SimulationResult:
    return simulate_churn(ChurnConfig(days=30, decisions_per_day=2_000, incidents=(), seed=5,
                                      start=START))


def _us(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp()) * 1_000_000


def _bounds(result: SimulationResult, kind: str) -> tuple[int, int]:
    (record,) = [i for i in result.ground_truth["incidents"] if i["kind"] == kind]
    return _us(record["onset"]), _us(record["end"] or result.ground_truth["end"])


def _ts(table: pa.Table, column: str = "timestamp") -> np.ndarray[Any, Any]:
    return np.array(table.column(column).cast(pa.int64()).to_numpy())


def _floats(table: pa.Table, column: str) -> np.ndarray[Any, Any]:
    return np.array(table.column(column).to_numpy(zero_copy_only=False), dtype=float)


def _strings(table: pa.Table, column: str) -> np.ndarray[Any, Any]:
    return np.array(table.column(column).to_pylist(), dtype=object)


def _joined(result: SimulationResult) -> pa.Table:
    return result.outcomes.select(["decision_id", "observed_at", "label"]).join(
        result.decisions.drop_columns(["model"]), "decision_id")


def _before_during(result: SimulationResult, kind: str,
                   table: pa.Table | None = None) -> tuple[np.ndarray[Any, Any], ...]:
    onset, end = _bounds(result, kind)
    ts = _ts(result.decisions if table is None else table)
    return ts < onset, (ts >= onset) & (ts < end)


def test_tables_have_the_stored_schemas_of_the_spec(run: SimulationResult) -> None:
    assert run.decisions.schema == decision_schema(run.spec).arrow
    assert run.outcomes.schema == outcome_schema(run.spec).arrow
    assert run.spec.model == "subscription-churn"
    assert set(run.spec.cohorts) == {"region", "plan", "billing_cycle"}


def test_the_world_is_shaped_unlike_the_fraud_world(healthy: SimulationResult) -> None:
    d, joined = healthy.decisions, _joined(healthy)
    labels = np.array(joined.column("label").to_pylist())
    assert 0.03 <= labels.mean() <= 0.08
    for name in ("sessions_30d", "support_tickets_90d", "payment_failures_90d", "tenure_months"):
        values = _floats(d, name)
        values = values[~np.isnan(values)]
        assert np.array_equal(values, np.round(values)), name
    watch = _floats(d, "watch_hours_30d")
    watch = watch[~np.isnan(watch)]
    assert np.quantile(watch, 0.999) > 8 * np.median(watch)  # a heavy tail
    assert len(set(_strings(d, "favorite_genre")) - {None}) >= 30
    assert len(set(_strings(d, "acquisition_channel"))) == 14
    # the nightly batch is most of the volume, at night
    hours = (_ts(d) // 3_600_000_000) % 24
    batch = _strings(d, "source") == "nightly-batch"
    assert batch.mean() > 0.6 and set(np.unique(hours[batch])) <= {1, 2, 3, 4}


def test_labels_arrive_at_the_renewal_and_the_model_ranks_them(healthy: SimulationResult,
                                                                 run: SimulationResult) -> None:
    joined = _joined(run)
    delay_days = (_ts(joined, "observed_at") - _ts(joined)) / DAY_US
    assert delay_days.min() >= 2.0 and delay_days.max() <= 60.0
    annual = _strings(joined, "billing_cycle") == "annual"
    assert delay_days[annual].max() > 35.0 >= delay_days[~annual].max() - 0.01
    joined = _joined(healthy)
    labels = np.array(joined.column("label").to_pylist())
    assert roc_auc_score(labels, _floats(joined, "score")) > 0.72
    score, action = _floats(healthy.decisions, "score"), _strings(healthy.decisions, "action")
    assert set(action[score >= CALL_THRESHOLD]) == {"call"}
    assert set(action[(score >= OFFER_THRESHOLD) & (score < CALL_THRESHOLD)]) == {"offer"}
    assert set(action[score < OFFER_THRESHOLD]) == {"none"}


def test_the_same_seed_gives_the_same_tables() -> None:
    config = ChurnConfig(days=3, decisions_per_day=2_000, incidents=(), seed=9, start=START)
    first, second = simulate_churn(config), simulate_churn(config)
    assert first.decisions.equals(second.decisions) and first.outcomes.equals(second.outcomes)
    other = simulate_churn(ChurnConfig(days=3, decisions_per_day=2_000, incidents=(), seed=10,
                                       start=START))
    assert not first.decisions.column("score").equals(other.decisions.column("score"))


def test_its_incidents_are_its_own() -> None:
    assert not set(CHURN_INCIDENT_KINDS) - {"label_definition_change"} & set(INCIDENT_KINDS)
    with pytest.raises(ValueError, match="unknown incident 'unit_change'"):
        ChurnConfig(incidents=("unit_change",))


def test_session_reset_zeroes_in_app_sessions_only_while_active(run: SimulationResult) -> None:
    before, during = _before_during(run, "sdk_session_reset")
    zero = _floats(run.decisions, "sessions_30d") == 0
    app_rows = _strings(run.decisions, "source") == "app-event"
    assert zero[during & app_rows].mean() > 0.6 > 0.2 > zero[before & app_rows].mean()
    assert zero[during & ~app_rows].mean() < 0.2


def test_billing_nulls_hit_the_nightly_batch(run: SimulationResult) -> None:
    before, during = _before_during(run, "billing_api_nulls")
    null = np.isnan(_floats(run.decisions, "payment_failures_90d"))
    batch = _strings(run.decisions, "source") == "nightly-batch"
    assert null[during & batch].mean() > 0.4 > 0.02 > null[before & batch].mean()
    errors = _strings(run.decisions, "error")
    assert (errors[during & batch & null] == "partial_features").mean() > 0.95


def test_the_new_channel_appears_at_its_onset_and_cancels_more(run: SimulationResult) -> None:
    onset, _ = _bounds(run, "new_channel")
    channel = _strings(run.decisions, "acquisition_channel")
    ts = _ts(run.decisions)
    assert not (channel[ts < onset] == NEW_CHANNEL).any()
    assert 0.04 < (channel[ts >= onset] == NEW_CHANNEL).mean() < 0.08
    joined = _joined(run)
    new = _strings(joined, "acquisition_channel") == NEW_CHANNEL
    labels = np.array(joined.column("label").to_pylist())
    old = (_ts(joined) >= onset) & ~new
    assert labels[new].mean() > 2 * labels[old].mean()
    # the model gives it no weight: its scores fall far short of its cancellations
    scores = _floats(joined, "score")
    under = labels[new].mean() / scores[new].mean()
    assert under > 1.8 and under > 1.5 * labels[old].mean() / scores[old].mean()


def test_stale_watch_hours_hold_one_value_per_region(run: SimulationResult) -> None:
    before, during = _before_during(run, "stale_watch_hours")
    watch, region = _floats(run.decisions, "watch_hours_30d"), _strings(run.decisions, "region")
    for name in ("US", "BR"):
        assert len(np.unique(watch[during & (region == name)])) == 1
        assert len(np.unique(watch[before & (region == name)])) > 100


def test_support_calls_drop_and_other_sources_do_not(run: SimulationResult) -> None:
    before, during = _before_during(run, "support_volume_drop")
    onset, end = _bounds(run, "support_volume_drop")
    days = (end - onset) / DAY_US
    source = _strings(run.decisions, "source")
    recent = before & (_ts(run.decisions) >= onset - 14 * DAY_US)
    for name, low, high in (("support-call", 0.05, 0.3), ("app-event", 0.8, 1.25)):
        ratio = ((during & (source == name)).sum() / days) / ((recent & (source == name)).sum() / 14)
        assert low < ratio < high, name


def test_login_lag_grows_after_its_onset(run: SimulationResult) -> None:
    before, _ = _before_during(run, "login_lag_drift")
    since = _floats(run.decisions, "days_since_login")
    late = _ts(run.decisions) >= _us(run.ground_truth["end"]) - 3 * DAY_US
    assert np.median(since[late]) >= np.median(since[before]) + 10


def test_competitor_launch_moves_labels_in_mx_not_features(run: SimulationResult) -> None:
    joined = _joined(run)
    onset, _ = _bounds(run, "competitor_launch")
    region, labels = _strings(joined, "region"), np.array(joined.column("label").to_pylist())
    ts, observed = _ts(joined), _ts(joined, "observed_at")
    # labels observed before the definition change, to see this incident alone
    clean = observed < _bounds(run, "label_definition_change")[0]
    mx = region == "MX"
    assert labels[mx & (ts >= onset) & clean].mean() > labels[mx & (ts < onset)].mean() + 0.05
    tenure = _floats(run.decisions, "tenure_months")
    mx_d = _strings(run.decisions, "region") == "MX"
    ts_d = _ts(run.decisions)
    assert abs(np.median(tenure[mx_d & (ts_d >= onset)]) - np.median(tenure[mx_d & (ts_d < onset)])) <= 2


def test_label_definition_change_raises_the_label_rate(run: SimulationResult) -> None:
    joined = _joined(run)
    onset, _ = _bounds(run, "label_definition_change")
    observed, labels = _ts(joined, "observed_at"), np.array(joined.column("label").to_pylist())
    region = _strings(joined, "region")
    keep = region != "MX"  # the competitor's cancellations are a separate incident
    window = 10 * DAY_US
    after = labels[keep & (observed >= onset)].mean()
    assert after > labels[keep & (observed < onset) & (observed >= onset - window)].mean() + 0.015


def test_harmless_growth_shifts_the_mix_not_the_behaviour(run: SimulationResult) -> None:
    region, ts = _strings(run.decisions, "region"), _ts(run.decisions)
    onset, _ = _bounds(run, "harmless_growth")
    late = ts >= _us(run.ground_truth["end"]) - 10 * DAY_US
    assert (region[late] == "IN").mean() > 2 * (region[ts < onset] == "IN").mean()
    joined = _joined(run)
    ok = _ts(joined, "observed_at") < _bounds(run, "label_definition_change")[0]
    inr, tj = _strings(joined, "region") == "IN", _ts(joined)
    labels = np.array(joined.column("label").to_pylist())
    early, grown = inr & ok & (tj < onset), inr & ok & (tj >= onset + 14 * DAY_US)
    assert abs(labels[early].mean() - labels[grown].mean()) < 0.025


def test_the_cli_simulates_churn_and_every_command_reads_it(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "churn"
    done = runner.invoke(app, ["simulate", "--generator", "churn", "--days", "32", "--per-day", "500",
                               "--incidents", "harmless_growth", "--out", str(out)])
    assert done.exit_code == 0, done.output
    truth = json.loads((out / "ground_truth.json").read_text())
    assert truth["generator"] == "churn" and [i["kind"] for i in truth["incidents"]] == ["harmless_growth"]
    summary = runner.invoke(app, ["summary", "--spec", str(out / "loopwatch.yaml"), "--format", "json"])
    assert summary.exit_code == 0, summary.output
    assert json.loads(summary.stdout)["model"] == "subscription-churn"
    check = runner.invoke(app, ["check", "--spec", str(out / "loopwatch.yaml"), "--as-of", "2026-02-02"])
    assert check.exit_code in (0, 1), check.output
    wrong = runner.invoke(app, ["simulate", "--generator", "churn", "--incidents", "unit_change",
                                "--out", str(tmp_path / "x")])
    assert wrong.exit_code == 2 and "churn" in wrong.output
    bad = runner.invoke(app, ["simulate", "--generator", "crypto", "--out", str(tmp_path / "y")])
    assert bad.exit_code == 2 and "--generator" in bad.output
