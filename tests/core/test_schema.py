"""The shared row validator: casts, NaN as null, PII rules, reasons naming column and value."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from loopwatch.core.schema import TableSchema, decision_schema, outcome_schema
from loopwatch.core.spec import Spec, spec_from_mapping

T = "2026-03-01T10:00:00Z"


@pytest.fixture
def schema(spec: Spec) -> TableSchema:
    return decision_schema(spec)


def row(**values: Any) -> dict[str, Any]:
    return {"decision_id": "a", "timestamp": T, "score": 0.5, **values}


def stored(schema: TableSchema, **values: Any) -> dict[str, Any]:
    result = schema.conform_rows([row(**values)], source="test")
    assert not result.rejected, result.rejected[0].reason
    (out,) = result.table.to_pylist()
    return out


def reason(schema: TableSchema, **values: Any) -> str:
    result = schema.conform_rows([row(**values)], source="test")
    assert result.table.num_rows == 0
    (rejection,) = result.rejected
    assert rejection.source == "test"
    return rejection.reason


def test_stored_schema_puts_model_first_and_requires_id_time_and_score(
    schema: TableSchema,
) -> None:
    assert schema.arrow.names[:3] == ["model", "decision_id", "timestamp"]
    assert schema.required == ("decision_id", "timestamp", "score")
    assert schema.arrow.field("amount").type == pa.float64()
    assert schema.arrow.field("new_user").type == pa.bool_()
    assert schema.arrow.field("timestamp").type == pa.timestamp("us", tz="UTC")


@pytest.mark.parametrize("nan", [math.nan, float("nan"), "nan", "NaN"])
def test_nan_is_stored_as_null(schema: TableSchema, nan: Any) -> None:
    assert stored(schema, amount=nan)["amount"] is None


def test_nan_in_an_arrow_column_is_stored_as_null(schema: TableSchema) -> None:
    table = pa.table({"decision_id": ["a", "b"], "timestamp": [T, T], "score": [0.1, 0.2],
                      "amount": [math.nan, 3.0], "new_user": [math.nan, 1.0]})
    result = schema.conform(table, source="test")
    assert result.table.column("amount").to_pylist() == [None, 3.0]
    assert result.table.column("new_user").to_pylist() == [None, True]


@pytest.mark.parametrize(("given", "expected"), [
    ("true", True), ("1", True), ("yes", True), (" TRUE ", True), (1, True), (True, True),
    ("false", False), ("0", False), ("no", False), (0, False), (0.0, False), (False, False),
])
def test_booleans_are_read_from_strings_and_zero_or_one(
    schema: TableSchema, given: Any, expected: bool
) -> None:
    assert stored(schema, new_user=given)["new_user"] is expected


@pytest.mark.parametrize("given", [2, -1, 0.5, "maybe", "2"])
def test_other_values_are_not_booleans(schema: TableSchema, given: Any) -> None:
    assert reason(schema, new_user=given) == f"new_user: expected true or false; got {given!r}"


def test_booleans_from_an_integer_column_accept_only_zero_and_one(schema: TableSchema) -> None:
    table = pa.table({"decision_id": ["a", "b", "c"], "timestamp": [T] * 3,
                      "score": [0.1] * 3, "new_user": [0, 1, 2]})
    result = schema.conform(table, source="test")
    assert result.table.column("new_user").to_pylist() == [False, True]
    assert [r.reason for r in result.rejected] == ["new_user: expected true or false; got 2"]


@pytest.mark.parametrize(("given", "expected"), [(7, "7"), (-3, "-3"), (True, "true"),
                                                 ("NA", "NA"), (2.5, "2.5")])
def test_categoricals_are_read_from_numbers_as_text(
    schema: TableSchema, given: Any, expected: str
) -> None:
    assert stored(schema, country=given)["country"] == expected


def test_categoricals_from_an_integer_column_are_text(schema: TableSchema) -> None:
    table = pa.table({"decision_id": [1, 2], "timestamp": [T, T], "score": [0.1, 0.2],
                      "country": [44, 33]})
    result = schema.conform(table, source="test")
    assert result.table.column("country").to_pylist() == ["44", "33"]
    assert result.table.column("decision_id").to_pylist() == ["1", "2"]


@pytest.mark.parametrize("missing", [None, math.nan, "nan"])
def test_score_is_required(schema: TableSchema, missing: Any) -> None:
    assert reason(schema, score=missing) == "score: required value is missing"


def test_row_without_a_score_key_is_rejected(schema: TableSchema) -> None:
    result = schema.conform_rows([{"decision_id": "a", "timestamp": T}], source="test")
    assert [r.reason for r in result.rejected] == ["score: required value is missing"]


def test_row_of_another_model_is_rejected(schema: TableSchema) -> None:
    assert reason(schema, model="churn") == (
        "model: expected 'fraud' (the spec's model); got 'churn'")
    assert stored(schema, model="fraud")["model"] == "fraud"


def test_every_stored_row_carries_the_spec_model(schema: TableSchema) -> None:
    assert stored(schema)["model"] == "fraud"


@pytest.mark.parametrize(("values", "expected"), [
    ({"amount": "abc"}, "amount: expected a number; got 'abc'"),
    ({"amount": [1, 2]}, "amount: expected a number; got [1, 2]"),
    ({"country": {"a": 1}}, "country: expected a string; got {'a': 1}"),
    ({"timestamp": "yesterday"},
     "timestamp: expected an ISO 8601 time such as 2026-01-31T12:00:00Z; got 'yesterday'"),
    ({"timestamp": 1772323200}, "timestamp: expected a time; got 1772323200"),
    ({"decision_id": None}, "decision_id: required value is missing"),
])
def test_reason_names_the_column_and_the_value(
    schema: TableSchema, values: dict[str, Any], expected: str
) -> None:
    assert reason(schema, **values) == expected


def test_long_values_are_shortened_in_the_reason(schema: TableSchema) -> None:
    text = reason(schema, amount="x" * 500)
    assert text.startswith("amount: expected a number; got 'xxx")
    assert text.endswith("...")
    assert len(text) < 120


def test_the_first_bad_column_is_the_reason_and_the_row_is_kept_whole(
    schema: TableSchema,
) -> None:
    result = schema.conform_rows([row(amount="abc", new_user="maybe", colour="red")],
                                 source="test")
    (rejection,) = result.rejected
    assert rejection.reason == "amount: expected a number; got 'abc'"
    assert rejection.row["colour"] == "red"
    assert result.unknown_columns == ("colour",)


def test_valid_rows_are_never_held_back_by_invalid_ones(schema: TableSchema) -> None:
    rows = [row(decision_id=str(i), amount="bad" if i % 2 else i) for i in range(10)]
    result = schema.conform_rows(rows, source="test")
    assert result.table.column("decision_id").to_pylist() == ["0", "2", "4", "6", "8"]
    assert len(result.rejected) == 5


def test_naive_times_are_read_in_the_spec_time_zone() -> None:
    spec = spec_from_mapping({"model": "m", "timezone": "Europe/Paris",
                              "features": [{"name": "x", "dtype": "numeric"}]})
    schema = decision_schema(spec)
    result = schema.conform_rows([
        row(timestamp="2026-01-15T10:00:00"),
        row(decision_id="b", timestamp="2026-01-15T10:00:00Z"),
        row(decision_id="c", timestamp=datetime(2026, 7, 15, 10, 0)),
    ], source="test")
    assert result.table.column("timestamp").to_pylist() == [
        datetime(2026, 1, 15, 9, tzinfo=UTC), datetime(2026, 1, 15, 10, tzinfo=UTC),
        datetime(2026, 7, 15, 8, tzinfo=UTC)]


def test_hashed_features_are_stored_and_quarantined_as_their_keyed_hash() -> None:
    spec = spec_from_mapping({"model": "m", "features": [
        {"name": "email", "dtype": "categorical", "pii": "hash"},
        {"name": "ssn", "dtype": "categorical", "pii": "drop"},
        {"name": "x", "dtype": "numeric"}]})
    schema = decision_schema(spec, pii_key=b"k")
    result = schema.conform_rows([row(email="a@b.c", ssn="1"),
                                  row(decision_id="b", email="a@b.c", ssn="2", x="bad")],
                                 source="test")
    (good,) = result.table.to_pylist()
    assert "ssn" not in good
    assert good["email"] != "a@b.c"
    (rejection,) = result.rejected
    assert "ssn" not in rejection.row
    assert rejection.row["email"] == good["email"]
    other_key = decision_schema(spec, pii_key=b"other").conform_rows([row(email="a@b.c")],
                                                                     source="test")
    assert other_key.table.column("email").to_pylist() != [good["email"]]


def test_hashed_feature_without_a_key_cannot_be_validated() -> None:
    spec = spec_from_mapping({"model": "m", "features": [
        {"name": "email", "dtype": "categorical", "pii": "hash"}]})
    with pytest.raises(ValueError, match=r"\['email'\] have pii: hash.*LOOPWATCH_PII_KEY"):
        decision_schema(spec).conform_rows([row(email="a@b.c")], source="test")


def test_outcomes_require_id_observed_time_and_label(spec: Spec) -> None:
    schema = outcome_schema(spec)
    assert schema.required == ("decision_id", "observed_at", "label")
    result = schema.conform_rows([
        {"decision_id": "a", "observed_at": T, "label": "1", "value": "12.5"},
        {"decision_id": "b", "observed_at": T},
    ], source="test")
    assert result.table.to_pylist() == [{"model": "fraud", "decision_id": "a",
                                         "observed_at": datetime(2026, 3, 1, 10, tzinfo=UTC),
                                         "label": True, "value": 12.5}]
    assert [r.reason for r in result.rejected] == ["label: required value is missing"]


def test_a_number_among_times_is_not_read_as_microseconds(schema: TableSchema) -> None:
    t = datetime(2026, 3, 1, tzinfo=UTC)
    result = schema.conform_rows([row(timestamp=t), row(decision_id="b", timestamp=1772323200)],
                                 source="test")
    assert result.table.column("decision_id").to_pylist() == ["a"]
    assert [r.reason for r in result.rejected] == ["timestamp: expected a time; got 1772323200"]


def test_text_among_bytes_is_still_read_as_text(schema: TableSchema) -> None:
    result = schema.conform_rows([row(amount="1.5"), row(decision_id="b", amount=b"\xff")],
                                 source="test")
    assert result.table.column("amount").to_pylist() == [1.5]
    assert [r.reason for r in result.rejected] == [r"amount: expected a number; got b'\xff'"]
