"""One small simulated fraud store with a real control plane, shared by the report and inventory tests.

33 days of 400 decisions (the 30-day reference, then three with the simulator's early incidents), the daily
job run on the last two days (alerts as ``loopwatch watch`` opens them) and one mitigation set by hand.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from loopwatch.core.flags import ReviewThreshold
from loopwatch.core.spec import Spec, load_spec
from loopwatch.monitoring.watch import watch_once
from loopwatch.simulate.fraud import SimulationConfig, simulate, write_simulation
from loopwatch.storage.control import ControlFlags, ControlPlane


@pytest.fixture(scope="session")
def fraud_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Spec, datetime]:
    """The spec of the store and the end of its last day."""
    out: Path = tmp_path_factory.mktemp("fraud")
    result = simulate(SimulationConfig(days=33, decisions_per_day=400, incidents=("all",), seed=5))
    write_simulation(result, out)
    spec = load_spec(out / "loopwatch.yaml")
    end = datetime.fromisoformat(result.ground_truth["end"])
    with ControlPlane.for_spec(spec) as plane:
        for back in (1, 0):
            watch_once(spec, as_of=end - timedelta(days=back), plane=plane)
        ControlFlags(plane.engine).set(ReviewThreshold(
            id="review-1", model=spec.model, who="ana", why="review more while drift is open",
            when=end - timedelta(hours=6), threshold=0.4))
    return spec, end
