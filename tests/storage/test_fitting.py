"""The reference's bins: exact quantiles of a deterministic sample, the same from run to run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from loopwatch.core.profile import QUANTILES, numeric_edges
from loopwatch.simulate.synthetic import NUMERIC_FEATURES, drift_dataset, drift_job_spec
from loopwatch.storage.duckdb_engine import duckdb_connection
from loopwatch.storage.fitting import FIT_SAMPLE, fit_binning


def test_edges_are_numpys_quantiles_of_the_reference(tmp_path: Path) -> None:
    # below FIT_SAMPLE rows every row is in the sample
    table = drift_dataset(50_000, shifted=False, seed=4)
    assert table.num_rows <= FIT_SAMPLE
    path = tmp_path / "reference.parquet"
    pq.write_table(table, path, row_group_size=5_000)
    binning = fit_binning(duckdb_connection().read_parquet(str(path)), drift_job_spec())
    for name in NUMERIC_FEATURES:
        values = table.column(name).drop_null().to_numpy()
        values = values[~np.isnan(values)]
        want = numeric_edges(list(np.quantile(values, QUANTILES)), float(values.min()),
                             float(values.max()))
        np.testing.assert_allclose(binning.numeric[name], want, rtol=1e-12, err_msg=name)
    assert pc.count_distinct(table.column("cat_5")).as_py() == len(binning.categorical["cat_5"])


def test_two_fits_in_two_processes_give_the_same_bins(tmp_path: Path) -> None:
    # a parallel quantile sketch merged its threads' states in whatever order they finished:
    # the edges, and so the history's binning fingerprint, changed from one run to the next
    path = tmp_path / "reference.parquet"
    pq.write_table(drift_dataset(2 * FIT_SAMPLE, shifted=False, seed=4), path,
                   row_group_size=20_000)
    script = (
        "import sys\n"
        "from loopwatch.simulate.synthetic import drift_job_spec\n"
        "from loopwatch.storage.fitting import fit_binning\n"
        "from loopwatch.storage.duckdb_engine import duckdb_connection\n"
        "table = duckdb_connection().read_parquet(sys.argv[1])\n"
        "print(fit_binning(table, drift_job_spec()).fingerprint)\n"
    )
    runs = {subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                           text=True, check=True).stdout.strip() for _ in range(3)}
    assert len(runs) == 1, runs
