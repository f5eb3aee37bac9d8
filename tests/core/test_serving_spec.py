"""The spec's serving block: validated with key paths; it adds serving columns to the decision schema."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from loopwatch.core.schema import decision_schema
from loopwatch.core.spec import spec_from_mapping
from loopwatch.errors import SpecError


def spec_with(serving: Any) -> Any:
    return spec_from_mapping({"model": "m", "features": [{"name": "amount", "dtype": "numeric"}],
                              "serving": serving})


@pytest.mark.parametrize(("serving", "message"), [
    ({"holdout": 1.5}, "serving.holdout: Input should be less than 1"),
    ({"holdout": 0.6, "canary": 0.5}, "serving: holdout (0.6) and canary (0.5) shares must add up"),
    ({"cost": {"cpu_secnd": 1}}, "serving.cost.cpu_secnd: unknown key; did you mean 'cpu_second'?"),
    ({"cost": {"calls": {"geo": -1}}}, "price of a call to 'geo' must be a finite number >= 0"),
    ({"loop": "no colon"}, "serving.loop: expected 'module:attribute'"),
    ({"columns": {"route": "amount"}}, "features[0].name: 'amount' is already used by serving.columns.route"),
    ({"columns": {"rule": "score"}}, "serving.columns.rule: 'score' is already used by columns.score"),
])
def test_a_bad_serving_block_names_the_key(serving: Any, message: str) -> None:
    with pytest.raises(SpecError) as info:
        spec_with(serving)
    assert message in str(info.value)


def test_serving_columns_join_the_decision_schema_only_with_a_serving_block() -> None:
    plain = spec_from_mapping({"model": "m", "features": [{"name": "amount", "dtype": "numeric"}]})
    assert "route" not in decision_schema(plain).names
    schema = decision_schema(spec_with({"columns": {"route": "served_by"}})).arrow
    assert schema.field("served_by").type == pa.string()
    assert schema.field("holdout").type == pa.bool_()
    assert schema.field("shadow_score").type == pa.float64()
    assert all(schema.field(n).nullable for n in ("served_by", "steps", "cpu_ms"))


def test_the_serving_block_round_trips_through_yaml(tmp_path: Any) -> None:
    from loopwatch.core.spec import load_spec

    spec = spec_with({"holdout": 0.02, "loop": "svc.loop:build", "cost": {"cpu_second": 5e-5}})
    path = tmp_path / "loopwatch.yaml"
    path.write_text(spec.to_yaml())
    assert load_spec(path).serving == spec.serving
