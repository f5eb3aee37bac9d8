"""Laws of the writer under arbitrary input: no crash, bad rows quarantined, good rows once."""

from __future__ import annotations

import json
import math
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopwatch.core.schema import decision_schema
from loopwatch.core.spec import spec_from_mapping
from loopwatch.storage.parquet_store import ParquetStore

SPEC = spec_from_mapping({
    "model": "fraud",
    "features": [
        {"name": "amount", "dtype": "numeric"},
        {"name": "country", "dtype": "categorical"},
        {"name": "new_user", "dtype": "boolean"},
    ],
    "cohorts": ["region"],
})
SCHEMA = decision_schema(SPEC)
START = datetime(2026, 3, 1, tzinfo=UTC)
PROPERTY = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# --- values that are valid for a column, with the value they are stored as -------------

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
good_number = st.one_of(
    finite.map(lambda x: (x, x)),
    st.integers(-(2**53), 2**53).map(lambda i: (i, float(i))),
    finite.map(lambda x: (repr(x), x)),
    st.just((math.nan, None)),
    st.just((None, None)),
)
# a score is a probability: the spec's default score range is [0, 1]
unit = st.floats(0, 1)
good_score = st.one_of(unit.map(lambda x: (x, x)), unit.map(lambda x: (str(x), x)))
good_text = st.one_of(
    st.text(max_size=8).map(lambda s: (s, s)),
    st.just(("NA", "NA")),
    st.integers(-1000, 1000).map(lambda i: (i, str(i))),
    st.just((None, None)),
)
good_bool = st.sampled_from([
    (True, True), (False, False), ("true", True), ("1", True), ("no", False), ("F", False),
    (1, True), (0, False), (None, None),
])
good_time = st.integers(0, 10 * 24 * 3600).map(lambda s: START + timedelta(seconds=s)).flatmap(
    lambda t: st.sampled_from([(t, t), (t.isoformat(), t),
                               (t.replace(tzinfo=None), t),  # naive: the spec's zone is UTC
                               (t.isoformat().replace("+00:00", "Z"), t)]))

GOOD = {"amount": good_number, "country": good_text, "new_user": good_bool,
        "region": good_text, "score": good_score, "timestamp": good_time}

# --- values that are never valid for a column ------------------------------------------

junk = st.one_of(
    st.lists(st.integers(), min_size=1, max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), min_size=1, max_size=2),
    st.binary(min_size=1, max_size=4).map(lambda b: b"\xff" + b),
)
BAD = {
    "amount": st.one_of(junk, st.sampled_from(["abc", "1,5", "", "12 apples", "--1"])),
    "score": st.one_of(junk, st.sampled_from(["high", "", "nan", None, math.nan, "inf", -math.inf]),
                       st.floats(min_value=1, exclude_min=True), st.floats(max_value=0, exclude_max=True)),
    "amount_infinite": st.sampled_from([math.inf, -math.inf, "inf", "-Infinity", "1e400"]),
    "new_user": st.one_of(junk, st.sampled_from(["maybe", "2", 2, -1, 0.5, "yes please"])),
    "timestamp": st.one_of(junk, st.sampled_from(
        ["yesterday", "2026-13-45T00:00:00Z", "", None, 1772323200, 1.5, math.nan])),
    "country": junk.filter(lambda v: not isinstance(v, bytes)),
    "decision_id": st.sampled_from([None, math.nan]),
    "model": st.sampled_from(["other-model", "FRAUD"]),
}
unknown_keys = st.dictionaries(st.sampled_from(["colour", "extra", "x y"]),
                               st.one_of(st.integers(), st.text(max_size=3)), max_size=2)


