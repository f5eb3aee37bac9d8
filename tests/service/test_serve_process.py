"""`loopwatch serve` in its own process over real HTTP, stopped by a signal; `loopwatch tail` on its log."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

LOOP_MODULE = '''
import asyncio
import numpy as np
from loopwatch.prediction.loop import DecisionLoop
from loopwatch.prediction.models import Model
from loopwatch.prediction.steps import Actions, FeatureStep


async def slow_risk(inputs):  # a remote feature source, slow for one card in ten
    await asyncio.sleep(0.05 if inputs.get("card", 0) % 10 == 0 else 0.0)
    return 0.1


def build(spec):
    model = Model(predictor=lambda x: np.clip(x[:, 0] / 1000, 0, 1), version="v7",
                  features=["amount", "ip_risk"])
    return DecisionLoop(spec, model=model, actions=Actions(thresholds={"review": 0.5}),
                        features=[FeatureStep(name="ip_risk", compute=slow_risk)])
'''

SPEC = """
model: served
store: ./store
features:
  - {name: amount, dtype: numeric}
  - {name: ip_risk, dtype: numeric, owner: trust, fallback: 0.5}
cohorts: [region]
serving:
  loop: served_loop:build
  cost: {cpu_second: 0.0001, calls: {trust: 0.002}}
"""

LOOPWATCH = str(Path(sys.executable).with_name("loopwatch"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(port: int, body: Any, token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/decide", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.slow
def test_serve_answers_over_http_logs_every_decision_and_tail_reads_them(tmp_path: Path) -> None:
    (tmp_path / "served_loop.py").write_text(LOOP_MODULE)
    (tmp_path / "loopwatch.yaml").write_text(SPEC)
    port = free_port()
    env = {**os.environ, "LOOPWATCH_SERVE_TOKEN": "t0ken"}
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 - closed in finally
    server = subprocess.Popen([LOOPWATCH, "serve", "--spec", str(tmp_path / "loopwatch.yaml"),
                               "--port", str(port)], env=env, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                    break
            except OSError:
                assert server.poll() is None, (tmp_path / "server.log").read_text()
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert post(port, {"inputs": {"amount": 1}})[0] == 401
        status, many = post(port, [{"decision_id": f"d{i}", "inputs": {"amount": 10.0 * i, "card": i,
                                                                     "region": "EU"}}
                                   for i in range(60)], token="t0ken")
        assert status == 200 and len(many) == 60
        assert many[59]["action"] == "review" and many[1]["action"] == "approve"
    finally:
        server.send_signal(signal.SIGINT)
        code = server.wait(60)
        log.close()
    assert code == 0, (tmp_path / "server.log").read_text()  # a graceful stop: the log is written
    done = subprocess.run([LOOPWATCH, "tail", "--spec", str(tmp_path / "loopwatch.yaml"), "--format", "json"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["tail"]["decisions"] == 60 and report["tail"]["tail_decisions"] == 3
    assert report["tail"]["steps"][0]["step"] == "feature.ip_risk"
    ip = report["tail"]["features"][0]
    assert ip["feature"] == "ip_risk" and ip["flip_rate"] == 0.0  # this model does not read ip_risk
    by_cohort = {c["cohort"]: c for c in report["costs"]}
    assert by_cohort["region=EU"]["decisions"] == 60
    assert by_cohort["all"]["cost_per_decision"] >= 0.002  # one priced call per decision
    table = subprocess.run([LOOPWATCH, "tail", "--spec", str(tmp_path / "loopwatch.yaml")],
                           capture_output=True, text=True, cwd=tmp_path)
    assert table.returncode == 0 and "feature.ip_risk" in table.stdout and "cost per decision" in table.stdout


def test_serve_without_a_loop_is_a_usage_error_naming_what_to_pass(tmp_path: Path) -> None:
    (tmp_path / "loopwatch.yaml").write_text(SPEC.replace("  loop: served_loop:build\n", ""))
    done = subprocess.run([LOOPWATCH, "serve", "--spec", str(tmp_path / "loopwatch.yaml")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "pass --loop module:attribute" in done.stderr
    done = subprocess.run([LOOPWATCH, "serve", "--spec", str(tmp_path / "loopwatch.yaml"), "--loop",
                           "no_such_module:build"], capture_output=True, text=True)
    assert done.returncode == 2 and "cannot import 'no_such_module'" in done.stderr
