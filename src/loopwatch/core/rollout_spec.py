"""The ``rollout:`` block of the spec: how a challenger goes from shadow through canary shares to
production, and what rolls it back (``loopwatch rollout``, :mod:`loopwatch.learning.rollout`).

Examples
--------
>>> Rollout().shares, Rollout().min_decisions
((0.05, 0.25, 0.5), 500)
>>> from loopwatch.core.spec import spec_from_mapping
>>> spec_from_mapping({"model": "m", "features": [{"name": "a", "dtype": "numeric"}],
...                    "rollout": {"shares": [0.5, 0.1]}})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
loopwatch.errors.SpecError: spec is invalid:
rollout.shares: expected increasing shares in (0, 1) such as [0.05, 0.25, 0.5]; got [0.5, 0.1]
"""

from __future__ import annotations

import itertools

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["Rollout"]


class Rollout(BaseModel):
    """Steps and guards of a rollout.

    ``shares`` are the canary shares after shadow, in order; a step lasts at least
    ``min_duration`` and, from shadow on, holds ``min_decisions`` decisions of the
    challenger (its shadow scores in shadow, its own decisions on canary) before the
    next one. The canary is rolled back when a page-level alert of the model was
    raised since the step began, or when, against the model's decisions of the same
    step, its error rate is shown (95% interval of the difference) more than
    ``max_error_rise`` higher, its rate of positive decisions is shown to differ by
    more than ``max_decision_shift`` of the model's rate, or its p95 latency is more
    than ``max_latency_ratio`` times the model's.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    shares: tuple[float, ...] = (0.05, 0.25, 0.5)
    min_duration: str = "1h"
    min_decisions: int = Field(default=500, ge=1)
    max_error_rise: float = Field(default=0.005, ge=0, le=1)
    max_decision_shift: float = Field(default=0.5, gt=0)
    max_latency_ratio: float = Field(default=1.5, gt=1)
    #: ``loopwatch watch`` runs ``rollout advance`` after each run
    automatic: bool = False

    @field_validator("shares")
    @classmethod
    def _increasing(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        increasing = all(a < b for a, b in itertools.pairwise(value))
        if not value or any(not 0 < s < 1 for s in value) or not increasing:
            raise ValueError("expected increasing shares in (0, 1) such as [0.05, 0.25, 0.5]; "
                             f"got {list(value)}")
        return value

    @field_validator("min_duration")
    @classmethod
    def _duration(cls, value: str) -> str:
        from loopwatch.core.durations import parse_duration

        parse_duration(value)
        return value
