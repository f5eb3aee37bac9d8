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


def test_step_times_written_with_a_memo_read_as_without_one() -> None:
    import json

    from loopwatch.prediction.record import _times

    memo: dict[float, str] = {}
    batch = [{"model": 3.6959, "queue": 0.0}, {"model": 3.6959, "queue": -0.0},
             {"model": 1.0, "queue": 1}, {"model": 1, "queue": 1.0},
             {"model": float("nan"), "queue": 2.5e-05}, {"model": 3.6959, "queue": 1e22}]
    texts = [_times(steps, memo) for steps in batch]
    # text for text what each row alone writes: -0.0 stays -0.0, an int stays an int
    assert texts == [_times(steps) for steps in batch]
    assert texts[1] == '{"model":3.6959,"queue":-0.0}' and texts[3] == '{"model":1,"queue":1.0}'
    assert json.loads(texts[5]) == {"model": 3.6959, "queue": 1e22}
    assert 3.6959 in memo and 0.0 not in memo


def test_rounding_by_scaling_keeps_the_digits_and_passes_non_finite_values() -> None:
    import math
    import random

    from loopwatch.prediction.record import _rounded, _rounded_all

    rng = random.Random(3)
    values = [rng.uniform(0, 50) * 10 ** rng.randint(-6, 3) for _ in range(5000)]
    for digits in (4, 6):
        for v, r in zip(values, _rounded_all(values, digits), strict=True):
            # the decimal rounding, or its neighbour when v lies within a rounding error of a half
            assert abs(r - round(v, digits)) <= 10.0 ** -digits * (1 + 1e-9)
            assert abs(r - v) <= 0.5 * 10.0 ** -digits * (1 + 1e-6)
            assert r == _rounded(v, digits)
    assert sum(r == round(v, 6) for v, r in zip(values, _rounded_all(values, 6), strict=True)) >= 4990
    out = _rounded_all([1.23456789, math.inf, -math.inf, math.nan], 4)
    assert out[0] == 1.2346 and out[1] == math.inf and out[2] == -math.inf and math.isnan(out[3])
    assert _rounded(math.inf, 6) == math.inf and math.isnan(_rounded(math.nan, 6))
