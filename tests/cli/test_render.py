"""How the command shows results: numbers, tables that fit the width, cohort order, JSON."""

from __future__ import annotations

import io
import json
import random
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

from loopwatch.cli import render
from loopwatch.cli.cohorts import choose_rows, natural_key
from loopwatch.core.findings import Finding, Severity
from loopwatch.core.profile import ALL, Cohort


def rendered(tables: list[Table], width: int) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    for table in tables:
        console.print(table)
    return console.export_text()


def test_numbers_rates_and_intervals_have_one_format_each() -> None:
    assert [render.count(n) for n in (0, 7, 253_519)] == ["0", "7", "253,519"]
    assert [render.percent(x) for x in (0.35712, 0.0107, 0.0048, 0.000512, 1.0)] == [
        "35.7%", "1.07%", "0.480%", "0.0512%", "100.0%"]
    assert [render.number(x) for x in (0.45351, 212.43, 346_312.7, 6.87e-05, -0.5)] == [
        "0.4535", "212.4", "346,300", "6.870e-05", "-0.5"]
    assert [render.number(x) for x in (float("nan"), float("inf"), None)] == ["-", "-", "-"]
    assert render.interval(0.7254, 0.76) == "0.725–0.760"
    assert render.interval(0.328, 0.393, render.percent) == "32.8%–39.3%"
    assert render.interval(-0.000976, 0.004833) == "-0.000976 to 0.00483"
    assert render.interval(float("nan"), 1.0) == "-"


def test_a_wide_table_is_split_by_columns_repeating_the_key_column() -> None:
    columns = [render.Column("cohort", "left", key=True), *(render.Column(f"metric {i}") for i in range(8))]
    rows = [[f"region=R{r}", *(f"0.{r}{i}12345" for i in range(8))] for r in range(5)]
    narrow = render.table(columns, rows, width=80)
    wide = render.table(columns, rows, width=200)
    assert len(wide) == 1 and len(narrow) > 1
    assert all(part.columns[0].header == "cohort" for part in narrow)
    assert [c.header for part in narrow for c in part.columns[1:]] == [f"metric {i}" for i in range(8)]
    text = rendered(narrow, 80)
    assert max(cell_len(line) for line in text.splitlines()) <= 80
    assert all(cell in text for row in rows for cell in row)


@settings(max_examples=40, deadline=None)
@given(width=st.integers(60, 200), n_columns=st.integers(1, 12),
       cells=st.lists(st.text("abcdefghij0123456789.,%", min_size=1, max_size=12), min_size=12, max_size=12))
def test_tables_fit_the_width_and_lose_no_value(width: int, n_columns: int, cells: list[str]) -> None:
    columns = [render.Column("name", "left", key=True),
               *(render.Column(f"header number {i}") for i in range(n_columns))]
    rows = [[f"row{r}", *(cells[(r + i) % len(cells)] for i in range(n_columns))] for r in range(3)]
    text = rendered(render.table(columns, rows, width=width), width)
    assert max(cell_len(line) for line in text.splitlines()) <= width
    assert "…" not in text
    assert all(cell in text for row in rows for cell in row)


def test_a_text_column_wraps_between_words_instead_of_splitting_the_table() -> None:
    columns = [render.Column("incident", "left", key=True), render.Column("onset", "left"),
               render.Column("affects", "left", wrap=True)]
    rows = [["minority_performance_drop", "2026-02-19",
             "account_age_days, failed_logins_7d, merchant_category, region=AFR, region=EU"]]
    (only,) = render.table(columns, rows, width=80)
    text = rendered([only], 80)
    assert max(cell_len(line) for line in text.splitlines()) <= 80
    assert "failed_logins_7d," in text and "region=AFR," in text


def test_hour_of_day_cohorts_sort_as_numbers() -> None:
    hours = [str(h) for h in range(24)]
    shuffled = random.Random(1).sample(hours, len(hours))
    assert sorted(shuffled, key=natural_key) == hours
    assert sorted(["v10", "v9", "v1.2", "EU", "-3", "2.5"], key=natural_key) == ["-3", "2.5", "EU", "v1.2",
                                                                              "v9", "v10"]


def test_rows_take_whole_columns_while_they_fit_and_name_the_rest() -> None:
    found = [(ALL, 1000), *((Cohort("region", r), 100) for r in ("NA", "EU", "AFR")),
             *((Cohort("hour_of_day", str(h)), 10 + h) for h in range(24)),
             *((Cohort("day_of_week", str(d)), 50) for d in range(7))]
    known = ["all", "region", "hour_of_day", "day_of_week"]
    rows = choose_rows(found, known=known, limit=12)
    assert [str(c) for c in rows.shown] == ["all", "region=AFR", "region=EU", "region=NA",
                                            *(f"day_of_week={d}" for d in range(7))]
    assert rows.note() == ("not shown: hour_of_day (24 cohorts) — --cohort COLUMN shows one column, "
                           "--rows 0 every row")
    every = choose_rows(found, known=known, limit=0)
    assert len(every.shown) == len(found) and every.note() is None
    assert [c.value for c in every.shown if c.column == "hour_of_day"] == [str(h) for h in range(24)]


def test_a_column_larger_than_the_limit_shows_its_largest_cohorts_in_natural_order() -> None:
    found = [(Cohort("hour_of_day", str(h)), 10 + (h * 7) % 24) for h in range(24)]
    rows = choose_rows(found, known=["all", "hour_of_day"], limit=5)
    largest = sorted(found, key=lambda item: -item[1])[:5]
    assert [c.value for c in rows.shown] == sorted((c.value or "" for c, _ in largest), key=natural_key)
    assert rows.note() == ("hour_of_day: the 5 largest of 24 cohorts by decisions — --cohort COLUMN shows "
                           "one column, --rows 0 every row")


def test_json_has_sorted_keys_iso_times_and_null_for_non_finite_numbers() -> None:
    when = datetime(2026, 3, 1, 12, tzinfo=UTC)
    finding = Finding(kind="volume", check="volume", statistic="decisions", start=when, end=when,
                      value=float("nan"), severity=Severity.PAGE, message="m")
    text = render.to_json({"z": float("inf"), "a": when, "severity": Severity.WARNING,
                           "finding": finding.to_dict(), "tuple": (1, 2.5)})
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert data == {"a": "2026-03-01T12:00:00+00:00", "finding": finding.to_dict() | {"value": None},
                    "severity": "warning", "tuple": [1, 2.5], "z": None}
