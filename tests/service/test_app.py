"""The HTTP service: decisions one or many, errors that name the field, auth, metrics, probes."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from loopwatch.core.spec import Spec, spec_from_mapping
from loopwatch.prediction.loop import DecisionLoop
from loopwatch.prediction.models import Model
from loopwatch.prediction.steps import Actions
from loopwatch.service.server import ServeOptions, build_app

TOKEN = "s3cret-token"


def fraud_spec(store: Path) -> Spec:
    return spec_from_mapping({
        "model": "fraud", "store": str(store),
        "features": [{"name": "amount", "dtype": "numeric"},
                     {"name": "country", "dtype": "categorical"},
                     {"name": "new_user", "dtype": "boolean", "fallback": False}],
        "serving": {},
    })


def build(spec: Spec) -> DecisionLoop:
    def predict(x: np.ndarray) -> np.ndarray:
        if np.any(x[:, 0] == 13.0):
            raise ValueError("unlucky amount")
        out: np.ndarray = np.clip(np.nan_to_num(x[:, 0]) / 1000, 0, 1)
        return out

    model = Model(predictor=predict, version="v1", features=["amount", "country", "new_user"],
                  categories={"country": ["FR", "DE"]})
    return DecisionLoop(spec, model=model, actions=Actions(thresholds={"block": 0.8, "review": 0.5}))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    spec = fraud_spec(tmp_path / "store")
    app = build_app(spec, build(spec), ServeOptions(token=TOKEN, max_rows=8, max_wait_ms=1))
    with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        yield c


def test_one_request_gets_one_decision_and_a_list_gets_a_list(client: TestClient) -> None:
    one = client.post("/v1/decide", json={"decision_id": "a", "inputs": {"amount": 900, "country": "FR"}})
    assert one.status_code == 200
    body = one.json()
    assert (body["decision_id"], body["action"], body["route"]) == ("a", "block", "primary")
    assert body["reason"] == "score 0.9000 >= block threshold 0.8"
    many = client.post("/v1/decide", json=[{"inputs": {"amount": a}} for a in (100, 600, 13)])
    actions = [(d["action"], d["route"]) for d in many.json()]
    assert actions == [("approve", "primary"), ("review", "primary"), ("review", "default")]
    assert "unlucky amount" in many.json()[2]["error"]


@pytest.mark.parametrize(("body", "message"), [
    ({"inputs": {"amount": "abc"}}, "body.inputs.amount: expected a number; got \"abc\""),
    ([{"inputs": {}}, {"inputs": {"new_user": 1}}], "body[1].inputs.new_user: expected true or false"),
    ({"inputs": {"amount": 1}, "deadline_ms": -5}, "body.deadline_ms: Input should be greater than 0"),
    ({"input": {}}, "body.input: unknown key"),
    ({"inputs": {"amount": [1, 2]}}, "body.inputs.amount"),
    ([], "body: expected 1 to 1000 requests; got 0"),
])
def test_a_bad_request_gets_a_422_naming_the_field(client: TestClient, body: Any, message: str) -> None:
    response = client.post("/v1/decide", json=body)
    assert response.status_code == 422
    assert message in response.json()["error"]


def test_a_body_that_is_not_json_is_a_422(client: TestClient) -> None:
    response = client.post("/v1/decide", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["error"].startswith("body: not JSON")


def test_the_token_guards_decisions_and_metrics_but_not_the_probes(client: TestClient) -> None:
    for path, method in (("/v1/decide", "post"), ("/metrics", "get")):
        anonymous = getattr(client, method)(path, headers={"Authorization": "Bearer wrong"},
                                            **({"json": {"inputs": {}}} if method == "post" else {}))
        assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    assert client.get("/healthz", headers={"Authorization": ""}).status_code == 200
    ready = client.get("/readyz", headers={"Authorization": ""})
    assert ready.status_code == 200 and ready.json()["ready"] is True


def test_metrics_count_decisions_fallbacks_and_the_logger(client: TestClient) -> None:
    client.post("/v1/decide", json=[{"inputs": {"amount": 900}}, {"inputs": {"amount": 13}}])
    deadline = time.monotonic() + 5
    while "loopwatch_logger_accepted 2.0" not in (text := client.get("/metrics").text):
        assert time.monotonic() < deadline, text  # logged after the answer, on the batch thread
        time.sleep(0.01)
    assert 'loopwatch_decisions_total{action="block",model="fraud",route="primary"} 1.0' in text
    assert ('loopwatch_fallbacks_total{model="fraud",reason="model_error",served="default",step="model"}'
            " 1.0") in text
    assert 'loopwatch_decision_latency_seconds_count{model="fraud"} 2.0' in text
    # what logging costs, counted in-process: the batch thread's share and the writer's
    batch_cpu = re.search(r"^loopwatch_logging_batch_cpu_seconds_total (\S+)$", text, re.M)
    assert batch_cpu is not None and float(batch_cpu[1]) > 0
    assert re.search(r"^loopwatch_logger_writer_cpu_seconds_total \S+$", text, re.M)


def test_the_openapi_schema_describes_the_decide_body(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/v1/decide"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["oneOf"][1]["maxItems"] == 1000
    assert "inputs" in body["oneOf"][0]["required"]