@st.composite
def good_row(draw: Any, i: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A valid row and the values it must be stored as."""
    row: dict[str, Any] = {"decision_id": f"d{i}"}
    want: dict[str, Any] = {"decision_id": f"d{i}"}
    for name, strategy in GOOD.items():
        if name not in ("score", "timestamp") and draw(st.booleans()):
            continue  # an optional key that is simply absent
        given_value, stored = draw(strategy)
        row[name] = given_value
        want[name] = stored
    if draw(st.booleans()):
        row["model"] = "fraud"
    row.update(draw(unknown_keys))
    return row, want


@st.composite
def bad_row(draw: Any, i: int) -> dict[str, Any]:
    row, _ = draw(good_row(i))
    broken = draw(st.lists(st.sampled_from(sorted(BAD)), min_size=1, max_size=3, unique=True))
    for name in broken:
        row[name.removesuffix("_infinite")] = draw(BAD[name])
    if draw(st.integers(0, 4)) == 0:
        del row[draw(st.sampled_from(["decision_id", "timestamp", "score"]))]
    return row


@st.composite
def batch(draw: Any) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]], int]:
    """Rows in random order: valid ones (some resent), invalid ones; the valid expectations."""
    n_good, n_bad = draw(st.integers(0, 12)), draw(st.integers(0, 12))
    rows, expected = [], {}
    for i in range(n_good):
        row, want = draw(good_row(i))
        rows.append(row)
        expected[want["decision_id"]] = want
        if draw(st.integers(0, 3)) == 0:
            rows.append(dict(row))  # resent in the same batch
    rows += [draw(bad_row(1000 + i)) for i in range(n_bad)]
    order = draw(st.permutations(range(len(rows))))
    return [rows[i] for i in order], expected, n_bad


def same(stored: Any, want: Any) -> bool:
    if isinstance(want, float) and isinstance(stored, float):
        return stored == want or (math.isnan(stored) and math.isnan(want))
    return bool(stored == want)


def check_store(store: ParquetStore, expected: dict[str, dict[str, Any]], n_bad: int) -> None:
    rows = store.read("decisions").to_pylist()
    assert Counter(r["decision_id"] for r in rows) == Counter(set(expected))  # each once
    for row in rows:
        want = expected[row["decision_id"]]
        for name in GOOD:
            assert same(row[name], want.get(name)), (name, row[name], want.get(name))
    quarantine = store.read("quarantine").to_pylist()
    assert len(quarantine) == n_bad
    for entry in quarantine:
        assert entry["kind"] == "decisions"
        assert entry["source"] == "prop"
        column = entry["reason"].split(":")[0]
        assert column in {*GOOD, "decision_id", "model"}, entry["reason"]
        assert isinstance(json.loads(entry["row"]), dict)


@PROPERTY
@given(batch())
def test_arbitrary_rows_never_crash_the_writer_and_every_good_row_is_read_once(
    case: tuple[list[dict[str, Any]], dict[str, dict[str, Any]], int],
) -> None:
    rows, expected, n_bad = case
    with tempfile.TemporaryDirectory() as root:
        store = ParquetStore(root, spec=SPEC)
        result = store.write("decisions", SCHEMA.conform_rows(rows, source="prop"))
        assert result.written == len(expected)
        assert result.quarantined == n_bad
        assert result.duplicates == len(rows) - n_bad - len(expected)
        assert sum(result.reasons.values()) == n_bad
        check_store(store, expected, n_bad)
        # everything resent, in two halves through another instance: nothing new lands
        again = ParquetStore(root, spec=SPEC)
        half = len(rows) // 2
        for part in (rows[:half], rows[half:]):
            if part:
                resent = again.write("decisions", SCHEMA.conform_rows(part, source="prop"))
                assert resent.written == 0
        assert again.count("decisions") == len(expected)


# --- conform (a table) and conform_rows (mappings) agree -------------------------------

# one type per column, so that Arrow can build a table of the same rows
COLUMN_KINDS = {
    "amount": [finite, st.integers(-(2**40), 2**40), st.sampled_from(["1.5", "x", " 2 ", "inf"]),
               st.sampled_from([math.nan, math.inf, -0.0]), st.booleans()],
    "country": [st.text(max_size=4), st.integers(-50, 50), st.booleans(),
                st.lists(st.integers(-9, 9), max_size=2)],
    "new_user": [st.booleans(), st.integers(-2, 3), st.sampled_from(["true", "0", "n", "x"]),
                 st.sampled_from([0.0, 1.0, 0.5, math.nan])],
    "timestamp": [
        st.integers(0, 10**6).map(lambda s: START + timedelta(seconds=s)),
        st.integers(0, 10**6).map(lambda s: (START + timedelta(seconds=s)).replace(tzinfo=None)),
        st.sampled_from(["2026-03-01T10:00:00Z", "2026-03-01 10:00:00", "soon",
                         "2026-03-01T10:00:00+05:00"]),
        st.integers(0, 10**9),
    ],
    "score": [finite, st.integers(-5, 5), st.sampled_from(["0.5", "high", "nan"])],
    "decision_id": [st.text(min_size=1, max_size=4), st.integers(0, 10**6)],
}


@st.composite
def typed_rows(draw: Any) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 10))
    columns = {}
    for name, kinds in COLUMN_KINDS.items():
        if name not in ("decision_id", "score") and draw(st.integers(0, 5)) == 0:
            continue
        kind = draw(st.sampled_from(kinds))
        columns[name] = draw(st.lists(st.one_of(st.none(), kind) if draw(st.booleans())
                                      else kind, min_size=n, max_size=n))
    return [{name: values[i] for name, values in columns.items()} for i in range(n)]


@PROPERTY
@given(typed_rows())
def test_conform_of_a_table_and_conform_rows_of_its_rows_agree(rows: list[dict[str, Any]]) -> None:
    from_rows = SCHEMA.conform_rows(rows, source="prop")
    from_table = SCHEMA.conform(pa.Table.from_pylist(rows), source="prop")
    assert from_table.table.equals(from_rows.table), (from_table.table, from_rows.table)
    assert [r.reason for r in from_table.rejected] == [r.reason for r in from_rows.rejected]
    assert from_table.table.num_rows + len(from_table.rejected) == len(rows)
