"""Window: one half-open UTC time range, built from strings, dates or datetimes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopwatch.core.window import Window, utc

DAY = datetime(2026, 3, 1, tzinfo=UTC)


def test_strings_dates_and_datetimes_give_the_same_window() -> None:
    expected = Window(DAY, DAY + timedelta(days=7))
    assert Window.of("2026-03-01", "2026-03-08") == expected
    assert Window.of(date(2026, 3, 1), date(2026, 3, 8)) == expected
    assert Window.of(datetime(2026, 3, 1), "2026-03-08T00:00:00Z") == expected
    assert Window.ending("2026-03-08", "7d") == expected
    assert Window.starting(DAY, timedelta(days=7)) == expected


def test_ends_are_utc_whatever_zone_they_were_given_in() -> None:
    plus_two = timezone(timedelta(hours=2))
    window = Window(datetime(2026, 3, 1, 2, tzinfo=plus_two), datetime(2026, 3, 2))
    assert window.start == DAY and window.start.tzinfo is UTC
    assert window.end.tzinfo is UTC and window.end.hour == 0
    assert utc("2026-03-01T05:00-03:00") == DAY + timedelta(hours=8)


def test_half_open_membership() -> None:
    window = Window.day("2026-03-01T13:00")
    assert DAY in window
    assert DAY + timedelta(days=1) not in window
    assert DAY - timedelta(microseconds=1) not in window
    assert "2026-03-01" not in window  # only datetimes are members


def test_an_end_before_the_start_is_an_error_naming_both() -> None:
    with pytest.raises(ValueError, match="end must not be before its start; got 2026-03-02 00:00 to "
                                         "2026-03-01 00:00"):
        Window.of("2026-03-02", "2026-03-01")
    assert Window(DAY, DAY).length == timedelta(0)  # empty, but a window


def test_bad_inputs_say_what_was_expected() -> None:
    with pytest.raises(ValueError, match="ISO 8601 date or time such as 2026-03-01; got 'soon'"):
        Window.of("soon", "2026-03-01")
    with pytest.raises(ValueError, match="expected a duration like '30d'"):
        Window.ending(DAY, "a week")
    with pytest.raises(TypeError, match=r"Window\.of takes strings"):
        Window("2026-03-01", DAY)  # type: ignore[arg-type]  # the constructor's contract
    with pytest.raises(ValueError, match="step must be a positive length"):
        list(Window(DAY, DAY + timedelta(days=1)).every(timedelta(0)))


def test_before_and_every() -> None:
    week = Window.ending("2026-03-08", "7d")
    assert week.before() == Window.of("2026-02-22", "2026-03-01")
    assert week.before("1d") == Window.of("2026-02-28", "2026-03-01")
    days = list(week.every("1d"))
    assert len(days) == 7 and days[0] == Window.day(DAY) and days[-1].end == week.end
    assert [w.length for w in Window.of(DAY, DAY + timedelta(hours=30)).every("1d")] == [
        timedelta(days=1), timedelta(hours=6)]


def test_repr_is_short_and_str_is_readable() -> None:
    assert repr(Window.of("2026-03-01", "2026-03-08")) == "Window('2026-03-01', '2026-03-08')"
    assert repr(Window.of("2026-03-01T06:30", "2026-03-01T07:00")) == (
        "Window('2026-03-01T06:30', '2026-03-01T07:00')")
    assert str(Window.day(DAY)) == "2026-03-01 00:00 to 2026-03-02 00:00"


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
       st.integers(min_value=1, max_value=500), st.integers(min_value=1, max_value=72))
def test_every_tiles_the_window_exactly(start: datetime, hours: int, step: int) -> None:
    window = Window.starting(start, timedelta(hours=hours))
    parts = list(window.every(timedelta(hours=step)))
    assert parts[0].start == window.start and parts[-1].end == window.end
    assert all(a.end == b.start for a, b in pairwise(parts))
    assert sum((p.length for p in parts), timedelta(0)) == window.length


def test_windows_are_hashable_and_ordered() -> None:
    a, b = Window.day("2026-03-01"), Window.day("2026-03-02")
    assert sorted([b, a]) == [a, b]
    assert {a: 1}[Window.of("2026-03-01", "2026-03-02")] == 1
