"""The synthetic drift job: 20 features, exactly 4 of them shifted."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from scipy import stats

from loopwatch.simulate import synthetic
from loopwatch.simulate.synthetic import (
    CATEGORICAL_CARDINALITIES,
    CATEGORICAL_FEATURES,
    COLUMN_TYPES,
    CURRENT_WINDOW,
    FEATURE_TYPES,
    FEATURES,
    NULL_RATE,
    NULLABLE_FEATURES,
    NUMERIC_FEATURES,
    REFERENCE_WINDOW,
    SEGMENTS,
    SHIFTED_FEATURES,
    drift_dataset,
    write_drift_dataset,
)

N = 50_000
SEED = 20250101


@pytest.fixture(scope="module")
def reference() -> pa.Table:
    return drift_dataset(N, shifted=False, seed=SEED)


@pytest.fixture(scope="module")
def current() -> pa.Table:
    return drift_dataset(N, shifted=True, seed=SEED)


def _numeric(table: pa.Table, name: str) -> np.ndarray:
    return table[name].drop_null().to_numpy()


def _drift_p_value(reference: pa.Table, current: pa.Table, name: str) -> float:
    if name in NUMERIC_FEATURES:
        result = stats.ks_2samp(_numeric(reference, name), _numeric(current, name))
        return float(result.pvalue)
    # chi-square over the values common enough for the test, the rest pooled
    ref = reference[name].to_numpy(zero_copy_only=False)
    cur = current[name].to_numpy(zero_copy_only=False)
    values, counts = np.unique(ref, return_counts=True)
    common = values[counts >= 50]
    ref_codes = np.searchsorted(common, ref).clip(max=len(common) - 1)
    cur_codes = np.searchsorted(common, cur).clip(max=len(common) - 1)
    ref_codes[common[ref_codes] != ref] = len(common)
    cur_codes[common[cur_codes] != cur] = len(common)
    table = np.array(
        [
            np.bincount(ref_codes, minlength=len(common) + 1),
            np.bincount(cur_codes, minlength=len(common) + 1),
        ]
    )
    table = table[:, table.sum(axis=0) > 0]
    return float(stats.chi2_contingency(table).pvalue)


def test_has_14_numeric_and_6_categorical_features_with_4_shifted() -> None:
    assert len(NUMERIC_FEATURES) == 14
    assert len(CATEGORICAL_FEATURES) == 6
    assert len(set(FEATURES)) == 20
    assert set(SHIFTED_FEATURES) <= set(FEATURES)
    assert len(SHIFTED_FEATURES) == 4
    assert set(NULLABLE_FEATURES) <= set(NUMERIC_FEATURES)


def test_same_seed_gives_the_same_table() -> None:
    first = drift_dataset(3_000, shifted=True, seed=5)
    assert first.equals(drift_dataset(3_000, shifted=True, seed=5))
    assert not first.equals(drift_dataset(3_000, shifted=True, seed=6))


def test_reference_and_current_use_independent_streams() -> None:
    reference = drift_dataset(1_000, shifted=False, seed=5)
    current = drift_dataset(1_000, shifted=True, seed=5)
    assert not reference["num_uniform_a"].equals(current["num_uniform_a"])


def test_columns_have_the_declared_types(reference: pa.Table) -> None:
    assert reference.schema.names == list(COLUMN_TYPES)
    for name, type_ in COLUMN_TYPES.items():
        assert reference.schema.field(name).type == type_, name
    for name, type_ in FEATURE_TYPES.items():
        assert reference.schema.field(name).type == type_, name


def test_nulls_are_2_percent_where_intended_and_absent_elsewhere(reference: pa.Table) -> None:
    for name in reference.schema.names:
        rate = reference[name].null_count / reference.num_rows
        if name in NULLABLE_FEATURES:
            assert abs(rate - NULL_RATE) < 0.003, name
        else:
            assert rate == 0.0, name


def test_numeric_features_hold_no_nan(reference: pa.Table) -> None:
    for name in NUMERIC_FEATURES:
        assert not np.isnan(_numeric(reference, name)).any(), name


def test_categoricals_take_their_declared_number_of_values() -> None:
    table = drift_dataset(400_000, shifted=False, seed=SEED)
    for name, cardinality in CATEGORICAL_CARDINALITIES.items():
        distinct = pc.count_distinct(table[name]).as_py()
        assert distinct <= cardinality, name
        # the rarest of 10,000 Zipf values is drawn ~4 times in 400k rows
        assert distinct >= 0.95 * cardinality, name


def test_categoricals_are_zipf_like(reference: pa.Table) -> None:
    for name in CATEGORICAL_FEATURES:
        counts = np.sort(np.asarray(pc.value_counts(reference[name]).field("counts")))[::-1]
        assert counts[0] > 1.5 * counts[1], name


def test_decision_ids_are_unique_across_reference_and_current(reference: pa.Table, current: pa.Table) -> None:
    ids = pa.concat_arrays(
        [reference["decision_id"].combine_chunks(), current["decision_id"].combine_chunks()]
    )
    assert pc.count_distinct(ids).as_py() == 2 * N


def test_timestamps_are_ordered_and_within_the_window(reference: pa.Table, current: pa.Table) -> None:
    for table, window in ((reference, REFERENCE_WINDOW), (current, CURRENT_WINDOW)):
        ts = table["timestamp"]
        assert pc.all(pc.greater_equal(ts[1:], ts[:-1])).as_py()
        first, last = ts[0].as_py(), ts[-1].as_py()
        assert first.utcoffset() == timedelta(0)
        assert window.start <= first < window.start + window.length / 100
        assert window.start + window.length * 0.99 < last < window.start + window.length
    assert REFERENCE_WINDOW.start + REFERENCE_WINDOW.length <= CURRENT_WINDOW.start


def test_score_is_a_probability_and_segment_has_8_values(reference: pa.Table) -> None:
    score = reference["score"].to_numpy()
    assert ((score > 0.0) & (score < 1.0)).all()
    assert 0.05 < score.mean() < 0.95
    assert sorted(pc.unique(reference["segment"]).to_pylist()) == list(SEGMENTS)


@pytest.mark.parametrize("name", SHIFTED_FEATURES)
def test_shifted_features_differ_between_reference_and_current(
    reference: pa.Table, current: pa.Table, name: str
) -> None:
    assert _drift_p_value(reference, current, name) < 1e-6


@pytest.mark.parametrize("name", [f for f in FEATURES if f not in SHIFTED_FEATURES])
def test_unshifted_features_do_not_differ(reference: pa.Table, current: pa.Table, name: str) -> None:
    assert _drift_p_value(reference, current, name) > 0.001


def test_written_files_hold_the_generated_rows_in_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(synthetic, "CHUNK_ROWS", 1_000)
    paths = write_drift_dataset(tmp_path, 2_500, seed=3)
    assert paths.reference.name == "reference-2500-3.parquet"
    current = pq.ParquetFile(paths.current)
    assert current.metadata.num_row_groups == 3
    assert current.read().equals(drift_dataset(2_500, shifted=True, seed=3))
    assert pq.read_table(paths.reference).equals(drift_dataset(2_500, shifted=False, seed=3))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([paths.reference.name, paths.current.name])


def test_rejects_fewer_than_one_row() -> None:
    with pytest.raises(ValueError, match="n_rows must be >= 1; got 0"):
        drift_dataset(0, shifted=False, seed=1)
