"""A synthetic reference-vs-current drift job: 20 features, 4 of them shifted.

The data set behind ``benchmarks/compare_anchors.py``, shaped like a loopwatch
decision log so that the same files can be profiled by loopwatch and loaded by
other drift tools:

* 14 numeric features: normal, lognormal, heavy-tailed, exponential, uniform
  and bimodal; three of them have 2% nulls (nulls, never NaN).
* 6 categorical features (strings) with 5 to 10,000 Zipf-like values; the
  name of each carries its cardinality (``cat_300`` has 300 possible values).
* ``decision_id`` (unique string), ``timestamp`` (UTC, spread in order over
  the window), ``score`` (in (0, 1)) and one cohort column, ``segment``, with
  8 values.

The current data (``shifted=True``) differs from the reference in exactly the
four features of :data:`SHIFTED_FEATURES`, each by a moderate amount that a
two-sample test finds easily at 100,000 rows:

* ``num_normal_a``: the mean moves by +0.15 standard deviations;
* ``num_normal_b``: the standard deviation grows from 1.0 to 1.25;
* ``num_heavy_t3``: a Student-t (3 degrees of freedom) moves by +0.25;
* ``cat_50``: the 2nd, 3rd and 4th most popular values trade frequencies.

Rows are generated in blocks of :data:`CHUNK_ROWS`, each from its own random
stream derived from ``(seed, shifted, block)``, so that a table can be written
block by block with little memory (:func:`write_drift_dataset`) and the file
holds exactly the rows that :func:`drift_dataset` returns.
"""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, NamedTuple

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from loopwatch.core.spec import Spec, spec_from_mapping
from loopwatch.core.window import Window

