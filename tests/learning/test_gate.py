"""The deploy gate on the simulator: a version trained before gift cards were sold does not flag a known
gift-card fraud pattern and fails, naming the case; retrained on data that includes it, it passes.
Then each check's failure on its own: schema, canary inputs, latency, calibration."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import yaml
from typer.testing import CliRunner

from loopwatch.cli.main import app
from loopwatch.core.gate_spec import Gate
from loopwatch.core.registry import ModelVersion
from loopwatch.core.spec import spec_from_mapping
from loopwatch.core.window import Window
from loopwatch.errors import SpecError
from loopwatch.learning.artifacts import save_model
from loopwatch.learning.champion import compare_replay
from loopwatch.learning.gate import (
    GateCheck,
    GateReport,
    calibration_check,
    canary_check,
    champion_check,
    latency_check,
    matured_rows,
    schema_check,
)
from loopwatch.prediction.models import Model, score_rows
from loopwatch.simulate.fraud import SimulationConfig, simulate
from loopwatch.simulate.model import train_model
from loopwatch.simulate.serving import CATEGORIES, matrix_of
from loopwatch.simulate.world import FEATURES
from loopwatch.storage.parquet_store import ParquetStore
from loopwatch.storage.sources import open_source

runner = CliRunner()
START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 10

# a card-testing pattern on gift cards: new account, far away, many attempts, risky IP
GIFT_CARD_FRAUD = {"amount": 450.0, "account_age_days": 3.0, "distance_km": 800.0, "txn_count_24h": 9.0,
                   "velocity_ratio": 4.0, "hour_of_day": 3, "ip_risk_score": 0.9, "failed_logins_7d": 4,
                   "merchant_category": "gift_cards", "card_type": "prepaid", "country_mismatch": True,
                   "card_present": False, "billing_shipping_match": False}
GROCERY = {"amount": 25.0, "account_age_days": 900.0, "distance_km": 3.0, "txn_count_24h": 1.0,
           "velocity_ratio": 1.0, "hour_of_day": 12, "ip_risk_score": 0.05, "failed_logins_7d": 0,
           "merchant_category": "grocery", "card_type": "debit", "country_mismatch": False,
           "card_present": True, "billing_shipping_match": True}
GATE = {"cases": [{"name": "known_fraud_pattern", "input": GIFT_CARD_FRAUD, "expect": "flagged"},
                  {"name": "ordinary_purchase", "input": GROCERY, "expect": "approved"}],
        "canary_inputs": [{}, {"merchant_category": "a category never seen", "amount": 1e9}]}


@dataclass(frozen=True)
class World:
    spec: Path
    before: Path  # trained before gift cards were sold
    retrained: Path  # trained on data that includes them


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "160"})
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("gate")
    result = simulate(SimulationConfig(days=DAYS, decisions_per_day=3_000, incidents=(), seed=11,
                                       start=START))
    spec_path = root / "loopwatch.yaml"
    spec_path.write_text(yaml.safe_dump({**yaml.safe_load(result.spec.to_yaml()), "gate": GATE},
                                        sort_keys=False))

    decisions = result.decisions
    labels = dict(zip(result.outcomes.column("decision_id").to_pylist(),
                      result.outcomes.column("label").to_pylist(), strict=True))
    ids = decisions.column("decision_id").to_pylist()
    known = np.array([i in labels for i in ids])
    y = np.array([bool(labels.get(i, False)) for i in ids])
    gift = np.asarray(pc.equal(decisions.column("merchant_category"), "gift_cards")
                      .to_numpy(zero_copy_only=False), dtype=np.bool_)
    x = matrix_of(decisions)
    paths = []
    for name, rows in (("before", known & ~gift), ("retrained", known)):
        fitted = train_model(x[rows], y[rows], seed=1)
        model = Model(predictor=fitted.score, version=name, features=FEATURES, categories=CATEGORIES)
        paths.append(root / f"fraud-{name}.joblib")
        save_model(model, paths[-1])
    yield World(spec=spec_path, before=paths[0], retrained=paths[1])


def test_the_gate_fails_when_a_known_fraud_pattern_is_not_flagged_and_passes_after_retraining(
        world: World) -> None:
    s = str(world.spec)
    for version, path in (("before", world.before), ("retrained", world.retrained)):
        code, out = run("models", "register", version, "--spec", s, "--artifact", str(path))
        assert code == 0, out
    code, out = run("gate", "--spec", s, "--version", "before")
    assert code == 1, out
    assert "known_fraud_pattern" in out and "gate FAILED" in out
    code, out = run("gate", "--spec", s, "--version", "before", "--format", "json")
    report = json.loads(out)
    assert code == 1 and not report["passed"] and report["failing_cases"] == ["known_fraud_pattern"]
    checks = {c["name"]: c for c in report["checks"]}
    (case,) = [c for c in checks["cases"]["detail"]["cases"] if c["name"] == "known_fraud_pattern"]
    assert case["score"] < 0.001 and not case["passed"]
    assert checks["schema"]["status"] == "pass" and checks["canary_inputs"]["status"] == "pass"
    assert checks["champion_challenger"]["status"] == "not_evaluated"

    code, out = run("gate", "--spec", s, "--version", "retrained", "--format", "json")
    report = json.loads(out)
    assert code == 0, out
    assert report["passed"] and report["failing_cases"] == []
    checks = {c["name"]: c for c in report["checks"]}
    assert [c["passed"] for c in checks["cases"]["detail"]["cases"]] == [True, True]
    assert checks["cases"]["detail"]["cases"][0]["score"] > 0.9
    assert set(report["not_evaluated"]) == {"latency", "calibration", "champion_challenger"}

    code, out = run("audit", "--spec", s, "--format", "json")
    gates = [(e["action"], e["detail"]["version"]) for e in json.loads(out)["entries"]
             if e["action"].startswith("gate_")]
    assert gates == [("gate_failed", "before"), ("gate_failed", "before"), ("gate_passed", "retrained")]
    # an artifact gone since its registration is an input error (exit 2), not a crash
    world.before.unlink()
    code, out = run("gate", "--spec", s, "--version", "before")
    assert code == 2 and "no such file" in out and "Traceback" not in out


def version_of(model: Model, features: tuple[str, ...] = ()) -> ModelVersion:
    now = datetime.now(UTC)
    return ModelVersion(model="fraud", version=model.version, stage="candidate", artifact="-", owner=None,
                        training_start=None, training_end=None, data_fingerprint=None, features=features,
                        spec_version=None, metrics={}, description=None, source=None, registered_at=now,
                        registered_by="ana", stage_changed_at=now)


def small_spec(**gate: Any) -> Any:
    return spec_from_mapping({"model": "fraud", "threshold": 0.5, "gate": gate, "features": [
        {"name": "amount", "dtype": "numeric"}, {"name": "card", "dtype": "categorical"}]})


def test_strict_counts_a_check_not_evaluated_as_a_failure() -> None:
    checks = (GateCheck("cases", "pass", "2 cases passed"),
              GateCheck("champion_challenger", "not_evaluated", "not evaluated"))
    assert GateReport("fraud", "2", checks).exit_code == 0
    strict = GateReport("fraud", "2", checks, strict=True)
    assert strict.exit_code == 1 and [c.name for c in strict.not_evaluated] == ["champion_challenger"]


def test_schema_contract_names_each_mismatch() -> None:
    spec = small_spec()
    model = Model(predictor=lambda x: x[:, 0] * 0, version="v2", features=["amount", "card", "colour"],
                  categories={"amount": ["a"]})
    check = schema_check(spec, version_of(model, ("amount",)), model)
    assert check.status == "fail"
    text = "\n".join(check.failures)
    assert "colour: the model takes it; the spec has no such feature" in text
    assert "amount: the model reads it as a category; the spec says numeric" in text
    assert "card: categorical in the spec, but the model has no categories" in text
    assert "registered only: []; artifact only: ['card', 'colour']" in text
    fine = Model(predictor=lambda x: x[:, 0] * 0, version="v3", features=["amount", "card"],
                 categories={"card": ["credit"]})
    assert schema_check(spec, version_of(fine), fine).status == "pass"


def test_a_canary_input_that_breaks_the_model_fails_the_gate_by_its_index() -> None:
    def fragile(x: Any) -> Any:
        if np.isnan(x[:, 0]).any():
            raise ValueError("amount is missing")
        return np.clip(x[:, 0] / 100, 0, 1)

    model = Model(predictor=fragile, version="v1", features=["amount"])
    check = canary_check(Gate(canary_inputs=({"amount": 5.0}, {}, {"amount": 7.0})), model)
    assert check.status == "fail" and check.failures == ("canary_inputs[1]: ValueError: amount is missing",)


def test_a_slow_model_fails_the_latency_budget() -> None:
    def slow(x: Any) -> Any:
        time.sleep(0.004)
        return np.zeros(len(x))

    model = Model(predictor=slow, version="v1", features=["amount"])
    gate = Gate.model_validate({"latency": {"budget_ms": 2, "repeats": 5}})
    check = latency_check(gate, model)
    assert check.status == "fail" and check.detail["ms"] >= 4
    assert latency_check(Gate.model_validate({"latency": {"budget_ms": 1000, "repeats": 5}}),
                         model).status == "pass"


def labelled_store(tmp_path: Path, *, corrections: bool = True) -> tuple[Any, Any]:
    """20,000 decisions over 14 days whose score is the true probability of a positive; each label is
    observed 2 days after its decision, and (``corrections``) corrected to the opposite 40 days later."""
    spec = spec_from_mapping({
        "model": "m", "store": str(tmp_path / "store"), "threshold": 0.5,
        "features": [{"name": "x", "dtype": "numeric"}],
        "columns": {"model_version": None, "action": None, "threshold": None, "latency": None, "cost": None,
                    "error": None, "source": None}, "outcomes": {"value": None}})
    rng = np.random.default_rng(5)
    n = 20_000
    ts = [START + timedelta(seconds=float(s)) for s in rng.uniform(0, 14 * 86400, n)]
    x = rng.normal(size=n)
    p = 1 / (1 + np.exp(-(1.5 * x - 3)))
    y = rng.random(n) < p
    ids = [f"d{i}" for i in range(n)]
    store = ParquetStore.for_spec(spec)
    store.ingest("decisions", pa.table({"decision_id": ids, "timestamp": ts, "score": p, "x": x}), source="t")
    copies = 2 if corrections else 1
    store.ingest("outcomes", pa.table({"decision_id": ids * copies,
                                       "observed_at": ([t + timedelta(days=2) for t in ts]
                                                       + [t + timedelta(days=42) for t in ts])[: n * copies],
                                       "label": np.concatenate([y, ~y])[: n * copies]}), source="t")
    return spec, open_source(spec)


def test_calibration_passes_the_truth_fails_overconfidence_and_waits_for_labels(tmp_path: Path) -> None:
    spec, source = labelled_store(tmp_path)
    rule = Gate.model_validate({"calibration": {"window": "7d", "label_delay": "3d"}}).calibration
    as_of = START + timedelta(days=14)

    def truth(x: Any) -> Any:
        return 1 / (1 + np.exp(-(1.5 * x[:, 0] - 3)))

    def overconfident(x: Any) -> Any:  # twice the logit: scores far too extreme
        return 1 / (1 + np.exp(-2 * (1.5 * x[:, 0] - 3)))

    good = calibration_check(spec, rule, Model(predictor=truth, version="t", features=["x"]), source, as_of)
    assert good.status == "pass", good
    slope = good.detail["slope"]
    assert slope["low"] <= 1 <= slope["high"]
    # the corrections observed 42 days later have not arrived by as_of: none leaks in
    assert good.detail["positives"] < good.detail["n"] / 4
    bad = calibration_check(spec, rule, Model(predictor=overconfident, version="o", features=["x"]), source,
                            as_of)
    assert bad.status == "fail" and bad.failures[0].startswith("calibration_slope 0.4"), bad
    assert bad.detail["slope"]["high"] < 0.8
    early = calibration_check(spec, rule, Model(predictor=truth, version="t", features=["x"]), source,
                              START + timedelta(days=3))
    assert early.status == "not_evaluated" and "not enough data" in early.summary


def test_the_champion_challenger_rule_passes_a_better_version_and_fails_a_worse_one(tmp_path: Path) -> None:
    # every label is corrected to its opposite 42 days after its decision: stored now, the flipped
    # labels would make the better version the worse one; a gate run at as_of has not seen them
    spec, source = labelled_store(tmp_path)
    rule = Gate.model_validate({"champion": {"window": "7d", "label_delay": "3d"}}).champion
    as_of = START + timedelta(days=14)
    rng = np.random.default_rng(9)
    noise = rng.normal(scale=1.5, size=200_000)

    def truth(x: Any) -> Any:
        return 1 / (1 + np.exp(-(1.5 * x[:, 0] - 3)))

    def blurred(x: Any) -> Any:  # the same score seen through noise: a worse ranking
        return 1 / (1 + np.exp(-(1.5 * x[:, 0] + noise[: len(x)] - 3)))

    good, worse = (Model(predictor=f, version=v, features=["x"]) for f, v in ((truth, "2"), (blurred, "1")))
    better = champion_check(spec, rule, version_of(good), good, (version_of(worse), worse), source, as_of)
    assert better.status == "pass", better
    assert better.detail["verdict"] == "passed" and better.detail["champion"] == "1"
    regressed = champion_check(spec, rule, version_of(worse), worse, (version_of(good), good), source, as_of)
    assert regressed.status == "fail" and regressed.detail["verdict"] in ("blocked", "not_superior")
    assert regressed.failures, regressed
    alone = champion_check(spec, rule, version_of(good), good, None, source, as_of)
    assert alone.status == "not_evaluated" and "no other version" in alone.summary
    # the same window judged on the labels as stored now (the corrections arrived): the better version
    # now looks worse, which is what the gate at as_of must not see
    def scorer(m: Model) -> Any:
        return lambda rows: score_rows(m, rows.select(["x"]).to_pylist()).scores

    window = Window(as_of - timedelta(days=10), as_of - timedelta(days=3))
    stored_now = compare_replay(spec, window, challenger=scorer(good), champion=scorer(worse), store=source)
    assert stored_now.verdict in ("blocked", "not_superior"), stored_now.verdict
    assert better.detail["window"] == {"start": window.start.isoformat(), "end": window.end.isoformat()}


def test_matured_rows_above_the_limit_are_the_most_recent_every_time(tmp_path: Path) -> None:
    spec, source = labelled_store(tmp_path)
    as_of, end = START + timedelta(days=14), START + timedelta(days=11)
    picked = [matured_rows(spec, source, ["x"], START, end, as_of=as_of, limit=500) for _ in range(2)]
    assert picked[0][0] == picked[1][0] and (picked[0][1] == picked[1][1]).all()
    decisions = source.table("decisions").to_pyarrow().to_pandas()
    made = decisions[(decisions["timestamp"] >= START) & (decisions["timestamp"] < end)]
    newest = made.sort_values(["timestamp", "decision_id"], ascending=[False, True]).head(500)
    assert [r["x"] for r in picked[0][0]] == newest["x"].tolist()


def test_gate_cases_are_checked_against_the_spec_with_key_paths() -> None:
    with pytest.raises(SpecError, match=r"gate\.cases\[0\]\.input\.colour: not a feature of the spec"):
        small_spec(cases=[{"name": "a", "input": {"colour": "red"}, "expect": "flagged"}])
    with pytest.raises(SpecError, match=r"gate\.canary_inputs\[0\]\.amount: expected a numeric value"):
        small_spec(canary_inputs=[{"amount": "ten"}])
    with pytest.raises(SpecError, match=r"gate\.cases\.1\.name|names two cases"):
        small_spec(cases=[{"name": "a", "input": {}, "expect": "flagged"},
                          {"name": "a", "input": {}, "expect": "approved"}])
    with pytest.raises(SpecError, match=r"gate\.cases\[0\]\.expect"):
        small_spec(cases=[{"name": "a", "input": {}, "expect": "maybe"}])


def test_the_example_specs_commented_gate_and_rollout_blocks_are_valid_when_uncommented() -> None:
    example = Path(__file__).parents[2] / "src" / "loopwatch" / "cli" / "example_spec.yaml"
    text = example.read_text()
    blocks: dict[str, Any] = {}
    for key in ("gate", "rollout"):  # each block: its commented lines up to the next blank line
        block = text[text.index(f"# {key}:"):].split("\n\n", 1)[0]
        blocks.update(yaml.safe_load("\n".join(line[2:] for line in block.splitlines()
                                               if line.startswith((f"# {key}:", "#   ")))))
    spec = spec_from_mapping({**yaml.safe_load(text), **blocks})
    assert spec.gate is not None and spec.gate.cases[0].name == "known_fraud_pattern"
    assert spec.rollout.shares == (0.05, 0.25, 0.5) and spec.gate.champion is not None
