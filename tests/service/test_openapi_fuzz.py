"""schemathesis against the service's OpenAPI schema: generated requests, valid and not, get no 5xx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from loopwatch.core.spec import spec_from_mapping
from loopwatch.prediction.loop import DecisionLoop
from loopwatch.prediction.models import Model
from loopwatch.prediction.steps import Actions, SafetyRule
from loopwatch.service.server import ServeOptions, build_app


def _app() -> Any:
    spec = spec_from_mapping({
        "model": "fuzz", "store": str(Path("/nonexistent-store-never-written")),
        "features": [{"name": "amount", "dtype": "numeric"},
                     {"name": "country", "dtype": "categorical", "fallback": "FR"},
                     {"name": "new_user", "dtype": "boolean"}],
        "serving": {"holdout": 0.1},
    })

    def predict(x: np.ndarray) -> np.ndarray:
        out: np.ndarray = 1 / (1 + np.exp(-np.nan_to_num(x[:, 0], nan=0.0, posinf=50, neginf=-50) / 100))
        return out

    model = Model(predictor=predict, version="v1", features=["amount", "country", "new_user"],
                  categories={"country": ["FR", "DE"]})
    loop = DecisionLoop(spec, model=model, actions=Actions(thresholds={"review": 0.5}),
                        rules=[SafetyRule(name="big", when=lambda r: r["amount"] > 1e6, action="review")])
    return build_app(spec, loop, ServeOptions(log=False, max_rows=4, max_wait_ms=0))


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case: Any) -> None:
    case.call_and_validate(checks=[not_a_server_error, response_schema_conformance,
                                   content_type_conformance])
