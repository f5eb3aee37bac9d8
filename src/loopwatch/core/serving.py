"""The ``serving:`` block of the spec: what monitoring needs to know about the prediction loop.

The loop itself (feature functions, models, safety rules, batching) is declared in
Python, as :class:`~loopwatch.prediction.loop.DecisionLoop`, because it is code. The
spec holds only what the other loops read back from the decision log: the names of
the serving columns, the experiment design (holdout and canary shares, the key they
hash and the salt), the cost model that prices each decision, and where the loop's
code lives (``loop: module:attribute``) so that ``loopwatch serve`` and
``loopwatch tail`` can find it.

Examples
--------
>>> serving = Serving.model_validate({"holdout": 0.02, "cost": {"cpu_second": 5e-5}})
>>> serving.holdout, serving.cost.cpu_second, serving.columns.route
(0.02, 5e-05, 'route')
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["CostModel", "Serving", "ServingColumns"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_IMPORT = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServingColumns(_Model):
    """Names of the columns the prediction loop adds to each decision, by role.

    ``route`` says who decided (``primary``, ``canary``, ``cheap``, ``baseline``,
    ``holdout``, ``default`` or ``shed``); ``batch_rows`` how many rows the model
    call held; ``steps`` the wall milliseconds of each step (JSON object);
    ``cpu_ms`` the CPU milliseconds of the loop's steps; ``fallbacks`` the fallback
    chain with reason codes (JSON list); ``flags`` the ids of the mitigations that
    shaped the decision (JSON list); ``shadow_score`` and ``shadow_version`` the
    challenger's score (or the champion's, on canary traffic); ``holdout`` and
    ``holdout_probability`` the randomized assignment; ``rule`` the safety rule
    that overrode the model.
    """

    route: str = "route"
    batch_rows: str = "batch_rows"
    steps: str = "steps"
    cpu_ms: str = "cpu_ms"
    fallbacks: str = "fallbacks"
    flags: str = "flags"
    shadow_score: str = "shadow_score"
    shadow_version: str = "shadow_version"
    holdout: str = "holdout"
    holdout_probability: str = "holdout_probability"
    rule: str = "rule"

    @field_validator("*")
    @classmethod
    def _names(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"expected a column name of letters, digits and underscores; "
                             f"got {value!r}")
        return value


#: Stored Arrow dtype of each serving column, by role ("numeric", "categorical" or "boolean").
SERVING_DTYPES: dict[str, str] = {
    "route": "categorical", "batch_rows": "numeric", "steps": "categorical",
    "cpu_ms": "numeric", "fallbacks": "categorical", "flags": "categorical",
    "shadow_score": "numeric", "shadow_version": "categorical", "holdout": "boolean",
    "holdout_probability": "numeric", "rule": "categorical",
}


class CostModel(_Model):
    """Prices that turn a decision's measured work into its cost.

    ``cpu_second`` is the price of one CPU-second of the loop's steps (feature
    functions, model calls, post-processing); ``calls`` the price of one call to a
    feature source, by source name (a feature's ``source``, by default its owner).
    A value served from a cache or a fallback makes no call.
    """

    currency: str = "USD"
    cpu_second: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    calls: dict[str, float] = {}

    @field_validator("calls")
    @classmethod
    def _prices(cls, value: dict[str, float]) -> dict[str, float]:
        for source, price in value.items():
            if not price >= 0 or price == float("inf"):
                raise ValueError(f"price of a call to {source!r} must be a finite number >= 0; "
                                 f"got {price!r}")
        return value


class Serving(_Model):
    """How the prediction loop is run and what it logs (the spec's ``serving`` key).

    ``holdout`` is the share of decisions where the baseline policy replaces the
    model's decision (assigned by a stable hash of ``assignment_key`` and ``salt``,
    logged with its probability); ``canary`` the share served by the challenger
    model. ``loop`` is ``module:attribute`` naming a ``DecisionLoop`` or a function
    that takes the spec and returns one.
    """

    loop: str | None = None
    holdout: float = Field(default=0.0, ge=0, lt=1)
    canary: float = Field(default=0.0, ge=0, lt=1)
    assignment_key: str = "decision_id"
    salt: str = "loopwatch"
    cost: CostModel = CostModel()
    columns: ServingColumns = ServingColumns()

    @field_validator("loop")
    @classmethod
    def _import_string(cls, value: str | None) -> str | None:
        if value is not None and not _IMPORT.match(value):
            raise ValueError(f"expected 'module:attribute' such as 'my_service.loop:build'; "
                             f"got {value!r}")
        return value

    @model_validator(mode="after")
    def _shares(self) -> Serving:
        if self.holdout + self.canary >= 1:
            raise ValueError(f"holdout ({self.holdout}) and canary ({self.canary}) shares must "
                             "add up to less than 1")
        return self

    def column_roles(self) -> dict[str, str]:
        """``{role: column name}`` of the serving columns."""
        return dict(self.columns.model_dump())
