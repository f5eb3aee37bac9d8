"""``compare`` on any input ``ingest`` accepts: every format, integer features, text timestamps, tables.

And on bad input: an error that names the file and the column, exit 2, no traceback,
never exit 1 (which means "drift found").
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from loopwatch.cli.main import app
from loopwatch.core.spec import Spec, spec_from_mapping
from loopwatch.errors import InputError
from loopwatch.monitoring.compare import Comparison, compare_files, compare_tables

ROWS = 3_000
T0 = datetime(2026, 3, 1, tzinfo=UTC)
SPEC: dict[str, Any] = {
    "model": "churn",
    "features": [{"name": "tenure_days", "dtype": "numeric"},
                 {"name": "plan", "dtype": "categorical"},
                 {"name": "is_new", "dtype": "boolean"}],
    "columns": {"model_version": None, "action": None, "threshold": None, "latency": None,
                "cost": None, "error": None, "source": None},
}


def spec() -> Spec:
    return spec_from_mapping(SPEC)


def frame(*, shifted: bool, seed: int) -> pd.DataFrame:
    """Decisions of a small churn model: an integer feature, a category, a flag; text times."""
    rng = np.random.default_rng(seed)
    tenure = rng.poisson(300 if shifted else 200, ROWS)  # integers, as a user's data has them
    return pd.DataFrame({
        "decision_id": [f"{'c' if shifted else 'r'}-{i}" for i in range(ROWS)],
        "timestamp": [(T0 + timedelta(minutes=7 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
                      for i in range(ROWS)],
        "tenure_days": tenure,
        "plan": rng.choice(["basic", "plus", "pro"], ROWS),
        "is_new": tenure < 150,
        "score": rng.uniform(0, 1, ROWS).round(4),
    })


def write(df: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        df.to_csv(path, index=False)
    elif path.suffix == ".jsonl":
        df.to_json(path, orient="records", lines=True)
    else:
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
    return path


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return {"reference": frame(shifted=False, seed=1), "current": frame(shifted=True, seed=2)}


@pytest.fixture(scope="module")
def parquet(frames: dict[str, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> Comparison:
    root = tmp_path_factory.mktemp("parquet")
    return compare_files(spec(), [write(frames["reference"], root / "reference.parquet")],
                         [write(frames["current"], root / "current.parquet")])


def test_integer_features_and_text_timestamps_in_parquet_compare(parquet: Comparison) -> None:
    assert parquet.reference.n == parquet.current.n == ROWS
    assert "tenure_days" in parquet.drifted and "plan" not in parquet.drifted
    assert parquet.skipped == {"reference": {}, "current": {}}


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_csv_and_json_lines_compare_as_the_same_rows_in_parquet(
    frames: dict[str, pd.DataFrame], parquet: Comparison, tmp_path: Path, suffix: str
) -> None:
    got = compare_files(spec(), [write(frames["reference"], tmp_path / f"reference{suffix}")],
                        [write(frames["current"], tmp_path / f"current{suffix}")])
    assert (got.reference, got.current) == (parquet.reference, parquet.current)
    assert got.drifted == parquet.drifted


def test_a_directory_of_mixed_formats_is_one_side(
    frames: dict[str, pd.DataFrame], parquet: Comparison, tmp_path: Path
) -> None:
    current = frames["current"]
    side = tmp_path / "current"
    side.mkdir()
    write(current.iloc[:1000], side / "a.csv")
    write(current.iloc[1000:2000], side / "b.jsonl")
    write(current.iloc[2000:], side / "c.parquet")
    (side / "notes.txt").write_text("not decisions")  # not a format ingest reads: ignored
    got = compare_files(spec(), [write(frames["reference"], tmp_path / "r.parquet")], [side])
    assert got.current == parquet.current


@pytest.mark.parametrize("kind", ["pandas", "polars", "arrow", "rows"])
def test_tables_in_python_compare_as_their_files_do(
    frames: dict[str, pd.DataFrame], parquet: Comparison, kind: str
) -> None:
    def convert(df: pd.DataFrame) -> Any:
        return {"pandas": lambda: df, "polars": lambda: pl.from_pandas(df),
                "arrow": lambda: pa.Table.from_pandas(df, preserve_index=False),
                "rows": lambda: df.to_dict(orient="records")}[kind]()

    got = compare_tables(spec(), convert(frames["reference"]), convert(frames["current"]))
    assert (got.reference, got.current) == (parquet.reference, parquet.current)


def test_invalid_rows_are_skipped_counted_and_the_rest_compared(
    frames: dict[str, pd.DataFrame], parquet: Comparison, tmp_path: Path
) -> None:
    current = frames["current"].astype({"tenure_days": object, "timestamp": object})
    bad = pd.DataFrame([{**current.iloc[0].to_dict(), "decision_id": "bad-1", "tenure_days": "lots"},
                        {**current.iloc[0].to_dict(), "decision_id": "bad-2", "timestamp": "soon"}])
    path = tmp_path / "current.csv"
    pd.concat([current, bad]).to_csv(path, index=False)
    got = compare_files(spec(), [write(frames["reference"], tmp_path / "r.csv")], [path])
    assert got.current == parquet.current  # the two bad rows are not in it
    assert sum(got.skipped["current"].values()) == 2
    assert {reason.split(":")[0] for reason in got.skipped["current"]} == {"tenure_days", "timestamp"}


# --- the command ------------------------------------------------------------------------------


def run(tmp_path: Path, reference: Path, current: Path, *extra: str) -> Any:
    spec_path = tmp_path / "loopwatch.yaml"
    spec_path.write_text(yaml.safe_dump(SPEC))
    result = CliRunner().invoke(app, ["compare", "--spec", str(spec_path), "--reference",
                                      str(reference), "--current", str(current), *extra])
    assert "Traceback" not in result.output and "unexpected" not in result.output, result.output
    return result


def test_the_command_compares_csv_and_warns_about_skipped_rows(
    frames: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    reference = write(frames["reference"], tmp_path / "reference.csv")
    current = tmp_path / "current.csv"
    with open(current, "w") as handle:
        handle.write(frames["current"].to_csv(index=False))
        handle.write("x-1,2026-03-02T00:00:00Z,many,basic,False,0.5\n")
    drifted = run(tmp_path, reference, current, "--format", "json")
    assert drifted.exit_code == 1, drifted.output
    report = json.loads(drifted.stdout)
    assert "tenure_days" in report["drifted"] and report["current"]["rows"] == ROWS
    assert report["skipped"]["current"] == {"tenure_days: expected a number": 1}
    assert "warning: 1 current rows skipped as invalid: tenure_days: expected a number" in drifted.stderr
    same = run(tmp_path, reference, reference)
    assert same.exit_code == 0, same.output


def test_bad_inputs_exit_2_naming_the_file_and_the_column(
    frames: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    reference = write(frames["reference"], tmp_path / "reference.csv")
    no_score = write(frames["current"].drop(columns=["score"]), tmp_path / "no_score.csv")
    no_feature = write(frames["current"].drop(columns=["plan"]), tmp_path / "no_feature.jsonl")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(256)) * 40)
    unknown = tmp_path / "decisions.xlsx"
    unknown.write_bytes(b"PK\x03\x04")
    all_bad = tmp_path / "all_bad.jsonl"
    all_bad.write_text("\n".join(json.dumps({"decision_id": f"d{i}", "timestamp": "never",
                                             "tenure_days": 1, "plan": "basic", "is_new": True,
                                             "score": 0.5}) for i in range(5)))
    broken_parquet = tmp_path / "broken.parquet"
    broken_parquet.write_bytes(b"PAR1 this is not parquet")
    for current, names in [
        (no_score, ["no_score.csv", "'score'"]),
        (no_feature, ["no_feature.jsonl", "'plan'"]),
        (binary, ["binary.csv", "UTF-8"]),
        (unknown, ["decisions.xlsx", "'.xlsx'"]),
        (all_bad, ["all_bad.jsonl", "timestamp", "hold no decision"]),
        (broken_parquet, ["broken.parquet", "Parquet"]),
        (tmp_path / "missing.csv", ["missing.csv"]),
    ]:
        result = run(tmp_path, reference, current)
        assert result.exit_code == 2, (current, result.output)
        for name in names:
            assert name in result.stderr, (current, name, result.stderr)


def test_compare_tables_refuses_what_is_not_a_table() -> None:
    with pytest.raises(InputError, match="cannot read a set as a table"):
        compare_tables(spec(), {1, 2}, {3})



def test_typed_parquet_read_in_place_compares_as_validated_rows_do(
    frames: dict[str, pd.DataFrame], parquet: Comparison, tmp_path: Path
) -> None:
    # timestamps as timestamps (with a zone) and integers as integers: DuckDB reads these
    # files in place; the fixture's text timestamps went through the validator
    paths = {}
    for side, df in frames.items():
        typed = df.assign(timestamp=pd.to_datetime(df["timestamp"], utc=True))
        table = pa.Table.from_pandas(typed, preserve_index=False)
        assert pa.types.is_integer(table.schema.field("tenure_days").type)
        paths[side] = tmp_path / f"{side}.parquet"
        pq.write_table(table, paths[side])
    from loopwatch.monitoring.compare import _needed
    from loopwatch.monitoring.compare_inputs import _typed_parquet, comparison_schema

    schema = comparison_schema(spec())
    assert _typed_parquet([paths["current"]], schema, _needed(spec())) is not None  # in place
    got = compare_files(spec(), [paths["reference"]], [paths["current"]])
    assert (got.reference, got.current) == (parquet.reference, parquet.current)
    assert got.drifted == parquet.drifted
