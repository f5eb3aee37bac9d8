"""A simulated fraud system written to a store, shared by the learning loop's tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from loopwatch.core.spec import Spec, load_spec
from loopwatch.simulate.fraud import SimulationConfig, simulate, write_simulation
from loopwatch.simulate.redundant import with_redundant_feature

#: 56 days at 8,000 decisions a day: after the 14 training days, enough minority-region (AFR, 2%)
#: frauds with matured labels (about 50 in days 14-40) for the champion/challenger rule to test it.
SIMULATED = SimulationConfig(days=56, decisions_per_day=8_000, incidents=(), seed=11,
                             start=datetime(2026, 1, 1, tzinfo=UTC))


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Spec:
    """The spec of a healthy simulated run, its store written (read-only for the tests), with the
    ablation scenario's redundant, expensive feature added (every other column as simulated)."""
    out: Path = tmp_path_factory.mktemp("learning") / "sim"
    write_simulation(with_redundant_feature(simulate(SIMULATED)), out)
    return load_spec(out / "loopwatch.yaml")
