"""Tail analysis and cost per decision, from a decision log written by a real loop."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from loopwatch.prediction.batcher import Batching
from loopwatch.prediction.cost import cost_report
from loopwatch.prediction.decision import DecisionRequest
from loopwatch.prediction.logger import DecisionLogger
from loopwatch.prediction.loop import DecisionLoop
from loopwatch.prediction.steps import Actions, FeatureStep
from loopwatch.prediction.tail import analyse_tail
from loopwatch.storage.parquet_store import ParquetStore

ACTIONS = Actions(thresholds={"block": 0.8, "review": 0.5})


def test_the_tail_names_the_slow_feature_the_undecisive_one_and_advises_batching(tmp_path: Path,
                                                                                 kit: Any) -> None:
    spec = kit.serving_spec(tmp_path / "store")

    def risk(inputs: Any) -> float:  # slow for one card in ten: the tail
        time.sleep(0.02 if inputs["card"] % 10 == 0 else 0.0005)
        return 0.01

    def country(inputs: Any) -> str:  # always 1 ms, and this model ignores it
        time.sleep(0.001)
        return "FR"

    model = kit.linear()
    score = model.score
    object.__setattr__(model, "score", lambda rows: (time.sleep(0.002), score(rows))[1])
    logger = DecisionLogger(spec, flush_interval=0.05)
    loop = DecisionLoop(spec, model=model, actions=ACTIONS, logger=logger,
                        batching=Batching(max_rows=32),
                        features=[FeatureStep(name="ip_risk", compute=risk),
                                  FeatureStep(name="country", compute=country)])
    for i in range(200):  # one at a time: every decision scored alone
        loop.decide_now([DecisionRequest({**kit.inputs(300.0 + 3 * i), "card": i}, decision_id=f"d{i}")])
    logger.close()
    decisions = ParquetStore.for_spec(spec).read("decisions")
    report = analyse_tail(decisions, spec, loop=loop)
    assert report.decisions == 200 and report.tail_decisions == 10
    assert report.steps[0].step == "feature.ip_risk" and report.steps[0].tail_ms > 15
    assert report.steps[0].body_ms < 5
    ip, geo = (next(f for f in report.features if f.feature == name) for name in ("ip_risk", "country"))
    # at its fallback (0.5) ip_risk adds 0.049 to a score: the decisions near a threshold flip
    scores = [(300.0 + 3 * i) / 1000 for i in range(200)]
    flips = sum(ACTIONS.decide(s + 0.001)[0] != ACTIONS.decide(s + 0.05)[0] for s in scores)
    assert ip.flip_rate == pytest.approx(flips / 200) and not ip.rarely_decisive
    assert geo.flip_rate == 0.0 and geo.time_share > 0.1 and geo.rarely_decisive
    advice = report.batching
    assert advice.single_share == 1.0 and advice.median_batch_rows == 1.0
    assert advice.ms_per_row_single > 10 * advice.ms_per_row_batched and advice.would_help


def test_cost_per_decision_by_model_version_and_cohort(tmp_path: Path, kit: Any) -> None:
    spec = kit.serving_spec(tmp_path / "store")
    logger = DecisionLogger(spec, flush_interval=0.05)
    loop = DecisionLoop(spec, model=kit.linear("v2"), actions=ACTIONS, logger=logger,
                        features=[FeatureStep(name="ip_risk", compute=lambda i: 0.1)])
    loop.decide_now([DecisionRequest(kit.inputs(10.0, region=r), decision_id=f"{r}{i}")
                     for i in range(5) for r in ("EU", "US")])
    logger.close()
    decisions = ParquetStore.for_spec(spec).read("decisions")
    rows = {(r.model_version, r.cohort): r for r in cost_report(decisions, spec)}
    assert set(rows) == {("v2", "all"), ("v2", "region=EU"), ("v2", "region=US")}
    everything = rows[("v2", "all")]
    assert everything.decisions == 10
    # each decision made one priced call to the 'trust' source (0.01) and used a little CPU
    assert everything.cost_per_decision == pytest.approx(0.01 + everything.cpu_ms_per_decision / 1e3)
    assert rows[("v2", "region=EU")].decisions == 5


def test_a_log_without_serving_columns_is_refused_with_the_reason(spec: Any) -> None:
    import pyarrow as pa

    with pytest.raises(ValueError, match="no serving columns"):
        analyse_tail(pa.table({"latency_ms": [1.0]}), spec)
