"""The decision loop: every fallback path, safety rules, flags without restart, experiments, logging."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from loopwatch.core.flags import DisableFeature, ReviewThreshold, Rollback, UseBaseline
from loopwatch.prediction.batcher import Batching
from loopwatch.prediction.cascade import Cascade
from loopwatch.prediction.decision import DecisionRequest
from loopwatch.prediction.flag_file import FileFlags
from loopwatch.prediction.logger import DecisionLogger
from loopwatch.prediction.loop import DecisionLoop
from loopwatch.prediction.steps import Actions, FeatureStep, SafetyRule
from loopwatch.storage.parquet_store import ParquetStore

ACTIONS = Actions(thresholds={"block": 0.8, "review": 0.5})
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def stored(spec: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = ParquetStore.for_spec(spec).read("decisions").to_pylist()
    return sorted(rows, key=lambda r: r["decision_id"])


# --- feature fallbacks -------------------------------------------------------------------


def test_a_feature_that_times_out_serves_its_spec_fallback_and_says_so(tmp_path: Path, kit: Any) -> None:
    async def slow(inputs: Any) -> float:
        await asyncio.sleep(1.0)
        return 0.9

    loop = DecisionLoop(kit.serving_spec(tmp_path), model=kit.linear(), actions=ACTIONS,
                        features=[FeatureStep(name="ip_risk", compute=slow, timeout_ms=20)])
    started = time.perf_counter()
    [decision] = loop.decide_now([kit.inputs(100.0)])
    assert time.perf_counter() - started < 0.5
    assert decision.features["ip_risk"] == 0.5  # the spec's fallback
    [link] = decision.fallbacks
    assert (link.step, link.served, link.reason) == ("feature.ip_risk", "rule", "timeout")


def test_a_plain_function_with_a_timeout_is_abandoned_on_its_thread(tmp_path: Path, kit: Any) -> None:
    loop = DecisionLoop(kit.serving_spec(tmp_path), model=kit.linear(), actions=ACTIONS,
                        features=[FeatureStep(name="ip_risk", compute=lambda i: time.sleep(0.5) or 0.9,
                                              timeout_ms=20)])
    [decision] = loop.decide_now([kit.inputs(100.0)])
    assert decision.fallbacks[0].reason == "timeout" and decision.features["ip_risk"] == 0.5


def test_a_failing_feature_serves_its_cached_value_with_its_age_then_the_rule(tmp_path: Path,
                                                                             kit: Any) -> None:
    calls = {"n": 0}

    def risk(inputs: Any) -> float:
        calls["n"] += 1
        if inputs.get("fail"):
            raise ConnectionError("ip service down")
        return 0.7

    step = FeatureStep(name="ip_risk", compute=risk, cache_ttl_s=0.05, max_stale_s=60, cache_key="card")
    loop = DecisionLoop(kit.serving_spec(tmp_path), model=kit.linear(), actions=ACTIONS, features=[step])
    first, hit = loop.decide_now([kit.inputs(10.0, card="c1"), kit.inputs(10.0, card="c1")])
    assert calls["n"] == 1 and first.fallbacks == hit.fallbacks == ()  # a fresh hit is no fallback
    time.sleep(0.06)
    [stale] = loop.decide_now([kit.inputs(10.0, card="c1", fail=True)])
    assert stale.features["ip_risk"] == 0.7
    [link] = stale.fallbacks
    assert (link.served, link.reason) == ("cache", "error") and link.detail.startswith("age_s=")
    [other] = loop.decide_now([kit.inputs(10.0, card="c2", fail=True)])  # nothing cached: the rule
    assert (other.features["ip_risk"], other.fallbacks[0].served) == (0.5, "rule")


def test_a_feature_without_fallback_serves_missing_and_a_wrong_type_is_invalid(tmp_path: Path,
                                                                              kit: Any) -> None:
    loop = DecisionLoop(kit.serving_spec(tmp_path), model=kit.linear(), actions=ACTIONS,
                        features=[FeatureStep(name="amount", compute=lambda i: 1 / 0)])
    [decision] = loop.decide_now([{"ip_risk": "high", "country": "FR"}])
    links = {f.step: (f.served, f.reason) for f in decision.fallbacks}
    # this model answers NaN for a missing amount: the row fails alone, with the failure action
    assert links == {"feature.amount": ("default", "error"), "feature.ip_risk": ("rule", "invalid"),
                     "model": ("default", "model_error")}
    assert decision.features["amount"] is None and decision.features["ip_risk"] == 0.5
    assert (decision.action, decision.score) == ("review", None)
    assert "invalid score nan" in decision.error


# --- model fallbacks ----------------------------------------------------------------------


def test_a_failing_model_serves_the_baseline_then_the_failure_action(tmp_path: Path, kit: Any) -> None:
    spec = kit.serving_spec(tmp_path)
    with_baseline = DecisionLoop(spec, model=kit.broken(), baseline=kit.linear("base-1"), actions=ACTIONS)
    [d] = with_baseline.decide_now([kit.inputs(900.0)])
    assert (d.route, d.model_version, d.action) == ("baseline", "base-1", "block")
    assert d.fallbacks[-1].served == "baseline" and d.error.startswith("model_error: RuntimeError")
    nothing = DecisionLoop(spec, model=kit.broken(), baseline=kit.broken("base-2"), actions=ACTIONS)
    [d] = nothing.decide_now([kit.inputs(900.0)])
    assert (d.route, d.action, d.score) == ("default", "review", None)
    assert [f.served for f in d.fallbacks] == ["baseline", "default"]
    assert d.reason.startswith("no score")


def test_a_poisoned_request_gets_its_own_error_and_the_rest_of_its_batch_is_scored(tmp_path: Path,
                                                                                   kit: Any) -> None:
    loop = DecisionLoop(kit.serving_spec(tmp_path), model=kit.linear(poison=666.0), actions=ACTIONS,
                        batching=Batching(max_rows=16, max_wait_ms=50))

    async def burst() -> list[Any]:
        amounts = [100.0 * (i % 9) + 1 for i in range(15)] + [666.0]
        try:
            return list(await asyncio.gather(*(loop.decide(kit.inputs(a), decision_id=f"d{i}")
                                               for i, a in enumerate(amounts))))
        finally:
            await loop.aclose()

    decisions = asyncio.run(burst())
    assert {d.batch_rows for d in decisions[:15]} == {16}  # one batch, scored once the poison is out
    assert all(d.route == "primary" and d.error is None for d in decisions[:15])
    poisoned = decisions[15]
    assert poisoned.route == "default" and poisoned.action == "review"
    assert "cannot score amount 666.0" in poisoned.error and "(input " in poisoned.error


def test_bisection_is_bounded_when_every_row_fails(tmp_path: Path, kit: Any) -> None:
    from loopwatch.prediction.models import score_rows

    calls = {"n": 0}
    model = kit.broken()
    original = model.score

    def counting(rows: Any) -> Any:
        calls["n"] += 1
        return original(rows)

    object.__setattr__(model, "score", counting)
    scored = score_rows(model, [kit.inputs(1.0)] * 64)
    assert len(scored.errors) == 64 and calls["n"] <= 1 + 4 * 6


# --- safety rules -------------------------------------------------------------------------


def test_a_safety_rule_overrides_the_model_and_a_broken_rule_fails_closed(tmp_path: Path, kit: Any) -> None:
    rules = [SafetyRule(name="large_amount", when=lambda r: r["amount"] > 10_000, action="review"),
             SafetyRule(name="sanctioned", when=lambda r: r["country"] in r["blocklist"], action="block")]
    loop = DecisionLoop(kit.serving_spec(tmp_path), model=kit.linear(weight=0.0), actions=ACTIONS,
                        rules=rules)
    big, small = loop.decide_now([kit.inputs(50_000.0, blocklist=[]), kit.inputs(10.0, blocklist=[])])
    assert (big.score, big.action, big.rule) == (0.0, "review", "large_amount")
    assert (small.action, small.rule) == ("approve", None)
    [unknown] = loop.decide_now([kit.inputs(10.0)])  # no blocklist: the rule cannot be checked
    assert (unknown.action, unknown.rule) == ("block", "sanctioned")
    assert unknown.fallbacks[-1].step == "rule.sanctioned"


# --- flags ----------------------------------------------------------------------------------


def test_flags_take_effect_without_a_restart_and_are_logged(tmp_path: Path, kit: Any) -> None:
    spec = kit.serving_spec(tmp_path / "store")
    reader = FileFlags(tmp_path / "flags.json", ttl=0.05)
    flags = FileFlags(tmp_path / "flags.json")  # the control plane, writing as another process would
    logger = DecisionLogger(spec, flush_interval=0.05)
    loop = DecisionLoop(spec, model=kit.linear("v2"), baseline=kit.linear("base", weight=0.1),
                        versions=[kit.linear("v1", weight=0.5)], actions=ACTIONS, flags=reader,
                        logger=logger)
    who = {"model": "fraud", "who": "ana", "why": "incident 12", "when": T0}

    def decide(i: str, amount: float = 600.0, **extra: Any) -> Any:
        return loop.decide_now([DecisionRequest(kit.inputs(amount, **extra), decision_id=i)])[0]

    assert (decide("a").model_version, decide("b").action) == ("v2", "review")
    flags.set(Rollback(id="rb", version="v1", **who))
    assert decide("b2").model_version == "v2"  # the reader's snapshot holds for its TTL
    time.sleep(0.06)
    rolled = decide("c")
    assert (rolled.model_version, rolled.flags, rolled.action) == ("v1", ("rb",), "approve")
    flags.set(UseBaseline(id="base", **who))
    flags.set(DisableFeature(id="no-ip", feature="ip_risk", **who))
    time.sleep(0.06)
    based = decide("d")
    assert (based.route, based.model_version) == ("baseline", "base")
    assert set(based.flags) == {"base", "no-ip"} and based.features["ip_risk"] == 0.5
    assert flags.revert("base") and flags.revert("rb") and flags.revert("no-ip")
    flags.set(ReviewThreshold(id="rv", threshold=0.2, cohort="region=EU", **who))
    time.sleep(0.06)
    eu, us = decide("e", 300.0), decide("f", 300.0, region="US")
    assert (eu.action, eu.threshold, eu.flags) == ("review", 0.2, ("rv",))
    assert (us.action, us.flags) == ("approve", ())
    logger.close()
    logged = {r["decision_id"]: r for r in stored(spec)}
    assert set(json.loads(logged["d"]["flags"])) == {"base", "no-ip"}
    assert logged["a"]["flags"] is None and json.loads(logged["e"]["flags"]) == ["rv"]
    assert logged["d"]["route"] == "baseline" and logged["c"]["model_version"] == "v1"


def test_a_flag_for_an_unknown_version_or_missing_baseline_is_not_applied(tmp_path: Path, kit: Any) -> None:
    flags = FileFlags(tmp_path / "flags.json", ttl=0)
    who = {"model": "fraud", "who": "ana", "why": "x", "when": T0}
    flags.set(Rollback(id="rb", version="v0", **who))
    flags.set(UseBaseline(id="base", **who))
    loop = DecisionLoop(kit.serving_spec(tmp_path), model=kit.linear("v2"), actions=ACTIONS, flags=flags)
    [d] = loop.decide_now([kit.inputs(600.0)])
    assert (d.model_version, d.route, d.flags) == ("v2", "primary", ())


# --- deadlines ------------------------------------------------------------------------------


def test_a_request_whose_deadline_cannot_be_met_is_shed_with_a_logged_reason(tmp_path: Path,
                                                                             kit: Any) -> None:
    spec = kit.serving_spec(tmp_path)
    slow = kit.linear()
    fast_score = slow.score
    object.__setattr__(slow, "score", lambda rows: (time.sleep(0.05), fast_score(rows))[1])
    logger = DecisionLogger(spec, flush_interval=0.05)
    loop = DecisionLoop(spec, model=slow, actions=ACTIONS, logger=logger,
                        batching=Batching(max_rows=1, max_wait_ms=0))

    async def run() -> list[Any]:
        try:
            await loop.decide(kit.inputs(1.0))  # learns that a batch takes ~50 ms
            return list(await asyncio.gather(
                *(loop.decide(kit.inputs(1.0), decision_id=f"s{i}", deadline_ms=30) for i in range(3)),
                loop.decide(kit.inputs(1.0), decision_id="patient", deadline_ms=5_000)))
        finally:
            await loop.aclose()

    *shed, patient = asyncio.run(run())
    assert all(d.route == "shed" and d.action == "review" and d.score is None for d in shed)
    assert shed[0].fallbacks[-1].reason == "deadline" and shed[0].reason.startswith("shed (deadline")
    assert patient.route == "primary"
    logger.close()
    # a decision without a score is quarantined by the store, with its reason: nothing is lost
    quarantined = ParquetStore.for_spec(spec).read("quarantine").to_pylist()
    assert len(quarantined) == 3 and all("score: required" in q["reason"] for q in quarantined)
    assert all(json.loads(q["row"])["route"] == "shed" for q in quarantined)


# --- batching ---------------------------------------------------------------------------


def test_concurrent_rows_are_scored_together_up_to_max_rows(tmp_path: Path, kit: Any) -> None:
    model = kit.linear()
    sizes: list[int] = []
    score = model.score
    object.__setattr__(model, "score", lambda rows: (sizes.append(len(rows)), score(rows))[1])
    loop = DecisionLoop(kit.serving_spec(tmp_path), model=model, actions=ACTIONS,
                        batching=Batching(max_rows=8, max_wait_ms=20))

    async def run() -> list[Any]:
        try:
            many = loop.decide_many([DecisionRequest(kit.inputs(float(i))) for i in range(12)])
            return list(await asyncio.gather(many, *(loop.decide(kit.inputs(5.0)) for _ in range(8))))
        finally:
            await loop.aclose()

    asyncio.run(run())
    assert sum(sizes) == 20 and max(sizes) == 8 and len(sizes) <= 4


# --- experiments ------------------------------------------------------------------------


def test_holdout_is_a_stable_share_decided_by_the_baseline_policy_with_its_probability(
        tmp_path: Path, kit: Any) -> None:
    spec = kit.serving_spec(tmp_path, holdout=0.1, assignment_key="customer")
    loop = DecisionLoop(spec, model=kit.linear(), actions=ACTIONS)
    decisions = loop.decide_now([kit.inputs(900.0, customer=f"c{i % 1000}") for i in range(2000)])
    held = [d for d in decisions if d.holdout]
    assert 60 <= len(held) / 2 <= 140  # 10% of 1,000 customers, ±4 standard errors
    assert all(d.route == "holdout" and d.action == "approve" and d.holdout_probability == 0.1
               and d.score is not None for d in held)
    by_customer: dict[int, set[bool]] = {}
    for i, d in enumerate(decisions):
        by_customer.setdefault(i % 1000, set()).add(d.holdout)
    assert all(len(v) == 1 for v in by_customer.values())  # one customer, one arm
    assert all(d.action == "block" for d in decisions if not d.holdout)


def test_a_challenger_is_scored_in_shadow_and_serves_the_canary_share(tmp_path: Path, kit: Any) -> None:
    spec = kit.serving_spec(tmp_path / "store", canary=0.2)
    logger = DecisionLogger(spec, flush_interval=0.05)
    loop = DecisionLoop(spec, model=kit.linear("v2"), challenger=kit.linear("v3", weight=0.5),
                        actions=ACTIONS, logger=logger)
    decisions = loop.decide_now([DecisionRequest(kit.inputs(600.0), decision_id=f"d{i:03}")
                                 for i in range(300)])
    logger.close()
    canary = [d for d in decisions if d.route == "canary"]
    assert 30 <= len(canary) <= 90 and all(d.model_version == "v3" for d in canary)
    rows = stored(spec)
    for row in rows:
        if row["route"] == "canary":
            assert (row["score"], row["shadow_score"], row["shadow_version"]) == (0.3, 0.6, "v2")
        else:
            assert (row["score"], row["shadow_score"], row["shadow_version"]) == (0.6, 0.3, "v3")
        assert row["action"] == ("approve" if row["route"] == "canary" else "review")


def test_a_cascade_decides_what_the_cheap_model_is_sure_of_and_escalates_the_rest(tmp_path: Path,
                                                                                 kit: Any) -> None:
    loop = DecisionLoop(kit.serving_spec(tmp_path), model=kit.linear("full"), actions=ACTIONS,
                        cascade=Cascade(cheap=kit.linear("cheap", weight=0.9), low=0.1, high=0.95))
    low, middle, high = loop.decide_now([kit.inputs(50.0), kit.inputs(500.0), kit.inputs(2000.0)])
    assert (low.route, low.model_version) == ("cheap", "cheap")
    assert (middle.route, middle.model_version, middle.score) == ("primary", "full", 0.5)
    assert (high.route, high.action) == ("cheap", "block")
    assert {"cheap", "model"} <= set(middle.steps_ms)


# --- what is logged ------------------------------------------------------------------------


def test_every_decision_is_logged_with_cost_steps_and_fallback_chain(tmp_path: Path, kit: Any) -> None:
    spec = kit.serving_spec(tmp_path / "store")

    def risk(inputs: Any) -> float:
        sum(range(20_000))  # some CPU to price
        return 0.1

    logger = DecisionLogger(spec, flush_interval=0.05)
    loop = DecisionLoop(spec, model=kit.linear(), actions=ACTIONS, logger=logger,
                        features=[FeatureStep(name="ip_risk", compute=risk)])
    loop.decide_now([DecisionRequest(kit.inputs(100.0), decision_id="a"),
                     DecisionRequest({"amount": 5.0, "country": "XX"}, decision_id="b")])
    logger.close()
    a, b = stored(spec)
    assert a["model_version"] == "v2" and a["action"] == "approve" and a["region"] == "EU"
    steps = json.loads(a["steps"])
    assert {"feature.ip_risk", "model", "post", "queue"} <= set(steps)
    assert a["cpu_ms"] > 0 and a["batch_rows"] == 2
    # cost = CPU seconds × 1.0 + one call to the 'trust' source × 0.01
    assert a["cost"] == pytest.approx(a["cpu_ms"] / 1e3 + 0.01, rel=1e-6)
    assert a["latency_ms"] > 0 and a["holdout"] is False and a["holdout_probability"] == 0.0
    assert b["region"] is None and b["fallbacks"] is None  # an unknown category is the model's business


def test_a_store_written_before_the_serving_block_stays_readable(tmp_path: Path, kit: Any) -> None:
    from loopwatch.core.spec import spec_from_mapping

    spec = kit.serving_spec(tmp_path / "store")
    plain = spec_from_mapping({**spec.model_dump(mode="json", exclude={"base_dir"}, exclude_none=True),
                               "serving": None})
    old = ParquetStore.for_spec(plain)
    old.ingest("decisions", pa.Table.from_pylist(
        [{"decision_id": "old", "timestamp": T0, "score": 0.2, "amount": 1.0}]), source="test")
    logger = DecisionLogger(spec, flush_interval=0.05)
    DecisionLoop(spec, model=kit.linear(), actions=ACTIONS, logger=logger).decide_now(
        [DecisionRequest(kit.inputs(1.0), decision_id="new")])
    logger.close()
    rows = {r["decision_id"]: r for r in stored(spec)}
    assert rows["old"]["route"] is None and rows["new"]["route"] == "primary"
    assert ParquetStore.for_spec(spec).table("decisions").count().to_pyarrow().as_py() == 2


def test_a_scikit_learn_estimator_is_called_once_per_batch_through_predict_proba(tmp_path: Path,
                                                                                kit: Any) -> None:
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier

    from loopwatch.prediction.models import Model

    rng = np.random.default_rng(0)
    x = np.column_stack([rng.uniform(0, 1000, 2000), rng.uniform(0, 1, 2000), rng.integers(0, 3, 2000)])
    y = rng.random(2000) < x[:, 0] / 1000
    estimator = HistGradientBoostingClassifier(max_iter=20).fit(x, y)
    calls: list[int] = []
    proba = estimator.predict_proba
    object.__setattr__(estimator, "predict_proba", lambda m: (calls.append(len(m)), proba(m))[1])
    model = Model(predictor=estimator, version="hgb-1", features=kit.features,
                  categories={"country": ["FR", "DE", "US"]})
    loop = DecisionLoop(kit.serving_spec(tmp_path), model=model, actions=ACTIONS)
    decisions = loop.decide_now([kit.inputs(float(a)) for a in (10, 500, 990)])
    assert calls == [3]
    expected = proba(np.array([[10, 0, 0], [500, 0, 0], [990, 0, 0]], dtype=float))[:, 1]
    assert [d.score for d in decisions] == pytest.approx(expected.tolist())


def test_a_loop_checks_its_declaration(tmp_path: Path, kit: Any) -> None:
    spec = kit.serving_spec(tmp_path)
    with pytest.raises(ValueError, match="'speed' is not a feature of the spec"):
        DecisionLoop(spec, model=kit.linear(), actions=ACTIONS, features=[FeatureStep(name="speed")])
    with pytest.raises(ValueError, match="no challenger"):
        DecisionLoop(kit.serving_spec(tmp_path, canary=0.1), model=kit.linear(), actions=ACTIONS)
    with pytest.raises(ValueError, match="needs a baseline"):
        DecisionLoop(spec, model=kit.linear(), actions=ACTIONS, holdout_policy="baseline")


def test_expired_flags_stop_applying(tmp_path: Path, kit: Any) -> None:
    flags = FileFlags(tmp_path / "flags.json", ttl=0)
    flags.set(UseBaseline(id="b", model="fraud", who="ana", why="x", when=T0,
                          expires=datetime.now(UTC) - timedelta(seconds=1)))
    loop = DecisionLoop(kit.serving_spec(tmp_path), model=kit.linear(), baseline=kit.linear("base"),
                        actions=ACTIONS, flags=flags)
    assert loop.decide_now([kit.inputs(1.0)])[0].route == "primary"
