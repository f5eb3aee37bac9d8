"""The drift decision on the synthetic benchmark job: exactly the shifted features, at 100,000 rows a side."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopwatch.monitoring.compare import compare_files
from loopwatch.simulate.synthetic import (
    FEATURES,
    SHIFTED_FEATURES,
    drift_job_spec,
    write_drift_dataset,
)

ROWS = 100_000


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_exactly_the_shifted_features_are_flagged(tmp_path: Path, seed: int) -> None:
    paths = write_drift_dataset(tmp_path, ROWS, seed=seed)
    result = compare_files(drift_job_spec(), [paths.reference], [paths.current])
    assert [d.feature for d in result.features] == list(FEATURES)
    assert result.reference.n == result.current.n == ROWS
    detail = {d.feature: (round(d.effect, 5), f"{d.p_value:.1e}") for d in result.features}
    assert set(result.drifted) == set(SHIFTED_FEATURES), detail
    # the 10,000-value categorical: raw PSI inflated by sampling noise, corrected effect near zero
    (many,) = (d for d in result.features if d.feature == "cat_10000")
    assert many.stats.psi > 0.1 and many.effect < 0.01