__all__ = [
    "CATEGORICAL_CARDINALITIES",
    "CATEGORICAL_FEATURES",
    "CHUNK_ROWS",
    "COLUMN_TYPES",
    "CURRENT_WINDOW",
    "FEATURES",
    "FEATURE_TYPES",
    "NULLABLE_FEATURES",
    "NULL_RATE",
    "NUMERIC_FEATURES",
    "REFERENCE_WINDOW",
    "SEGMENTS",
    "SHIFTED_FEATURES",
    "DriftDatasetPaths",
    "drift_dataset",
    "drift_job_spec",
    "write_drift_dataset",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Rows per generated block (and per Parquet row group).
CHUNK_ROWS: Final = 262_144

NUMERIC_FEATURES: Final = (
    "num_normal_a",
    "num_normal_b",
    "num_normal_c",
    "num_lognormal_a",
    "num_lognormal_b",
    "num_lognormal_c",
    "num_heavy_t3",
    "num_heavy_lomax",
    "num_exponential_a",
    "num_exponential_b",
    "num_uniform_a",
    "num_uniform_b",
    "num_bimodal_a",
    "num_bimodal_b",
)

#: Number of possible values of each categorical feature.
CATEGORICAL_CARDINALITIES: Final = {
    "cat_5": 5,
    "cat_12": 12,
    "cat_50": 50,
    "cat_300": 300,
    "cat_2000": 2_000,
    "cat_10000": 10_000,
}
CATEGORICAL_FEATURES: Final = tuple(CATEGORICAL_CARDINALITIES)
FEATURES: Final = NUMERIC_FEATURES + CATEGORICAL_FEATURES

#: The features whose distribution differs between reference and current.
SHIFTED_FEATURES: Final = ("num_normal_a", "num_normal_b", "num_heavy_t3", "cat_50")

#: Features with nulls, each at :data:`NULL_RATE`.
NULLABLE_FEATURES: Final = ("num_normal_c", "num_lognormal_b", "num_exponential_b")
NULL_RATE: Final = 0.02

#: Arrow type of each feature.
FEATURE_TYPES: Final[dict[str, pa.DataType]] = {
    **{name: pa.float64() for name in NUMERIC_FEATURES},
    **{name: pa.string() for name in CATEGORICAL_FEATURES},
}

SEGMENTS: Final = tuple(f"seg_{i}" for i in range(8))
_SEGMENT_SHARE: Final = np.array([0.25, 0.18, 0.14, 0.12, 0.10, 0.09, 0.07, 0.05])

#: Arrow type of every column, in table order.
COLUMN_TYPES: Final[dict[str, pa.DataType]] = {
    "decision_id": pa.string(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    **FEATURE_TYPES,
    "score": pa.float64(),
    "segment": pa.string(),
}
_SCHEMA: Final = pa.schema(list(COLUMN_TYPES.items()))


#: Time window of the reference rows (``shifted=False``).
REFERENCE_WINDOW: Final = Window.starting(datetime(2025, 1, 1, tzinfo=UTC), timedelta(days=28))
#: Time window of the current rows (``shifted=True``), right after the reference.
CURRENT_WINDOW: Final = Window.starting(datetime(2025, 1, 29, tzinfo=UTC), timedelta(days=7))

# Zipf exponent of each categorical: steeper for few values, flatter for many,
# so that most of the 10,000 values of cat_10000 occur in a million rows.
_ZIPF_EXPONENT: Final = {
    "cat_5": 1.2,
    "cat_12": 1.2,
    "cat_50": 1.1,
    "cat_300": 1.1,
    "cat_2000": 1.0,
    "cat_10000": 1.0,
}

_MEAN_SHIFT: Final = 0.15
_SD_RATIO: Final = 1.25
_HEAVY_SHIFT: Final = 0.25
# In the current data rank 1 takes the share of rank 3, rank 2 that of rank 1
# and rank 3 that of rank 2 (rank 0 is the most popular value).
_REORDERED_RANKS: Final = np.array([0, 3, 1, 2])


class DriftDatasetPaths(NamedTuple):
    """Where :func:`write_drift_dataset` wrote the reference and current data."""

    reference: Path
    current: Path


def _zipf_cdf(cardinality: int, exponent: float, *, reordered: bool) -> FloatArray:
    weights = 1.0 / np.arange(1, cardinality + 1, dtype=np.float64) ** exponent
    if reordered:
        head = len(_REORDERED_RANKS)
        weights[:head] = weights[:head][_REORDERED_RANKS]
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    return cdf


@functools.cache
def _categories(name: str, cardinality: int) -> pa.Array[Any]:
    width = len(str(cardinality - 1))
    prefix = name.removeprefix("cat_")
    return pa.array([f"v{prefix}_{i:0{width}d}" for i in range(cardinality)], pa.string())


def _categorical(rng: np.random.Generator, n: int, name: str, *, reordered: bool) -> pa.Array[Any]:
    cardinality = CATEGORICAL_CARDINALITIES[name]
    cdf = _zipf_cdf(cardinality, _ZIPF_EXPONENT[name], reordered=reordered)
    codes = np.searchsorted(cdf, rng.random(n), side="right")
    codes = np.minimum(codes, cardinality - 1).astype(np.int32)
    return _categories(name, cardinality).take(codes)


def _with_nulls(rng: np.random.Generator, values: FloatArray) -> pa.Array[Any]:
    mask: BoolArray = np.less(rng.random(values.shape[0]), NULL_RATE)
    return pa.array(values, pa.float64(), mask=mask)


def _bimodal(
    rng: np.random.Generator,
    n: int,
    weight: float,
    low: tuple[float, float],
    high: tuple[float, float],
) -> FloatArray:
    first: BoolArray = np.less(rng.random(n), weight)
    return np.where(first, rng.normal(low[0], low[1], n), rng.normal(high[0], high[1], n))


def _numeric(rng: np.random.Generator, n: int, *, shifted: bool) -> dict[str, FloatArray]:
    mean_shift = _MEAN_SHIFT if shifted else 0.0
    sd = _SD_RATIO if shifted else 1.0
    heavy_shift = _HEAVY_SHIFT if shifted else 0.0
    # One draw per feature in a fixed order: a shift changes parameters, never
    # the number of draws, so the unshifted features of reference and current
    # come from the same distribution.
    return {
        "num_normal_a": rng.normal(10.0 + mean_shift * 2.0, 2.0, n),
        "num_normal_b": rng.normal(0.0, sd, n),
        "num_normal_c": rng.normal(-3.0, 0.5, n),
        "num_lognormal_a": rng.lognormal(3.0, 0.5, n),
        "num_lognormal_b": rng.lognormal(0.0, 1.0, n),
        "num_lognormal_c": rng.lognormal(5.0, 1.5, n),
        "num_heavy_t3": rng.standard_t(3.0, n) + heavy_shift,
        "num_heavy_lomax": rng.pareto(2.5, n) * 100.0,
        "num_exponential_a": rng.exponential(1.0, n),
        "num_exponential_b": rng.exponential(30.0, n),
        "num_uniform_a": rng.uniform(0.0, 1.0, n),
        "num_uniform_b": rng.uniform(-50.0, 150.0, n),
        "num_bimodal_a": _bimodal(rng, n, 0.6, (-1.5, 0.6), (2.0, 0.8)),
        "num_bimodal_b": _bimodal(rng, n, 0.3, (20.0, 3.0), (60.0, 8.0)),
    }


def _score(rng: np.random.Generator, numeric: dict[str, FloatArray]) -> FloatArray:
    logit = (
        -1.0
        + 0.6 * (numeric["num_normal_a"] - 10.0) / 2.0
        + 0.4 * np.log(numeric["num_lognormal_a"] / 20.0)
        - 0.3 * numeric["num_bimodal_a"]
        + rng.normal(0.0, 0.8, numeric["num_normal_a"].shape[0])
    )
    score: FloatArray = 1.0 / (1.0 + np.exp(-logit))
    return score


def _timestamps(rng: np.random.Generator, offset: int, n: int, n_rows: int, window: Window) -> pa.Array[Any]:
    # Row i falls in [i, i + 1) / n_rows of the window: in order, evenly spread.
    start_us = int(window.start.timestamp() * 1_000_000)
    length_us = window.length // timedelta(microseconds=1)
    position = (np.arange(offset, offset + n, dtype=np.float64) + rng.random(n)) / n_rows
    us = start_us + np.floor(position * length_us).astype(np.int64)
    return pa.array(us, pa.timestamp("us", tz="UTC"))


def _decision_ids(offset: int, n: int, *, shifted: bool, seed: int) -> pa.Array[Any]:
    prefix = f"{'cur' if shifted else 'ref'}-{seed}-"
    index = pc.cast(pa.array(np.arange(offset, offset + n, dtype=np.int64)), pa.string())
    padded = pc.utf8_lpad(index, width=10, padding="0")
    return pc.utf8_replace_slice(padded, start=0, stop=0, replacement=prefix)


def _block(offset: int, n: int, n_rows: int, *, shifted: bool, seed: int) -> pa.Table:
    block = offset // CHUNK_ROWS
    rng = np.random.default_rng(np.random.SeedSequence([seed, int(shifted), block]))
    window = CURRENT_WINDOW if shifted else REFERENCE_WINDOW
    numeric = _numeric(rng, n, shifted=shifted)
    columns: dict[str, pa.Array[Any]] = {
        "decision_id": _decision_ids(offset, n, shifted=shifted, seed=seed),
        "timestamp": _timestamps(rng, offset, n, n_rows, window),
    }
    for name in NUMERIC_FEATURES:
        values = numeric[name]
        if name in NULLABLE_FEATURES:
            columns[name] = _with_nulls(rng, values)
        else:
            columns[name] = pa.array(values, pa.float64())
    for name in CATEGORICAL_FEATURES:
        reordered = shifted and name in SHIFTED_FEATURES
        columns[name] = _categorical(rng, n, name, reordered=reordered)
    columns["score"] = pa.array(_score(rng, numeric), pa.float64())
    segment_cdf = np.cumsum(_SEGMENT_SHARE) / _SEGMENT_SHARE.sum()
    segment_codes = np.minimum(np.searchsorted(segment_cdf, rng.random(n), side="right"), len(SEGMENTS) - 1)
    columns["segment"] = pa.array(SEGMENTS, pa.string()).take(segment_codes)
    return pa.Table.from_arrays(list(columns.values()), schema=_SCHEMA)


def _check_rows(n_rows: int) -> None:
    if n_rows < 1:
        raise ValueError(f"n_rows must be >= 1; got {n_rows}")


def _blocks(n_rows: int) -> list[tuple[int, int]]:
    return [(offset, min(CHUNK_ROWS, n_rows - offset)) for offset in range(0, n_rows, CHUNK_ROWS)]


def drift_dataset(n_rows: int, *, shifted: bool, seed: int) -> pa.Table:
    """Generate one side of the synthetic drift job as an Arrow table.

    Parameters
    ----------
    n_rows : int
        Number of rows, at least 1.
    shifted : bool
        ``False`` for the reference data, ``True`` for the current data, in
        which the features of :data:`SHIFTED_FEATURES` have moved. The two
        sides use independent random streams.
    seed : int
        Seed; the same ``(n_rows, shifted, seed)`` always gives the same table.

    Returns
    -------
    pyarrow.Table
        Columns and types as in :data:`COLUMN_TYPES`, rows in time order.

    Raises
    ------
    ValueError
        If ``n_rows`` is less than 1.

    Examples
    --------
    >>> table = drift_dataset(1_000, shifted=False, seed=7)
    >>> table.num_rows, table.num_columns
    (1000, 24)
    >>> table.schema.field("cat_50").type
    DataType(string)
    """
    _check_rows(n_rows)
    blocks = [_block(offset, n, n_rows, shifted=shifted, seed=seed) for offset, n in _blocks(n_rows)]
    return pa.concat_tables(blocks)


def _write_side(path: Path, n_rows: int, *, shifted: bool, seed: int) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with pq.ParquetWriter(tmp, _SCHEMA) as writer:
            for offset, n in _blocks(n_rows):
                table = _block(offset, n, n_rows, shifted=shifted, seed=seed)
                writer.write_table(table, row_group_size=CHUNK_ROWS)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_drift_dataset(directory: str | os.PathLike[str], n_rows: int, *, seed: int) -> DriftDatasetPaths:
    """Write the reference and current data of the drift job as Parquet files.

    The files are written one block of :data:`CHUNK_ROWS` rows at a time (one
    row group each), so memory stays small for millions of rows, and each file
    appears atomically under its final name.

    Parameters
    ----------
    directory : str or os.PathLike
        Directory to write to; created if missing.
    n_rows : int
        Rows on each side, at least 1.
    seed : int
        Seed, as in :func:`drift_dataset`.

    Returns
    -------
    DriftDatasetPaths
        ``reference-<n_rows>-<seed>.parquet`` and ``current-<n_rows>-<seed>.parquet``
        in ``directory``; their rows equal ``drift_dataset(n_rows, shifted=False,
        seed=seed)`` and ``drift_dataset(n_rows, shifted=True, seed=seed)``.

    Raises
    ------
    ValueError
        If ``n_rows`` is less than 1.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = write_drift_dataset(tmp, 500, seed=1)
    ...     pq.read_metadata(paths.current).num_rows
    500
    """
    _check_rows(n_rows)
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    paths = DriftDatasetPaths(
        reference=root / f"reference-{n_rows}-{seed}.parquet",
        current=root / f"current-{n_rows}-{seed}.parquet",
    )
    _write_side(paths.reference, n_rows, shifted=False, seed=seed)
    _write_side(paths.current, n_rows, shifted=True, seed=seed)
    return paths


def drift_job_spec() -> Spec:
    """The spec of the drift job over these files: the 20 features, the score, no other
    decision column."""
    return spec_from_mapping({
        "model": "drift-job",
        "features": [{"name": n, "dtype": "numeric"} for n in NUMERIC_FEATURES]
        + [{"name": n, "dtype": "categorical"} for n in CATEGORICAL_FEATURES],
        "columns": {"model_version": None, "action": None, "threshold": None, "latency": None,
                    "cost": None, "error": None, "source": None},
    })
