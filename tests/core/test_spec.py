"""The spec validator: valid specs load; every error names the key path, the expectation and the value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from loopwatch.core.spec import Spec, load_spec, parse_duration, spec_from_mapping
from loopwatch.errors import SpecError

EXAMPLE = Path(__file__).parents[2] / "src" / "loopwatch" / "cli" / "example_spec.yaml"


def minimal(**extra: Any) -> dict[str, Any]:
    return {"model": "m", "features": [{"name": "amount", "dtype": "numeric"}], **extra}


def error_of(data: Any) -> str:
    with pytest.raises(SpecError) as info:
        spec_from_mapping(data)
    return str(info.value)


def test_example_spec_from_init_is_valid() -> None:
    spec = load_spec(EXAMPLE)
    assert spec.model == "card-fraud"
    assert spec.feature("email").pii == "hash"
    assert spec.entities == ("merchant_category",)


def test_misspelled_dtype_names_the_path_the_choices_and_the_value() -> None:
    data = minimal(features=[{"name": f"f{i}", "dtype": "numeric"} for i in range(3)]
                   + [{"name": "f3", "dtype": "numerc"}])
    assert ("features[3].dtype: expected one of 'numeric', 'categorical' or 'boolean'; "
            "got 'numerc'") in error_of(data)


def test_misspelled_key_suggests_the_right_one() -> None:
    assert "featurs: unknown key; did you mean 'features'?" in error_of({**minimal(), "featurs": []})
    nested = minimal(features=[{"name": "a", "dtype": "numeric", "ownr": "x"}])
    assert "features[0].ownr: unknown key; did you mean 'owner'?" in error_of(nested)


def test_every_problem_is_reported_at_once() -> None:
    message = error_of(minimal(features=[{"name": "a", "dtype": "x"}, {"name": "b", "dtype": "y"}],
                               timezone="Mars/Base"))
    assert "features[0].dtype" in message
    assert "features[1].dtype" in message
    assert "timezone: expected an IANA time zone such as 'UTC'; got 'Mars/Base'" in message


def test_missing_features_is_an_error() -> None:
    assert "features: required key is missing" in error_of({"model": "m"})
    assert "at least one feature is required" in error_of(minimal(features=[]))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"features": [{"name": "a", "dtype": "numeric"}, {"name": "a", "dtype": "numeric"}]},
         "duplicate names ['a']"),
        ({"features": [{"name": "score", "dtype": "numeric"}]},
         "features[0].name: 'score' is already used by columns.score"),
        ({"cohorts": ["amount"]}, "cohorts[0]: 'amount' is a numeric feature"),
        ({"features": [{"name": "bad name", "dtype": "numeric"}]},
         "features[0].name: expected a column name"),
        ({"features": [{"name": "a", "dtype": "numeric", "importance": -1}]},
         "features[0].importance"),
        ({"reference": {"start": "2026-02-01", "end": "2026-01-01"}}, "start must be before end"),
        ({"reference": {"start": "2026-01-01"}}, "needs both start and end"),
        ({"reference": {"trailing": "a month"}},
         "reference.trailing: expected a duration like '30d'"),
        ({"model": "a/b"}, "model: expected letters, digits"),
        ({"columns": {"score": "amount"}}, "'amount' is already used by columns.score"),
    ],
)
def test_inconsistent_specs_are_rejected_with_the_reason(change: dict[str, Any], expected: str) -> None:
    assert expected in error_of({**minimal(), **change})


def test_top_level_must_be_a_mapping() -> None:
    assert "expected a mapping of keys at the top level" in error_of(["model", "m"])


def test_load_spec_reports_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"no spec at .*loopwatch init"):
        load_spec(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: m\nfeatures: [\n")
    with pytest.raises(SpecError, match=r"bad.yaml is not valid YAML at line \d+"):
        load_spec(bad)


def test_store_resolves_relative_to_the_spec_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "loopwatch.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(minimal(store="./data")))
    spec = load_spec(path)
    assert spec.store_location() == str(tmp_path / "sub" / "data")
    assert spec.store_location("/elsewhere") == "/elsewhere"


def test_spec_round_trips_through_yaml(tmp_path: Path) -> None:
    spec = load_spec(EXAMPLE)
    path = tmp_path / "again.yaml"
    path.write_text(spec.to_yaml())
    again = load_spec(path)
    assert again.model_dump(exclude={"base_dir"}) == spec.model_dump(exclude={"base_dir"})


def test_parse_duration_accepts_units_and_rejects_zero() -> None:
    assert parse_duration("12h").total_seconds() == 12 * 3600
    assert parse_duration("2w").days == 14
    with pytest.raises(ValueError, match="got '0d'"):
        parse_duration("0d")


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8),
                    st.lists(st.integers(), max_size=2))
fuzzed = st.dictionaries(
    st.sampled_from(["model", "features", "cohorts", "store", "timezone", "reference", "threshold",
                     "columns", "outcomes", "entities", "junk"]),
    st.one_of(scalars, st.lists(st.dictionaries(
        st.sampled_from(["name", "dtype", "pii", "importance", "owner", "x"]), scalars, max_size=4),
        max_size=3), st.dictionaries(st.text(max_size=6), scalars, max_size=3)),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(fuzzed)
def test_arbitrary_input_is_a_valid_spec_or_a_spec_error_with_paths(data: dict[str, Any]) -> None:
    try:
        spec = spec_from_mapping(data)
    except SpecError as exc:
        lines = str(exc).splitlines()
        assert lines[0] == "spec is invalid:" or "expected" in lines[0]
        assert all(": " in line for line in lines[1:])
    else:
        assert isinstance(spec, Spec)
        assert spec.features
