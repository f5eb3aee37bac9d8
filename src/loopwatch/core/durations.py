"""Durations as the spec writes them: a whole number and a unit, ``30d``, ``12h``, ``2w``."""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["parse_duration"]

_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """Parse a duration such as ``30d``, ``12h`` or ``2w``.

    Examples
    --------
    >>> parse_duration("30d")
    datetime.timedelta(days=30)
    >>> parse_duration("3 days")
    Traceback (most recent call last):
    ...
    ValueError: expected a duration like '30d', '12h' or '2w'; got '3 days'
    """
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"expected a duration like '30d', '12h' or '2w'; got {text!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
