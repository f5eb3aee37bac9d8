"""Window: the one type for a span of time, half-open ``[start, end)`` in UTC.

Checks, evaluations, the store's reads and the simulators all speak of time
through :class:`Window`. Its ends are timezone-aware UTC datetimes; a time
without a zone is read as UTC, the convention of the store and the CLI.
:func:`utc` turns a string, a date or a datetime into such a time, so that
``Window.of("2026-03-01", "2026-03-08")`` and a pair of datetimes mean the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from loopwatch.core.durations import parse_duration

__all__ = ["Instant", "Length", "Window", "utc"]

#: What a time may be given as: an ISO 8601 string, a date (its midnight, UTC) or a datetime.
Instant = str | date | datetime
#: What a length may be given as: a ``timedelta`` or a duration such as ``"7d"``.
Length = str | timedelta


def utc(value: Instant) -> datetime:
    """A timezone-aware UTC datetime from an ISO 8601 string, a date or a datetime.

    A time that names no zone is read as UTC; a time in another zone is converted.

    Examples
    --------
    >>> utc("2026-04-10")
    datetime.datetime(2026, 4, 10, 0, 0, tzinfo=datetime.timezone.utc)
    >>> utc("2026-04-10T12:00+02:00").hour
    10
    >>> utc("last tuesday")
    Traceback (most recent call last):
    ...
    ValueError: expected an ISO 8601 date or time such as 2026-03-01; got 'last tuesday'
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"expected an ISO 8601 date or time such as 2026-03-01; got {value!r}") from None
    elif not isinstance(value, datetime):
        if not isinstance(value, date):
            raise TypeError(f"expected a str, date or datetime; got {type(value).__name__}")
        value = datetime.combine(value, time())
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _length(value: Length) -> timedelta:
    return parse_duration(value) if isinstance(value, str) else value


@dataclass(frozen=True, order=True)
class Window:
    """A half-open time range ``[start, end)``, both ends UTC.

    Build one from two datetimes, or with :meth:`of` from strings or dates,
    :meth:`ending` and :meth:`starting` from one end and a length, :meth:`day`
    for one UTC day. An empty window (``start == end``) is allowed; an end
    before the start is not.

    Examples
    --------
    >>> week = Window.of("2026-03-01", "2026-03-08")
    >>> week
    Window('2026-03-01', '2026-03-08')
    >>> week.days, week.length
    (7.0, datetime.timedelta(days=7))
    >>> Window.ending("2026-03-08", "7d") == week
    True
    >>> [str(d.start.date()) for d in week.every("1d")][:3]
    ['2026-03-01', '2026-03-02', '2026-03-03']
    >>> utc("2026-03-08") in week
    False
    >>> Window.of("2026-03-08", "2026-03-01")
    Traceback (most recent call last):
    ...
    ValueError: a window's end must not be before its start; got 2026-03-08 00:00 to 2026-03-01 00:00
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, datetime):
                raise TypeError(f"a window's {name} must be a datetime (Window.of takes strings and "
                                f"dates); got {type(value).__name__}")
            if value.tzinfo is not UTC:
                object.__setattr__(self, name, utc(value))
        if self.end < self.start:
            raise ValueError(f"a window's end must not be before its start; got {self}")

    @classmethod
    def of(cls, start: Instant, end: Instant) -> Window:
        """The window from ``start`` to ``end``, each a string, a date or a datetime."""
        return cls(utc(start), utc(end))

    @classmethod
    def ending(cls, end: Instant, length: Length) -> Window:
        """The window of ``length`` (a ``timedelta`` or ``"7d"``) that ends at ``end``."""
        stop = utc(end)
        return cls(stop - _length(length), stop)

    @classmethod
    def starting(cls, start: Instant, length: Length) -> Window:
        """The window of ``length`` (a ``timedelta`` or ``"7d"``) that starts at ``start``."""
        first = utc(start)
        return cls(first, first + _length(length))

    @classmethod
    def day(cls, value: Instant) -> Window:
        """The UTC day that holds ``value``.

        Examples
        --------
        >>> Window.day("2026-03-01T17:30")
        Window('2026-03-01', '2026-03-02')
        """
        first = utc(value).replace(hour=0, minute=0, second=0, microsecond=0)
        return cls(first, first + timedelta(days=1))

    @property
    def length(self) -> timedelta:
        """``end - start``."""
        return self.end - self.start

    @property
    def days(self) -> float:
        """The length in days."""
        return self.length / timedelta(days=1)

    def before(self, length: Length | None = None) -> Window:
        """The window that ends where this one starts, as long as this one or of ``length``."""
        return Window(self.start - (self.length if length is None else _length(length)), self.start)

    def every(self, step: Length) -> Iterator[Window]:
        """Consecutive windows of ``step`` from the start; the last one is cut at the end."""
        size = _length(step)
        if size <= timedelta(0):
            raise ValueError(f"step must be a positive length; got {step!r}")
        first = self.start
        while first < self.end:
            yield Window(first, min(first + size, self.end))
            first += size

    def __contains__(self, moment: object) -> bool:
        return isinstance(moment, datetime) and self.start <= utc(moment) < self.end

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M}"

    def __repr__(self) -> str:
        return f"Window({_short(self.start)!r}, {_short(self.end)!r})"


def _short(moment: datetime) -> str:
    if moment.time() == time():
        return f"{moment:%Y-%m-%d}"
    return moment.replace(tzinfo=None).isoformat(timespec="minutes" if not moment.second
                                                 and not moment.microsecond else "microseconds")
