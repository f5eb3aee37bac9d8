"""The ``gate:`` block of the spec: what a model version must pass before it is deployed.

``loopwatch gate`` checks a registered version against it (``loopwatch.learning.gate``):

``cases``
    synthetic cases, each a named input and what the model must do with it:
    ``flagged`` (score at or above ``threshold``), ``approved`` (below it) or
    ``{action: NAME}`` (the action of ``actions`` its score reaches).
``canary_inputs``
    inputs the model must score without an error, to a number in [0, 1]
    (edge cases: missing values, an unseen category, extreme amounts).
``latency``
    the budget for scoring one row (the ``quantile`` of ``repeats`` timed calls).
``calibration``
    on the decisions of a recent window whose labels have matured (``window``
    ending ``label_delay`` before now), the version's calibration slope and
    intercept (Cox 1958, with intervals: :mod:`loopwatch.evaluation.calibration`)
    must not be shown outside ``slope`` and ``intercept``; fewer than ``min_positives``
    positives is "not enough data", never a pass.
``champion``
    the champion/challenger rule of the spec's ``learning.champion`` (per-cohort
    non-inferiority, superiority overall: :mod:`loopwatch.learning.champion`), the
    version against the model's production version, both replaying the logged
    decisions of ``window`` ending ``label_delay`` before now; labels that have not
    matured, or too few, are "not evaluated", never a pass.

Examples
--------
>>> gate = Gate.model_validate({"threshold": 0.5, "cases": [
...     {"name": "known_fraud_pattern", "input": {"amount": 900}, "expect": "flagged"},
...     {"name": "big_block", "input": {"amount": 9000}, "expect": {"action": "block"}}],
...     "actions": {"block": 0.8, "review": 0.5}})
>>> [c.expected for c in gate.cases], gate.action_of(0.85), gate.action_of(0.1)
(['flagged', 'action block'], 'block', 'approve')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["Calibration", "Case", "ChampionWindow", "Gate", "Latency"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ActionExpectation(_Model):
    action: str = Field(min_length=1)


class Case(_Model):
    """A synthetic case: a named input and what the model must do with it."""

    name: str = Field(min_length=1, max_length=200)
    input: dict[str, Any]
    expect: Literal["flagged", "approved"] | ActionExpectation
    description: str | None = None

    @property
    def expected(self) -> str:
        return self.expect if isinstance(self.expect, str) else f"action {self.expect.action}"


class Latency(_Model):
    """Scoring one row must take at most ``budget_ms`` at the ``quantile`` of ``repeats`` calls."""

    budget_ms: float = Field(gt=0)
    quantile: float = Field(default=0.95, gt=0, lt=1)
    repeats: int = Field(default=50, ge=5, le=10_000)


def _duration(value: str) -> str:
    from loopwatch.core.durations import parse_duration

    parse_duration(value)
    return value


class Calibration(_Model):
    """The matured window the version is scored on, and the calibration it must not be shown to miss."""

    window: str = "14d"
    label_delay: str = "30d"
    slope: tuple[float, float] = (0.8, 1.25)
    intercept: tuple[float, float] = (-0.5, 0.5)
    min_positives: int = Field(default=30, ge=1)
    max_rows: int = Field(default=200_000, ge=100)

    _check_window = field_validator("window", "label_delay")(_duration)

    @field_validator("slope", "intercept")
    @classmethod
    def _range(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not value[0] < value[1]:
            raise ValueError(f"expected [low, high] with low < high; got {list(value)}")
        return value


class ChampionWindow(_Model):
    """The matured window on which the version is compared with the production version."""

    window: str = "14d"
    label_delay: str = "30d"

    _check_window = field_validator("window", "label_delay")(_duration)


class Gate(_Model):
    """The deploy gate of the spec's model (``gate:``)."""

    threshold: float | None = Field(default=None, gt=0, le=1)
    actions: dict[str, float] = Field(default_factory=dict)
    cases: tuple[Case, ...] = ()
    canary_inputs: tuple[dict[str, Any], ...] = ()
    latency: Latency | None = None
    calibration: Calibration | None = None
    champion: ChampionWindow | None = None

    @field_validator("actions")
    @classmethod
    def _thresholds(cls, value: dict[str, float]) -> dict[str, float]:
        for name, t in value.items():
            if not 0 < t <= 1:
                raise ValueError(f"{name}: a threshold is a score in (0, 1]; got {t}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Gate:
        names = [c.name for c in self.cases]
        for i, case in enumerate(self.cases):
            if names.count(case.name) > 1:
                raise ValueError(f"cases[{i}].name: {case.name!r} names two cases")
            if isinstance(case.expect, ActionExpectation) and case.expect.action not in {*self.actions,
                                                                                       "approve"}:
                raise ValueError(f"cases[{i}].expect.action: {case.expect.action!r} is not one of the "
                                 f"gate's actions {sorted({*self.actions, 'approve'})}")
        return self

    def action_of(self, score: float) -> str:
        """The action of the highest threshold ``score`` reaches (``approve`` below them all)."""
        reached = [(t, name) for name, t in self.actions.items() if score >= t]
        return max(reached)[1] if reached else "approve"

    def check_inputs(self, features: Mapping[str, str]) -> None:
        """Every input names a feature of the spec (``features``: name → dtype) with a value of its dtype;
        raises ``ValueError`` with the key path (``gate.cases[0].input.amount: ...``)."""
        where = [(f"gate.cases[{i}].input", c.input) for i, c in enumerate(self.cases)]
        where += [(f"gate.canary_inputs[{i}]", row) for i, row in enumerate(self.canary_inputs)]
        for path, row in where:
            for key, value in row.items():
                dtype = features.get(key)
                if dtype is None:
                    raise ValueError(f"{path}.{key}: not a feature of the spec "
                                     f"(features: {sorted(features)})")
                if value is None:
                    continue
                ok = {"numeric": isinstance(value, int | float) and not isinstance(value, bool),
                      "boolean": isinstance(value, bool),
                      "categorical": isinstance(value, str)}[dtype]
                if not ok:
                    raise ValueError(f"{path}.{key}: expected a {dtype} value; got {value!r}")
