"""Scores outside the spec's range and numbers that are not finite never reach the store.

A new user's store took three scores outside [0, 1] (one was 250) and stretched the
reference's score bins with them; one ``inf`` made evaluation crash. Now such a row is
quarantined with its reason at every entry point, and the store evaluates exactly as
it would without it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopwatch.core.schema import decision_schema
from loopwatch.core.spec import spec_from_mapping
from loopwatch.evaluation.report import evaluate
from loopwatch.storage.ingest import ingest_file, ingest_table
from loopwatch.storage.parquet_store import ParquetStore
from loopwatch.storage.profile_history import ProfileHistory

BAD = [
    ({"score": 250.0}, "score: 250.0 is outside the score range [0, 1]"),
    ({"score": -0.3}, "score: -0.3 is outside the score range [0, 1]"),
    ({"score": 1.0000001}, "score: 1.0000001 is outside the score range [0, 1]"),
    ({"score": math.inf}, "score: expected a finite number; got inf"),
    ({"score": -math.inf}, "score: expected a finite number; got -inf"),
    ({"tenure": math.inf}, "tenure: expected a finite number; got inf"),
    ({"spend": -math.inf}, "spend: expected a finite number; got -inf"),
]


def _bad_rows(good: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy of a reference-day row per bad value, under new ids."""
    out = []
    for i, (change, _) in enumerate(BAD):
        row = {**good[3 * i + 1], **change, "decision_id": f"bad{i}"}
        out.append(row)
    return out


def _store(tmp_path: Path, name: str, churn: Any) -> ParquetStore:
    spec = spec_from_mapping(churn.spec, base_dir=tmp_path)
    return ParquetStore(tmp_path / name, spec=spec)


def _evaluation(store: ParquetStore) -> dict[str, Any]:
    report = evaluate(store.spec, store=store)
    return report.to_dict()


def test_a_store_given_bad_scores_evaluates_as_the_store_without_them(tmp_path: Path, churn: Any) -> None:
    rows = churn.decisions()
    clean, dirty = _store(tmp_path, "clean", churn), _store(tmp_path, "dirty", churn)
    ingest_table(clean, "decisions", rows)
    ingest_table(clean, "outcomes", churn.outcomes(rows))
    bad = _bad_rows(rows)
    # the bad rows arrive mixed with good ones, through a file and through a table
    path = tmp_path / "decisions.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows[:500] + bad[:4]))
    report = ingest_file(dirty, "decisions", path)
    assert (report.result.written, report.result.quarantined) == (500, 4)
    report = ingest_table(dirty, "decisions", pa.Table.from_pylist(rows[500:] + bad[4:]))
    assert (report.result.written, report.result.quarantined) == (len(rows) - 500, 3)
    ingest_table(dirty, "outcomes", churn.outcomes(rows + bad))
    assert dirty.count("decisions") == clean.count("decisions") == len(rows)
    reasons = sorted(r["reason"] for r in dirty.read("quarantine").to_pylist())
    assert len(reasons) == len(BAD)
    for got, expected in zip(reasons, sorted(reason for _, reason in BAD), strict=True):
        assert got.startswith(expected)
    assert ProfileHistory(dirty).binning() == ProfileHistory(clean).binning()
    assert _evaluation(dirty) == _evaluation(clean)


def test_score_range_is_the_specs(tmp_path: Path, churn: Any) -> None:
    spec = spec_from_mapping({**churn.spec, "inputs": {"score_range": [-10, 10]}})
    conformed = decision_schema(spec).conform_rows(
        [{**churn.decisions(days=1)[0], "score": 7.5}, {**churn.decisions(days=1)[1], "score": 10.5}],
        source="test")
    assert conformed.table.column("score").to_pylist() == [7.5]
    assert [r.reason for r in conformed.rejected] == [
        "score: 10.5 is outside the score range [-10, 10] (the spec's inputs.score_range)"]


def test_an_undeclared_score_range_takes_any_finite_score_and_its_bins_resist_outliers(
        tmp_path: Path, churn: Any) -> None:
    spec = spec_from_mapping({**churn.spec, "inputs": {"score_range": None},
                              "reference": {"trailing": "40d"}}, base_dir=tmp_path)
    store = ParquetStore(tmp_path / "store", spec=spec)
    rows = churn.decisions()
    # a margin, not a probability: over 1,000 distinct values, and one far outlier
    for k, row in enumerate(rows):
        row["score"] = k / 140 - 5
    rows[5]["score"] = 1e6
    ingest_table(store, "decisions", rows)
    assert store.count("decisions") == len(rows)
    edges = ProfileHistory(store).binning().score
    assert len(edges) == 999  # 1,000 equal bins: too many distinct scores for one bin each
    # the outlier falls in the last bin; it does not stretch the others
    assert edges[0] >= -5 and edges[-1] <= 5


def test_the_spec_refuses_a_score_range_that_is_not_one(churn: Any) -> None:
    from loopwatch.errors import SpecError

    for bad, why in (([1, 0], "expected low < high"), ([0, math.inf], "finite")):
        with pytest.raises(SpecError, match=r"inputs\.score_range") as info:
            spec_from_mapping({**churn.spec, "inputs": {"score_range": bad}})
        assert why in str(info.value)


@settings(max_examples=60, deadline=None)
@given(scores=st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                                 st.sampled_from(["inf", "-inf", "Infinity", "nan", "1e400", "0.5",
                                                  "2"])),
                       min_size=1, max_size=20))
def test_no_stored_score_is_out_of_range_or_infinite(scores: list[Any], churn: Any) -> None:
    spec = spec_from_mapping(churn.spec)
    base = churn.decisions(days=1)[0]
    rows = [{**base, "decision_id": f"r{i}", "score": s} for i, s in enumerate(scores)]
    for conformed in (decision_schema(spec).conform_rows(rows, source="t"),
                      decision_schema(spec).conform(
                          pa.table({"decision_id": [r["decision_id"] for r in rows],
                                    "timestamp": [base["timestamp"]] * len(rows),
                                    "score": [str(s) for s in scores]}), source="t")):
        stored = conformed.table.column("score").to_pylist()
        assert all(math.isfinite(s) and 0 <= s <= 1 for s in stored)
        assert len(stored) + len(conformed.rejected) == len(rows)
        for rejection in conformed.rejected:
            assert rejection.reason.startswith("score: ")
