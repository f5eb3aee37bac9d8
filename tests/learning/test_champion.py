"""Champion/challenger on the simulator and from logged shadow scores."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from loopwatch.core.spec import Spec
from loopwatch.core.window import Window
from loopwatch.learning.champion import compare_replay
from loopwatch.learning.training_data import rows_as_of
from loopwatch.simulate.retrain import train
from loopwatch.simulate.world import FEATURES
from loopwatch.storage.sources import open_source

TRAIN = Window.of("2026-01-01", "2026-01-15")
COMPARED = Window.of("2026-01-15", "2026-02-10")

Scorer = Callable[[pa.Table], np.ndarray]


@pytest.fixture(scope="module")
def versions(simulated: Spec) -> dict[str, Scorer]:
    """Two versions retrained on the first two weeks' logs: without and with the IP-reputation score."""
    rows = rows_as_of(open_source(simulated), TRAIN, labelled_only=True)
    return {"without": train(rows, [f for f in FEATURES if f != "ip_risk_score"], "label", seed=1),
            "with": train(rows, FEATURES, "label", seed=1)}


@pytest.mark.slow
def test_a_challenger_better_overall_but_worse_in_the_minority_region_is_blocked_naming_it(
        simulated: Spec, versions: dict[str, Scorer]) -> None:
    # the champion does without the IP-reputation score; the challenger uses it, but its vendor
    # reports a trust score (1 - risk) for African traffic, so there it ranks fraud backwards
    champion, full = versions["without"], versions["with"]

    def challenger(table: pa.Table) -> np.ndarray:
        afr = pc.equal(table.column("region"), "AFR")
        inverted = pc.if_else(afr, pc.subtract(1.0, table.column("ip_risk_score")),
                              table.column("ip_risk_score"))
        return full(table.set_column(table.column_names.index("ip_risk_score"), "ip_risk_score", inverted))

    result = compare_replay(simulated, COMPARED, champion=champion, challenger=challenger,
                            champion_version="no-ip-risk", challenger_version="with-ip-risk")
    print(result.report())
    assert result.maturity is not None and result.maturity.mature
    overall = result.overall
    assert overall is not None and overall.metric is not None
    assert overall.metric.difference > 0 and result.superiority_p < 0.05  # better globally
    assert not result.passed and result.verdict == "blocked"
    assert result.blocked_cohorts == ("region=AFR",)
    afr = next(c for c in result.cohorts if c.cohort == "region=AFR")
    # worse there by more than the margin, and not shown otherwise
    assert afr.metric is not None and afr.metric.difference < -simulated.learning.champion.margin
    assert afr.adjusted > simulated.learning.champion.alpha
    assert "region=AFR" in result.report()


@pytest.mark.slow
def test_the_same_challenger_without_the_regional_fault_passes(simulated: Spec,
                                                               versions: dict[str, Scorer]) -> None:
    result = compare_replay(simulated, COMPARED, champion=versions["without"], challenger=versions["with"])
    assert result.passed, result.report()


@pytest.mark.slow
def test_a_window_whose_labels_have_not_arrived_waits_instead_of_passing(
        simulated: Spec, versions: dict[str, Scorer]) -> None:
    model = versions["with"]
    late = Window.of(datetime(2026, 2, 19, tzinfo=UTC), datetime(2026, 2, 26, tzinfo=UTC))
    result = compare_replay(simulated, late, champion=None, challenger=model)
    assert result.verdict == "labels_not_mature" and not result.passed
    assert "not matured" in result.reason
