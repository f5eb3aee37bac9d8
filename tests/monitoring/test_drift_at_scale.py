"""The drift decision on the synthetic benchmark job: exactly the shifted features, at 100,000 rows a side."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopwatch.core.profile import ALL, Binning, Profile
from loopwatch.core.spec import spec_from_mapping
from loopwatch.monitoring.drift import drift_report
from loopwatch.simulate.synthetic import (
    CATEGORICAL_FEATURES,
    CURRENT_WINDOW,
    FEATURES,
    NUMERIC_FEATURES,
    REFERENCE_WINDOW,
    SHIFTED_FEATURES,
    write_drift_dataset,
)

ROWS = 100_000


def benchmark_profiles(ref_path: Path, cur_path: Path) -> tuple[Profile, Profile, Binning]:
    """Reference and current profiles as ``benchmarks/compare_anchors.py``'s loopwatch job builds them."""
    import ibis

    from loopwatch.storage.fitting import fit_binning
    from loopwatch.storage.profiling import profile_parts

    spec = spec_from_mapping({
        "model": "drift-job",
        "features": [{"name": n, "dtype": "numeric"} for n in NUMERIC_FEATURES]
        + [{"name": n, "dtype": "categorical"} for n in CATEGORICAL_FEATURES],
        "columns": {"model_version": None, "action": None, "threshold": None, "latency": None,
                    "cost": None, "error": None, "source": None},
    })
    con = ibis.duckdb.connect()
    con.raw_sql("SET disabled_optimizers = 'statistics_propagation'")
    reference, current = con.read_parquet(str(ref_path)), con.read_parquet(str(cur_path))
    binning = fit_binning(reference, spec)
    sides = []
    for table, window in ((reference, REFERENCE_WINDOW), (current, CURRENT_WINDOW)):
        end = window.start + window.length
        parts = profile_parts(table, spec, binning, start=window.start, end=end, con=con, cohorts=False)
        sides.append(parts.profiles(binning, start=window.start, end=end)[ALL])
    return sides[0], sides[1], binning


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_exactly_the_shifted_features_are_flagged(tmp_path: Path, seed: int) -> None:
    paths = write_drift_dataset(tmp_path, ROWS, seed=seed)
    reference, current, binning = benchmark_profiles(paths.reference, paths.current)
    report = drift_report(reference, current, binning)
    assert [d.feature for d in report] == list(FEATURES)
    flagged = {d.feature for d in report if d.drifted}
    detail = {d.feature: (round(d.effect, 5), f"{d.p_value:.1e}") for d in report}
    assert flagged == set(SHIFTED_FEATURES), detail
    # the 10,000-value categorical: raw PSI inflated by sampling noise, corrected effect near zero
    (many,) = (d for d in report if d.feature == "cat_10000")
    assert many.stats.psi > 0.1 and many.effect < 0.01
