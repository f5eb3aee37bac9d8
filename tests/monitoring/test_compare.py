"""``compare_files`` and ``loopwatch compare``: two sets of decision files, no store."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from loopwatch.cli.main import app
from loopwatch.core.profile import ALL
from loopwatch.errors import InputError
from loopwatch.monitoring.compare import compare_files
from loopwatch.simulate.synthetic import SHIFTED_FEATURES, drift_dataset, drift_job_spec
from loopwatch.storage.duckdb_engine import duckdb_connection
from loopwatch.storage.fitting import fit_binning
from loopwatch.storage.profiling import profile_parts

ROWS = 30_000


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("compare")
    out = {}
    for side, shifted in (("reference", False), ("current", True)):
        out[side] = root / f"{side}.parquet"
        pq.write_table(drift_dataset(ROWS, shifted=shifted, seed=5), out[side])
    return out


def test_each_side_is_the_merge_of_its_daily_profiles(files: dict[str, Path]) -> None:
    spec = drift_job_spec()
    result = compare_files(spec, [files["reference"]], [files["current"]])
    con = duckdb_connection()
    reference = con.read_parquet(str(files["reference"]))
    binning = fit_binning(reference, spec)
    for side, got in (("reference", result.reference), ("current", result.current)):
        table = pq.read_table(files[side])
        ts = table.column("timestamp")
        first = pc.min(ts).as_py().replace(hour=0, minute=0, second=0, microsecond=0)
        end = pc.max(ts).as_py().replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        assert (got.n, got.start, got.end) == (table.num_rows, first, end), side
        daily = profile_parts(con.read_parquet(str(files[side])), spec, binning, start=first,
                              end=end, con=con, cohorts=False)
        assert got == daily.profiles(binning, start=first, end=end)[ALL], side
    assert set(result.drifted) <= set(SHIFTED_FEATURES) and result.drifted
    assert result.exit_code == 1


def test_a_side_compared_with_itself_has_not_drifted(files: dict[str, Path]) -> None:
    result = compare_files(drift_job_spec(), [files["reference"]], [files["reference"]])
    assert result.drifted == [] and result.exit_code == 0
    assert all(f.effect == 0 for f in result.features)


def test_files_directories_and_globs_name_the_same_rows(files: dict[str, Path],
                                                        tmp_path: Path) -> None:
    table = pq.read_table(files["current"])
    parts = tmp_path / "current" / "day=1"
    parts.mkdir(parents=True)
    halves = [table.slice(0, ROWS // 3), table.slice(ROWS // 3)]
    for i, half in enumerate(halves):
        pq.write_table(half, parts / f"part-{i}.parquet")
    spec = drift_job_spec()
    whole = compare_files(spec, [files["reference"]], [files["current"]])
    for current in ([tmp_path / "current"], [str(tmp_path / "current" / "**" / "*.parquet")],
                    sorted(parts.glob("*.parquet"))):
        got = compare_files(spec, [files["reference"]], current)
        assert got.current == whole.current, current
        assert got.drifted == whole.drifted


def test_a_missing_column_is_named_with_its_side(files: dict[str, Path], tmp_path: Path) -> None:
    table = pq.read_table(files["current"]).drop_columns(["num_normal_a", "cat_50"])
    path = tmp_path / "narrow.parquet"
    pq.write_table(table, path)
    with pytest.raises(InputError, match=r"current files \(.*narrow.parquet\) lack the column"
                                         r"\(s\) 'num_normal_a', 'cat_50'"):
        compare_files(drift_job_spec(), [files["reference"]], [path])


def test_no_file_or_no_row_is_a_clear_error(files: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no reference file matches .*nothing-here"):
        compare_files(drift_job_spec(), [tmp_path / "nothing-here"], [files["current"]])
    empty = tmp_path / "empty.parquet"
    pq.write_table(pq.read_table(files["current"]).slice(0, 0), empty)
    with pytest.raises(InputError, match="the current files hold no decision"):
        compare_files(drift_job_spec(), [files["reference"]], [empty])
    with pytest.raises(InputError, match="the reference files hold no decision"):
        compare_files(drift_job_spec(), [empty], [files["current"]])


def test_the_command_prints_json_and_exits_1_on_drift(files: dict[str, Path],
                                                      tmp_path: Path) -> None:
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump({
        "model": "drift-job",
        "features": [{"name": "num_normal_a", "dtype": "numeric"},
                     {"name": "num_uniform_a", "dtype": "numeric"},
                     {"name": "cat_50", "dtype": "categorical"}],
        "columns": {"model_version": None, "action": None, "threshold": None, "latency": None,
                    "cost": None, "error": None, "source": None},
    }))
    runner = CliRunner()
    args = ["compare", "--spec", str(spec_path), "--reference", str(files["reference"]),
            "--format", "json"]
    shifted = runner.invoke(app, [*args, "--current", str(files["current"])])
    assert shifted.exit_code == 1, shifted.output
    report = json.loads(shifted.stdout)
    assert report["drifted"] and set(report["drifted"]) <= {"num_normal_a", "cat_50"}
    assert [f["feature"] for f in report["features"]] == ["num_normal_a", "num_uniform_a", "cat_50"]
    assert report["reference"]["rows"] == report["current"]["rows"] == ROWS
    same = runner.invoke(app, [*args, "--current", str(files["reference"])])
    assert same.exit_code == 0, same.output
    assert json.loads(same.stdout)["drifted"] == []
    table = runner.invoke(app, ["compare", "--spec", str(spec_path), "--reference",
                                str(files["reference"]), "--current", str(files["current"])])
    assert table.exit_code == 1 and "features drifted" in table.stdout
    missing = runner.invoke(app, ["compare", "--spec", str(spec_path), "--reference",
                                  str(tmp_path / "none.parquet"), "--current", str(files["current"])])
    assert missing.exit_code == 2 and "no reference file matches" in missing.output


def test_files_of_one_side_may_differ_in_columns(files: dict[str, Path], tmp_path: Path) -> None:
    table = pq.read_table(files["current"])
    older = table.slice(0, 10_000).drop_columns(["num_normal_c"])  # before the feature existed
    pq.write_table(older, tmp_path / "a.parquet")
    pq.write_table(table.slice(10_000), tmp_path / "b.parquet")
    result = compare_files(drift_job_spec(), [files["reference"]], [tmp_path])
    whole = compare_files(drift_job_spec(), [files["reference"]], [files["current"]])
    nulls_after = table.slice(10_000).column("num_normal_c").null_count
    assert result.current.numeric["num_normal_c"].nulls == 10_000 + nulls_after
    assert result.current.numeric["num_normal_a"] == whole.current.numeric["num_normal_a"]


@pytest.mark.parametrize(("column", "value"), [
    ("score", "zero"), ("timestamp", "yesterday"), ("num_heavy_t3", "n/a")])
def test_a_column_whose_every_value_is_invalid_is_named_with_its_file(
    files: dict[str, Path], tmp_path: Path, column: str, value: str
) -> None:
    table = pq.read_table(files["current"])
    index = table.schema.get_field_index(column)
    table = table.set_column(index, column, pa.array([value] * table.num_rows, pa.string()))
    path = tmp_path / "typed.parquet"
    pq.write_table(table, path)
    with pytest.raises(InputError, match=rf"the current files hold no decision: all {ROWS:,} rows "
                                         rf"are invalid; the first, from .*typed.parquet: {column}: "):
        compare_files(drift_job_spec(), [files["reference"]], [path])


def test_numbers_and_times_given_as_text_compare_as_ingest_reads_them(
    files: dict[str, Path], tmp_path: Path
) -> None:
    table = pq.read_table(files["current"])
    for column in ("num_heavy_t3", "score", "timestamp"):
        index = table.schema.get_field_index(column)
        values = table.column(column)
        text = (pa.array([None if t is None else t.isoformat() for t in values.to_pylist()])
                if column == "timestamp" else pc.cast(values, pa.string()))
        table = table.set_column(index, column, text)
    path = tmp_path / "text.parquet"
    pq.write_table(table, path)
    as_text = compare_files(drift_job_spec(), [files["reference"]], [path])
    typed = compare_files(drift_job_spec(), [files["reference"]], [files["current"]])
    assert as_text.current == typed.current and as_text.drifted == typed.drifted
    assert as_text.skipped == {"reference": {}, "current": {}}
