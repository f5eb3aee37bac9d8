"""A batch logged as columns holds exactly the rows that logging each decision would."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from loopwatch.prediction.decision import DecisionRequest
from loopwatch.prediction.loop import DecisionLoop
from loopwatch.prediction.record import RowBuilder
from loopwatch.prediction.steps import Actions, SafetyRule

ACTIONS = Actions(thresholds={"review": 0.5})


def test_columns_of_a_batch_equal_its_rows_one_by_one(tmp_path: Path, kit: Any) -> None:
    spec = kit.serving_spec(tmp_path / "store", holdout=0.3)
    loop = DecisionLoop(spec, model=kit.linear("v2", poison=777.0), baseline=kit.linear("base"),
                        challenger=kit.linear("v3", weight=0.7), actions=ACTIONS,
                        rules=[SafetyRule(name="huge", when=lambda r: r["amount"] > 5000,
                                          action="block")])
    requests = [DecisionRequest(kit.inputs(float(a), **extra), decision_id=f"d-{i}")
                for i, (a, extra) in enumerate([
                    (100, {}), (777, {}), (9000, {}), (300, {"ip_risk": None}),
                    (450, {"region": None}), *((50 * k, {}) for k in range(20))])]

    async def prepare() -> list[Any]:
        received = time.perf_counter()
        return list(await asyncio.gather(*(loop._prepare(r, received) for r in requests)))

    items = asyncio.run(prepare())
    decided = loop.runner.run(items)
    shadows = loop.runner.shadow(items, decided)
    decisions = [d for d, _ in decided]
    shadow_ms = [row.steps.get("shadow") for _, row in decided]
    build = RowBuilder(spec)
    rows = [build(item, d, shadow=s, shadow_ms=ms)
            for item, d, s, ms in zip(items, decisions, shadows, shadow_ms, strict=True)]
    columns = build.columns(items, decisions, shadows, shadow_ms)

    # the batch is varied enough to show something: fallbacks, a rule, holdout, shadow scores
    assert any(d.fallbacks for d in decisions) and any(d.rule for d in decisions)
    assert any(d.holdout for d in decisions) and any(s[0] is not None for s in shadows)
    names = set(columns)
    assert all(set(row) <= names for row in rows)
    transposed = [{name: columns[name][i] for name in names} for i in range(len(rows))]
    assert transposed == [{name: row.get(name) for name in names} for row in rows]
    asyncio.run(loop.aclose())


def test_decisions_with_different_features_fill_what_they_lack_with_none() -> None:
    from loopwatch.prediction.record import _feature_columns

    same = [{"a": 1, "b": "x"}, {"b": "y", "a": 2}]  # same keys, another order
    assert _feature_columns(same) == {"a": [1, 2], "b": ["x", "y"]}
    mixed = [{"a": 1}, {"b": "y"}, {"a": 3, "c": None}]
    assert _feature_columns(mixed) == {"a": [1, None, 3], "b": [None, "y", None],
                                       "c": [None, None, None]}
    assert _feature_columns([{"a": 1}, {"a": 2}]) == {"a": [1, 2]}
    assert _feature_columns([]) == {}
