"""One small store and control plane, and `loopwatch ui` serving it in its own process, for every test here.

The store is a short simulated fraud run checked once by the real watch job (its
alerts, findings and profiles are what a user would see); three more alerts are
applied on an earlier day so that each test acts on an alert of its own, and one
flag is set by hand. Built once per session (~8 s of CPU).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from loopwatch.core.alerts import AlertDraft, fingerprint_of
from loopwatch.core.findings import Finding, Kind, Severity
from loopwatch.core.flags import UseBaseline
from loopwatch.core.spec import Spec, load_spec
from loopwatch.storage.control import ControlFlags, ControlPlane
from loopwatch.storage.control.registry import ModelRegistry, new_version

LOOPWATCH = str(Path(sys.executable).with_name("loopwatch"))
TOKENS = {"LW_TEST_ANA": "ana-operator-token-4f9c2a7e", "LW_TEST_BEN": "ben-reader-token-81d3b6c0"}
OPERATOR, READER = TOKENS["LW_TEST_ANA"], TOKENS["LW_TEST_BEN"]

@dataclass(frozen=True)
class Served:
    """The dashboard under test: where it listens, its spec, and its control plane's alerts by kind."""

    url: str
    spec_path: Path
    spec: Spec
    alerts: dict[str, str]
    flag: str
    first_day: datetime
    operator: str = OPERATOR
    reader: str = READER

    def plane(self) -> ControlPlane:
        return ControlPlane.for_spec(self.spec)

    def another(self, log_path: Path) -> contextlib.AbstractContextManager[str]:
        """A second `loopwatch ui` process over the same store, for a test that must not disturb the first."""
        return launch(self.spec_path, log_path)


def _draft(model: str, kind: Kind, severity: Severity, day: datetime, headline: str, *,
           statistic: str, value: float, interval: tuple[float, float], n: int, **subject: str) -> AlertDraft:
    finding = Finding(kind=kind, check=kind, statistic=statistic, start=day - timedelta(days=1), end=day,
                      value=value, interval=interval, n=n, severity=severity, message=headline,
                      **{k: v for k, v in subject.items() if k in ("feature", "cohort", "entity")})
    return AlertDraft(fingerprint=fingerprint_of(model=model, kind=kind, **subject), model=model, kind=kind,
                      severity=severity, onset=day - timedelta(days=1), headline=headline,
                      findings=(finding,),
                      owner="fraud-oncall", runbook="https://runbooks.example/loopwatch", **subject)


def _build(root: Path) -> tuple[Spec, dict[str, str], str, datetime]:
    from loopwatch.monitoring.watch import watch_due
    from loopwatch.simulate.fraud import SimulationConfig, simulate, write_simulation

    result = simulate(SimulationConfig(days=34, decisions_per_day=200, incidents=("all",), seed=2))
    write_simulation(result, root)
    spec = load_spec(root / "loopwatch.yaml")
    end = datetime.fromisoformat(result.ground_truth["end"])
    model = spec.model
    earlier = end - timedelta(days=1)  # the watch run at `end` then counts them one healthy run of two
    with ControlPlane.for_spec(spec) as plane:
        crafted = plane.apply(model=model, run_time=earlier, drafts=[
            _draft(model, "volume", Severity.PAGE, earlier, "decisions from pos fell by 88%",
                   statistic="decisions",
                   value=41.0, interval=(30.0, 55.0), n=41, source="pos"),
            _draft(model, "performance", Severity.WARNING, earlier, "recall in region=AFR fell to 41%",
                   statistic="recall", value=0.41, interval=(0.3, 0.53), n=72, cohort="region=AFR"),
            _draft(model, "coverage", Severity.PAGE, earlier, "crypto_exchange goes unscored",
                   statistic="covered_share", value=0.02, interval=(0.01, 0.04), n=190,
                   entity="merchant_category=crypto_exchange"),
        ])
        alerts: dict[str, str] = {a.kind: a.id for a in crafted.alerts}
        assert len(watch_due(spec, plane=plane, now=end)) == 1
        real = [a for a in plane.alerts(model=model) if a.id not in alerts.values()]
        assert len(real) >= 2, f"the simulated run raised {len(real)} alerts; the tests need two"
        alerts.update(real_page=real[0].id, real_other=real[1].id)
        live = {a.id for a in plane.alerts(model=model)}
        assert live >= set(alerts.values()), "an alert resolved too early"
        registry = ModelRegistry(plane.engine)
        registry.register(new_version(model=model, version="v2", artifact="models/fraud-v2.joblib",
                                      owner="fraud-ml", features=("amount", "ip_risk_score")), actor="dana")
        registry.move(model, "v2", "production", actor="dana", reason="retrained on January")
        ControlFlags(plane.engine).set(UseBaseline(id="baseline-by-hand", model=model, who="carla",
                                                   why="precision fell after the release",
                                                   when=datetime.now(UTC)))
    return spec, alerts, "baseline-by-hand", datetime.fromisoformat(result.ground_truth["start"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def launch(spec_path: Path, log_path: Path) -> Iterator[str]:
    """`loopwatch ui` over ``spec_path`` in its own process on a free port; its URL once it answers."""
    port = _free_port()
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen([LOOPWATCH, "ui", "--spec", str(spec_path), "--port", str(port)],
                              env={**os.environ, **TOKENS}, stderr=log, stdout=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    raise RuntimeError(f"loopwatch ui did not start: {log_path.read_text()}") from None
                time.sleep(0.2)
        yield url
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`loopwatch ui` on a free port over the small store: ana operates, ben reads."""
    root = tmp_path_factory.mktemp("ui-store")
    _, alerts, flag, first_day = _build(root)
    # the users come from the spec, tokens from the environment: as a deployment would have them
    spec_path = root / "loopwatch.yaml"
    spec_path.write_text(spec_path.read_text() + "ui:\n  users:\n"
                         "    - {name: ana, role: operator, token_env: LW_TEST_ANA}\n"
                         "    - {name: ben, role: read, token_env: LW_TEST_BEN}\n")
    with launch(spec_path, root / "ui.log") as url:
        yield Served(url=url, spec_path=spec_path, spec=load_spec(spec_path), alerts=alerts, flag=flag,
                     first_day=first_day)
