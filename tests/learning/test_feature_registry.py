"""The feature registry: the spec's keys validate with key paths, and each flag is raised when due and
only then (PII in clear and broken expectations read from stored rows)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from loopwatch.core.spec import Spec, load_spec, spec_from_mapping
from loopwatch.errors import SpecError
from loopwatch.learning.feature_registry import feature_report
from loopwatch.storage.parquet_store import ParquetStore

KEY = b"k" * 32


def _spec(**extra: Any) -> Spec:
    return spec_from_mapping({
        "model": "fraud",
        "features": [
            {"name": "amount", "dtype": "numeric", "owner": "payments", "importance": 0.5,
             "source": "card-network", "cost": {"latency_ms": 1.5, "price_per_call": 0.0002},
             "expectations": {"min": 0, "max": 1000, "max_missing_rate": 0.2}},
            {"name": "country", "dtype": "categorical", "owner": "geo", "importance": 0.2,
             "expectations": {"allowed_values": ["DE", "FR", "US"]}},
            {"name": "email", "dtype": "categorical", "owner": "identity", "pii": "hash",
             "importance": 0.1},
            {"name": "amount_ratio", "dtype": "numeric", "owner": "payments", "importance": 0.1,
             "derived_from": ["amount", "ledger"]},
        ],
        "cohorts": ["region"],
        **extra,
    })


def _rows(n: int, **override: Any) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        rows.append({"decision_id": f"d{i}", "timestamp": f"2026-03-0{1 + i % 5}T10:00:00Z",
                     "score": 0.1, "amount": float(i), "country": ["DE", "FR", "US"][i % 3],
                     "email": f"user{i}@example.com", "amount_ratio": 1.0, "region": "EU", **override})
    return rows


def _store(tmp_path: Path, spec: Spec, rows: list[dict[str, Any]]) -> ParquetStore:
    store = ParquetStore(tmp_path / "store", spec=spec, pii_key=KEY)
    assert store.ingest("decisions", pa.Table.from_pylist(rows), source="test").written == len(rows)
    return store


def test_a_spec_without_the_registry_keys_still_loads_and_writes_none_of_them(tmp_path: Path) -> None:
    spec = spec_from_mapping({"model": "m", "features": [{"name": "x", "dtype": "numeric"}]})
    assert spec.features[0].cost.latency_ms is None and spec.features[0].derived_from == ()
    path = tmp_path / "loopwatch.yaml"
    path.write_text(spec.to_yaml())
    assert "expectations" not in path.read_text() and "derived_from" not in path.read_text()
    assert load_spec(path).features == spec.features


def test_the_registry_keys_round_trip_through_yaml(tmp_path: Path) -> None:
    spec = _spec()
    path = tmp_path / "loopwatch.yaml"
    path.write_text(spec.to_yaml())
    assert load_spec(path).features == spec.features


@pytest.mark.parametrize("feature,message", [
    ({"cost": {"latency_ms": -1}}, "features[0].cost.latency_ms: Input should be greater than or equal to 0"),
    ({"expectations": {"min": 5, "max": 1}}, "features[0].expectations: min must not exceed max"),
    ({"expectations": {"mn": 0}}, "features[0].expectations.mn: unknown key; did you mean 'min'?"),
    ({"expectations": {"allowed_values": ["a"]}}, "allowed_values apply to categorical and boolean"),
    ({"expectations": {"max_missing_rate": 1.5}}, "features[0].expectations.max_missing_rate"),
    ({"deprecated_after": "soon"}, "features[0].deprecated_after: Input should be a valid date"),
    ({"derived_from": ["x"]}, "'x' cannot be derived from itself"),
])
def test_a_bad_registry_key_is_an_error_naming_its_path(feature: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match="spec is invalid") as caught:
        spec_from_mapping({"model": "m", "features": [{"name": "x", "dtype": "numeric", **feature}]})
    assert message in str(caught.value)


def test_features_deriving_from_each_other_in_a_cycle_are_an_error() -> None:
    with pytest.raises(SpecError, match="derived_from goes round in a cycle: a -> b -> c -> a"):
        spec_from_mapping({"model": "m", "features": [
            {"name": "a", "dtype": "numeric", "derived_from": ["b"]},
            {"name": "b", "dtype": "numeric", "derived_from": ["c", "raw"]},
            {"name": "c", "dtype": "numeric", "derived_from": ["a"]}]})


def test_a_healthy_registry_raises_no_flag(tmp_path: Path) -> None:
    spec = _spec()
    report = feature_report(spec, today=date(2026, 3, 10), source=_store(tmp_path, spec, _rows(50)))
    assert report.flags == () and report.exit_code == 0
    assert report.rows == 50 and set(report.checked) == {"amount", "country", "email", "amount_ratio"}


def test_missing_owner_and_passed_deprecation_are_flagged_on_the_day_after() -> None:
    spec = spec_from_mapping({"model": "m", "features": [
        {"name": "old", "dtype": "numeric", "importance": 0.3, "deprecated_after": "2026-03-01"}]})
    on_the_day = feature_report(spec, today=date(2026, 3, 1))
    after = feature_report(spec, today=date(2026, 3, 2))
    assert [f.kind for f in on_the_day.flags] == ["missing_owner"]
    assert [f.kind for f in after.flags] == ["missing_owner", "deprecated"]
    assert "1 days ago" in after.flags[1].message and after.exit_code == 1


def test_without_a_model_registry_a_feature_is_used_when_important_a_cohort_or_a_parent() -> None:
    spec = spec_from_mapping({"model": "m", "cohorts": ["device"], "features": [
        {"name": "zero", "dtype": "numeric", "owner": "o", "importance": 0},
        {"name": "absent", "dtype": "numeric", "owner": "o"},
        {"name": "device", "dtype": "categorical", "owner": "o"},
        {"name": "parent", "dtype": "numeric", "owner": "o"},
        {"name": "child", "dtype": "numeric", "owner": "o", "importance": 0.4, "derived_from": ["parent"]}]})
    report = feature_report(spec, today=date(2026, 3, 1))
    assert [(f.feature, f.kind) for f in report.flags] == [("zero", "unused"), ("absent", "unused")]


def test_with_a_model_registry_a_feature_no_version_uses_is_unused() -> None:
    spec = _spec()
    report = feature_report(spec, today=date(2026, 3, 1),
                            model_features={"v1": ["amount", "country"], "v2": ["amount", "email"]})
    assert [(f.feature, f.kind) for f in report.flags] == [("amount_ratio", "unused")]
    assert report.used_by is not None and report.used_by["amount"] == ("v1", "v2")
    assert report.to_dict()["features"][0]["used_by"] == ["v1", "v2"]


def test_a_hashed_feature_stored_in_clear_is_flagged(tmp_path: Path) -> None:
    # a warehouse table or an older writer may have stored the address itself
    plain = spec_from_mapping({**_spec().model_dump(mode="json", exclude={"base_dir"}),
                               "features": [{**f.model_dump(mode="json"), "pii": "none"}
                                            for f in _spec().features]})
    digest = [hmac.new(KEY, r["email"].encode(), hashlib.sha256).hexdigest() for r in _rows(30)]
    rows = [{**r, "email": d} for r, d in zip(_rows(30), digest, strict=True)] + \
        [{**r, "decision_id": f"c{i}"} for i, r in enumerate(_rows(4))]
    store = _store(tmp_path, plain, rows)
    report = feature_report(_spec(), today=date(2026, 3, 10), source=ParquetStore(store.root, spec=_spec(),
                                                                                  pii_key=KEY))
    assert [(f.feature, f.kind) for f in report.flags] == [("email", "pii_in_clear")]
    assert "4 of 34 recent values are not HMAC digests" in report.flags[0].message


def test_broken_expectations_are_flagged_with_the_values_that_broke_them(tmp_path: Path) -> None:
    spec = _spec()
    rows = _rows(40) + [{**r, "decision_id": f"x{i}", "amount": None if i % 2 else 5000.0,
                         "country": "XX" if i < 3 else "YY"} for i, r in enumerate(_rows(12))]
    report = feature_report(spec, today=date(2026, 3, 10), source=_store(tmp_path, spec, rows))
    # 6 of 52 amounts are missing (11.5%), under the 20% allowed: not flagged
    assert [(f.feature, f.kind) for f in report.flags] == [("amount", "expectation"),
                                                           ("country", "expectation")]
    assert report.flags[0].message == "recent values span 0 to 5000; expected 0 to 1000"
    assert report.flags[1].message == "12 recent values are not among allowed_values (e.g. 'YY', 'XX')"


def test_the_missing_rate_is_flagged_above_its_limit_only(tmp_path: Path) -> None:
    spec = _spec()
    rows = _rows(30) + [{**r, "decision_id": f"m{i}", "amount": None} for i, r in enumerate(_rows(10))]
    report = feature_report(spec, today=date(2026, 3, 10), source=_store(tmp_path, spec, rows))
    assert [f.message for f in report.flags] == ["25.00% of recent values missing; at most 20.00% expected"]
    rows = _rows(32) + [{**r, "decision_id": f"m{i}", "amount": None} for i, r in enumerate(_rows(8))]
    report = feature_report(spec, today=date(2026, 3, 10), source=_store(tmp_path / "b", spec, rows))
    assert report.flags == ()


def test_only_the_recent_days_are_read(tmp_path: Path) -> None:
    spec = _spec()
    old = [{**r, "decision_id": f"o{i}", "timestamp": "2026-01-05T10:00:00Z", "amount": 99999.0}
           for i, r in enumerate(_rows(5))]
    report = feature_report(spec, today=date(2026, 3, 10), source=_store(tmp_path, spec, _rows(20) + old),
                            days=7)
    assert report.flags == () and report.rows == 20
    assert report.window is not None and report.window.end.date() == date(2026, 3, 6)
