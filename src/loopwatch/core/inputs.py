"""The ``inputs:`` block of the spec: what well-formed input looks like, so that bad input is caught.

Three promises about the decision log that validation, profiling and monitoring hold
the data to:

* ``score_range``: the range every score lies in, ``[0, 1]`` by default (a probability).
  A score outside it, or one that is not finite, sends its row to quarantine with the
  reason; ``null`` accepts any finite score (a margin, a log-odds).
* ``cadence``: how often decisions arrive at the least. When the last decision is older
  than this at the time checked, the staleness check pages: a pipeline that stopped is
  never healthy.
* ``cohort_values``: how many values of a cohort column are kept apart (the most
  frequent in the reference); the rest count as ``other``, so that a column with many
  values (a user id by mistake) cannot make a run's memory and time grow with it.

Examples
--------
>>> Inputs().score_range, Inputs().cadence
((0.0, 1.0), '1d')
>>> Inputs.model_validate({"score_range": [1, 0]})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for Inputs
...
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["Inputs"]

_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Inputs(_Model):
    """What well-formed decisions look like: the score's range, their cadence, cohort values kept."""

    score_range: tuple[float, float] | None = (0.0, 1.0)
    cadence: str = "1d"
    cohort_values: int = Field(default=100, ge=1, le=100_000)

    @field_validator("score_range")
    @classmethod
    def _range(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is None:
            return None
        low, high = value
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError(f"expected two finite numbers [low, high]; got [{low}, {high}]")
        if low >= high:
            raise ValueError(f"expected low < high; got [{low}, {high}]")
        return (float(low), float(high))

    @field_validator("cadence")
    @classmethod
    def _duration(cls, value: str) -> str:
        cadence_of(value)
        return value

    @property
    def cadence_delta(self) -> timedelta:
        """:attr:`cadence` as a duration."""
        return cadence_of(self.cadence)

    def score_ok(self, score: float) -> bool:
        """Is ``score`` finite and within :attr:`score_range`?

        Examples
        --------
        >>> Inputs().score_ok(0.3), Inputs().score_ok(250.0), Inputs().score_ok(float("inf"))
        (True, False, False)
        """
        if not math.isfinite(score):
            return False
        return self.score_range is None or self.score_range[0] <= score <= self.score_range[1]


def cadence_of(text: str) -> timedelta:
    """A duration such as ``1d``, ``6h`` or ``15m`` (the spec's other durations read alike)."""
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"expected a duration like '1d', '6h' or '15m'; got {text!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
