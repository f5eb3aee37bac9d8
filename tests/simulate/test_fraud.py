"""The simulated card-fraud system: a healthy world, and incidents that show where they should."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from sklearn.metrics import roc_auc_score

from loopwatch.core.profile import HOUR_OF_DAY
from loopwatch.core.schema import decision_schema, outcome_schema
from loopwatch.core.spec import load_spec
from loopwatch.errors import InputError
from loopwatch.simulate.fraud import (
    BLOCK_THRESHOLD,
    INCIDENT_KINDS,
    REVIEW_THRESHOLD,
    SimulationConfig,
    SimulationResult,
    simulate,
    write_simulation,
)
from loopwatch.simulate.world import PEAK_HOURS

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def run() -> SimulationResult:
    return simulate(SimulationConfig(days=40, decisions_per_day=2_000, seed=3, start=START))


def _incident(result: SimulationResult, kind: str) -> dict[str, Any]:
    (record,) = [i for i in result.ground_truth["incidents"] if i["kind"] == kind]
    return record


def _bounds(result: SimulationResult, kind: str) -> tuple[datetime, datetime]:
    record = _incident(result, kind)
    end = record["end"] or result.ground_truth["end"]
    return datetime.fromisoformat(record["onset"]), datetime.fromisoformat(end)


def _times(table: pa.Table, column: str = "timestamp") -> np.ndarray[Any, Any]:
    return np.array(table.column(column).cast(pa.int64()).to_numpy())


def _us(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000


def _windows(result: SimulationResult, kind: str) -> tuple[np.ndarray[Any, Any], ...]:
    """Masks of decisions before the onset, during the incident, and after its end."""
    onset, end = _bounds(result, kind)
    ts = _times(result.decisions)
    return ts < _us(onset), (ts >= _us(onset)) & (ts < _us(end)), ts >= _us(end)


def _floats(table: pa.Table, column: str) -> np.ndarray[Any, Any]:
    return np.array(table.column(column).to_numpy(zero_copy_only=False), dtype=float)


def _strings(table: pa.Table, column: str) -> np.ndarray[Any, Any]:
    return np.array(table.column(column).to_pylist(), dtype=object)


def _flagged(table: pa.Table) -> np.ndarray[Any, Any]:
    return np.isin(_strings(table, "action"), ["block", "review"])


def _joined(result: SimulationResult) -> pa.Table:
    return result.outcomes.select(["decision_id", "observed_at", "label", "value"]).join(
        result.decisions.drop_columns(["model"]), "decision_id")


# --- determinism and size ------------------------------------------------------------------


def test_the_same_seed_gives_identical_tables_and_another_seed_does_not() -> None:
    config = SimulationConfig(days=33, decisions_per_day=800, seed=11, start=START)
    first, second = simulate(config), simulate(config)
    assert first.decisions.equals(second.decisions)
    assert first.outcomes.equals(second.outcomes)
    assert first.ground_truth == second.ground_truth
    assert first.spec == second.spec
    other = simulate(SimulationConfig(days=33, decisions_per_day=800, seed=12, start=START))
    assert not other.decisions.column("score").equals(first.decisions.column("score"))


def test_a_healthy_run_has_about_days_times_decisions_per_day_rows() -> None:
    result = simulate(SimulationConfig(days=40, decisions_per_day=2_000, incidents=(),
                                       seed=5, start=START))
    assert abs(result.decisions.num_rows - 80_000) < 0.03 * 80_000
    assert result.ground_truth["incidents"] == []


def test_decision_ids_are_unique_and_rows_are_in_time_order(run: SimulationResult) -> None:
    ids = run.decisions.column("decision_id")
    assert pc.count_distinct(ids).as_py() == run.decisions.num_rows
    assert (np.diff(_times(run.decisions)) >= 0).all()


# --- the healthy world ---------------------------------------------------------------------


def test_the_healthy_model_separates_fraud_well(run: SimulationResult) -> None:
    joined = _joined(run)
    reference_end = _us(datetime.fromisoformat(run.ground_truth["reference"]["end"]))
    healthy = _times(joined) < reference_end
    labels = np.array(joined.column("label").to_pylist())[healthy]
    assert roc_auc_score(labels, _floats(joined, "score")[healthy]) > 0.8


def test_actions_follow_the_thresholds_in_the_spec(run: SimulationResult) -> None:
    score = _floats(run.decisions, "score")
    action = _strings(run.decisions, "action")
    assert run.spec.threshold == REVIEW_THRESHOLD
    assert (_floats(run.decisions, "threshold") == REVIEW_THRESHOLD).all()
    assert set(run.spec.positive_actions) == {"block", "review"}
    assert (action[score >= BLOCK_THRESHOLD] == "block").all()
    assert (action[(score >= REVIEW_THRESHOLD) & (score < BLOCK_THRESHOLD)] == "review").all()
    assert (action[score < REVIEW_THRESHOLD] == "approve").all()
    assert 0.001 < _flagged(run.decisions).mean() < 0.05


def test_volume_is_seasonal_and_fraud_is_more_common_at_night(run: SimulationResult) -> None:
    hours = (_times(run.decisions) // 3_600_000_000) % 24
    per_hour = np.bincount(hours, minlength=24)
    assert per_hour[list(PEAK_HOURS)].mean() > 4 * per_hour[[2, 3, 4]].mean()
    days = _times(run.decisions) // 86_400_000_000
    weekday = (days + 3) % 7
    per_day = np.bincount(days)
    weekend_mean = per_day[np.unique(days[weekday >= 5])].mean()
    weekday_mean = per_day[np.unique(days[weekday < 5])].mean()
    assert weekend_mean < 0.97 * weekday_mean
    joined = _joined(run)
    labels = np.array(joined.column("label").to_pylist())
    night = np.isin((_times(joined) // 3_600_000_000) % 24, [0, 1, 2, 3, 4, 5])
    assert labels[night].mean() > 1.5 * labels[~night].mean()


def test_outcomes_come_after_their_decision_and_before_the_end(run: SimulationResult) -> None:
    joined = _joined(run)
    observed = _times(joined, "observed_at")
    assert (observed > _times(joined)).all()
    assert (observed < _us(datetime.fromisoformat(run.ground_truth["end"]))).all()
    assert joined.num_rows == run.outcomes.num_rows
    # some labels are still outstanding at the end of the run
    assert run.outcomes.num_rows < 0.97 * run.decisions.num_rows


def test_outcome_values_are_dollars_even_when_amount_is_logged_in_cents(
        run: SimulationResult) -> None:
    joined = _joined(run)
    onset, end = _bounds(run, "unit_change")
    ts = _times(joined)
    during = (ts >= _us(onset)) & (ts < _us(end))
    value, amount = _floats(joined, "value"), _floats(joined, "amount")
    assert np.allclose(value[~during], amount[~during])
    assert np.allclose(value[during] * 100, amount[during])


def test_some_features_have_a_few_nulls_before_any_incident(run: SimulationResult) -> None:
    before, _, _ = _windows(run, "harmless_shift")
    for name in ("account_age_days", "distance_km", "velocity_ratio"):
        nulls = np.isnan(_floats(run.decisions, name)[before]).mean()
        assert 0.005 < nulls < 0.03, name
    assert run.decisions.column("amount").null_count == 0


# --- the spec and the ground truth ---------------------------------------------------------


def test_the_spec_round_trips_and_describes_the_tables(run: SimulationResult,
                                                       tmp_path: Path) -> None:
    path = tmp_path / "loopwatch.yaml"
    path.write_text(run.spec.to_yaml(), encoding="utf-8")
    loaded = load_spec(path)
    assert loaded.model_dump(exclude={"base_dir"}) == run.spec.model_dump(exclude={"base_dir"})
    assert loaded.store == "./store"
    assert loaded.store_location() == str(tmp_path / "store")
    assert run.decisions.schema == decision_schema(run.spec).arrow
    assert run.outcomes.schema == outcome_schema(run.spec).arrow
    assert decision_schema(run.spec).conform(run.decisions, source="test").rejected == ()
    assert loaded.reference.start == START + timedelta(days=14)  # after the training days
    assert loaded.reference.end == START + timedelta(days=30)
    assert len(loaded.features) >= 12
    assert {f.pii for f in loaded.features} == {"none"}
    assert {f.dtype for f in loaded.features} == {"numeric", "categorical", "boolean"}
    assert loaded.entities == ("merchant_category",)
    assert set(loaded.cohorts) == {"region", "device", "customer_type"}


def test_ground_truth_is_json_and_names_what_is_in_the_store(run: SimulationResult) -> None:
    truth = json.loads(json.dumps(run.ground_truth))
    assert truth["start"] == START.isoformat()
    assert truth["end"] == (START + timedelta(days=40)).isoformat()
    assert {i["kind"] for i in truth["incidents"]} == set(INCIDENT_KINDS)
    features = {f.name for f in run.spec.features}
    sources = set(_strings(run.decisions, "source"))
    reference_end = START + timedelta(days=30)
    for record in truth["incidents"]:
        assert datetime.fromisoformat(record["onset"]) >= reference_end, record["kind"]
        assert record["end"] is None or record["end"] > record["onset"]
        assert set(record["features"]) <= features, record["kind"]
        assert set(record["sources"]) <= sources, record["kind"]
        for named in record["cohorts"] + record["entities"]:
            if named["column"] == HOUR_OF_DAY:  # a time bucket, derived from the timestamp
                assert 0 <= int(named["value"]) < 24, record
                continue
            assert named["value"] in set(_strings(run.decisions, named["column"])), record
        assert record["description"]
        assert isinstance(record["harmful"], bool) and isinstance(record["label_only"], bool)
    harmless = [i["kind"] for i in truth["incidents"] if not i["harmful"]]
    assert harmless == ["harmless_shift"]


def test_a_run_too_short_for_incidents_skips_them_and_says_why() -> None:
    result = simulate(SimulationConfig(days=30, decisions_per_day=600, seed=1, start=START))
    assert result.ground_truth["incidents"] == []
    skipped = result.ground_truth["skipped"]
    assert [s["kind"] for s in skipped] == list(INCIDENT_KINDS)
    assert "30-day reference period" in skipped[0]["reason"]
    assert result.spec.reference.end == START + timedelta(days=30)


def test_onsets_scale_with_the_length_of_the_run() -> None:
    from loopwatch.simulate.incidents import schedule

    long, _ = schedule(INCIDENT_KINDS, start_us=0, days=90)
    short, skipped = schedule(INCIDENT_KINDS, start_us=0, days=40)
    assert skipped == []
    day = 86_400_000_000
    for a, b in zip(long, short, strict=True):
        assert (a.onset_us - 30 * day) == pytest.approx(6 * (b.onset_us - 30 * day), abs=6 * 3.6e9)
        assert b.end_us is None or b.end_us <= 40 * day


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"days": 1}, "days must be >= 2; got 1"),
    ({"decisions_per_day": 10}, "decisions_per_day must be >= 100; got 10"),
    ({"incidents": ("unit_chnage",)}, "unknown incident 'unit_chnage' in incidents"),
    ({"incidents": "all"}, "incidents must be a tuple of names"),
    ({"start": datetime(2026, 1, 1)}, "start must be time-zone aware"),
    ({"start": datetime(2026, 1, 1, 0, 30, tzinfo=UTC)}, "start must be on a whole hour"),
])
def test_config_rejects_bad_values_naming_them(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        SimulationConfig(**kwargs)


# --- each incident shows after its onset and not before ------------------------------------


def test_unit_change_multiplies_amount_by_100_only_while_it_lasts(run: SimulationResult) -> None:
    before, during, after = _windows(run, "unit_change")
    amount = _floats(run.decisions, "amount")
    assert during.sum() > 300
    ratio = np.median(amount[during]) / np.median(amount[before])
    assert 60 < ratio < 160
    assert 0.7 < np.median(amount[after]) / np.median(amount[before]) < 1.4


def test_stale_feature_is_constant_while_it_lasts(run: SimulationResult) -> None:
    before, during, after = _windows(run, "stale_feature")
    values = _floats(run.decisions, "ip_risk_score")
    assert during.sum() > 300
    assert np.unique(values[during]).size == 1
    assert np.var(values[before]) > 0.001
    assert np.var(values[after]) > 0.001


def test_dropped_category_appears_at_onset_and_scores_near_zero(run: SimulationResult) -> None:
    (entity,) = _incident(run, "dropped_category")["entities"]
    before, during, _ = _windows(run, "dropped_category")
    category = _strings(run.decisions, "merchant_category") == entity["value"]
    assert not category[before].any()
    assert category[during].sum() > 200
    assert _floats(run.decisions, "score")[category].max() < 0.02
    joined = _joined(run)
    labels = np.array(joined.column("label").to_pylist())
    in_category = _strings(joined, "merchant_category") == entity["value"]
    # the category is fraud-heavy: the near-zero scores are wrong
    assert labels[in_category].mean() > 2 * labels[~in_category].mean()


def test_category_to_null_nulls_a_slice_that_then_gets_the_fallback_score(
        run: SimulationResult) -> None:
    record = _incident(run, "category_to_null")
    assert record["features"] == ["card_type"] and record["harmful"]
    before, during, _ = _windows(run, "category_to_null")
    missing = _strings(run.decisions, "card_type") == None  # noqa: E711 (elementwise)
    assert not missing[before].any()
    share = missing[during].mean()
    assert 0.06 < share < 0.10
    flagged = _flagged(run.decisions)
    # the slice's decisions collapse: none flagged, while the rest of traffic keeps its rate
    assert not flagged[during & missing].any()
    assert flagged[during & ~missing].mean() > 0.01
    assert _floats(run.decisions, "score")[during & missing].max() < 0.05


def test_flaky_source_nulls_features_at_peak_hours_only(run: SimulationResult) -> None:
    record = _incident(run, "flaky_source")
    before, during, after = _windows(run, "flaky_source")
    peak = np.isin((_times(run.decisions) // 3_600_000_000) % 24, PEAK_HOURS)
    assert (during & peak).sum() > 300
    for name in record["features"]:
        nulls = np.isnan(_floats(run.decisions, name))
        assert nulls[during & peak].mean() > 0.25, name
        assert nulls[during & ~peak].mean() < 0.02, name
        assert nulls[before & peak].mean() < 0.02, name
        assert nulls[after & peak].mean() < 0.02, name
    errors = _strings(run.decisions, "error")
    assert (errors[during & peak] == "partial_features").mean() > 0.25
    assert not (errors[before] == "partial_features").any()


def test_volume_drop_removes_most_of_one_sources_decisions(run: SimulationResult) -> None:
    (source,) = _incident(run, "volume_drop")["sources"]
    before, during, after = _windows(run, "volume_drop")
    share = _strings(run.decisions, "source") == source
    assert share[before].mean() > 0.2
    assert share[during].mean() < 0.3 * share[before].mean()
    assert share[after].mean() > 0.7 * share[before].mean()


def test_gradual_drift_grows_a_feature_and_flags_more_customers() -> None:
    result = simulate(SimulationConfig(days=40, decisions_per_day=3_000,
                                       incidents=("gradual_drift",), seed=2, start=START))
    (name,) = _incident(result, "gradual_drift")["features"]
    before, _, _ = _windows(result, "gradual_drift")
    last_day = _times(result.decisions) >= _us(START + timedelta(days=39))
    values = _floats(result.decisions, name)
    assert np.nanmedian(values[last_day]) > 2.5 * np.nanmedian(values[before])
    flagged = _flagged(result.decisions)
    assert flagged[last_day].mean() > 2 * flagged[before].mean()


def test_harmless_shift_changes_the_region_mix_but_not_the_decision_rate() -> None:
    result = simulate(SimulationConfig(days=40, decisions_per_day=4_000,
                                       incidents=("harmless_shift",), seed=4, start=START))
    before, _, _ = _windows(result, "harmless_shift")
    # in a 40-day run the growth ramp (two weeks on the 90-day calendar) is over by day 33
    grown = _times(result.decisions) >= _us(START + timedelta(days=33))
    latam = _strings(result.decisions, "region") == "LATAM"
    assert latam[before].mean() < 0.12
    assert latam[grown].mean() > 0.18
    flagged = _flagged(result.decisions)
    assert abs(flagged[grown].mean() - flagged[before].mean()) < 0.0015


def test_minority_performance_drop_shows_in_the_minority_region_only() -> None:
    result = simulate(SimulationConfig(days=60, decisions_per_day=6_000,
                                       incidents=("minority_performance_drop",), seed=8,
                                       start=START))
    (cohort,) = _incident(result, "minority_performance_drop")["cohorts"]
    onset, _ = _bounds(result, "minority_performance_drop")
    joined = _joined(result)
    after = _times(joined) >= _us(onset)
    labels = np.array(joined.column("label").to_pylist())
    score = _floats(joined, "score")
    minority = _strings(joined, cohort["column"]) == cohort["value"]

    def auc(mask: np.ndarray[Any, Any]) -> float:
        return float(roc_auc_score(labels[mask], score[mask]))

    assert labels[minority & after].sum() >= 10
    assert auc(minority & after) < auc(minority & ~after) - 0.15
    assert auc(~minority & after) > auc(~minority & ~after) - 0.05
    # label-only: the minority's features do not move much
    decisions = result.decisions
    region = _strings(decisions, cohort["column"]) == cohort["value"]
    late = _times(decisions) >= _us(onset)
    amount = _floats(decisions, "amount")
    assert 0.8 < np.median(amount[region & late]) / np.median(amount[region & ~late]) < 1.25


def test_label_definition_change_raises_the_label_rate_from_onset(run: SimulationResult) -> None:
    onset, _ = _bounds(run, "label_definition_change")
    observed = _times(run.outcomes, "observed_at")
    labels = np.array(run.outcomes.column("label").to_pylist())
    after = observed >= _us(onset)
    window = (observed >= _us(onset) - 2 * 86_400_000_000) & ~after
    assert after.sum() > 1_000
    assert labels[after].mean() > 1.5 * labels[window].mean()


# --- writing -------------------------------------------------------------------------------


def test_write_simulation_makes_a_self_contained_directory(tmp_path: Path) -> None:
    result = simulate(SimulationConfig(days=4, decisions_per_day=2_000, incidents=(), seed=1,
                                       start=START))
    out = tmp_path / "demo"
    summary = write_simulation(result, out)
    assert summary["decisions"]["written"] == result.decisions.num_rows
    assert summary["outcomes"]["written"] == result.outcomes.num_rows
    assert summary["decisions"]["quarantined"] == summary["outcomes"]["quarantined"] == 0
    assert summary["incidents"] == []
    spec = load_spec(out / "loopwatch.yaml")
    assert spec.store_location() == str((out / "store").resolve())
    assert json.loads((out / "ground_truth.json").read_text()) == result.ground_truth

    from loopwatch.storage.parquet_store import ParquetStore

    assert ParquetStore.for_spec(spec).count("decisions") == result.decisions.num_rows


def test_write_simulation_refuses_a_non_empty_directory_unless_told(tmp_path: Path) -> None:
    result = simulate(SimulationConfig(days=4, decisions_per_day=2_000, incidents=(), seed=1,
                                       start=START))
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="is not empty"):
        write_simulation(result, tmp_path)
    assert not (tmp_path / "loopwatch.yaml").exists()
    write_simulation(result, tmp_path, overwrite=True)
    summary = write_simulation(result, tmp_path, overwrite=True)
    assert summary["decisions"]["written"] == result.decisions.num_rows
    assert summary["decisions"]["duplicates"] == 0
    assert (tmp_path / "notes.txt").read_text() == "mine"
