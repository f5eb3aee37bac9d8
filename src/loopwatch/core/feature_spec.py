"""One entry of the spec's ``features:`` list: a model input, declared like code.

Besides what the decision log needs (name, dtype, PII rule, fallback), a feature
carries what a feature registry keeps: who owns it, what it means and where it
comes from, what one value costs to compute, what its values must look like, when
it is to be retired and what it is derived from. Every key but ``name`` and
``dtype`` is optional, so a spec written before them still loads.

Examples
--------
>>> f = Feature.model_validate({
...     "name": "amount", "dtype": "numeric", "owner": "payments-data",
...     "cost": {"latency_ms": 2.5, "price_per_call": 0.0001},
...     "expectations": {"min": 0, "max_missing_rate": 0.01},
...     "deprecated_after": "2027-01-31", "derived_from": ["card_network"]})
>>> f.cost.latency_ms, f.expectations.max, f.deprecated_after.isoformat()
(2.5, None, '2027-01-31')
>>> Feature.model_validate({"name": "x", "dtype": "numeric",
...                         "expectations": {"allowed_values": ["a"]}})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for Feature
...
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["Cost", "Dtype", "Expectations", "Feature", "PiiClass", "column_name"]

Dtype = Literal["numeric", "categorical", "boolean"]
PiiClass = Literal["none", "hash", "drop"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def column_name(value: str) -> str:
    """``value`` if it is a column name (letters, digits, underscores); ``ValueError`` if not."""
    if not _NAME.match(value):
        raise ValueError(
            f"expected a column name of letters, digits and underscores; got {value!r}"
        )
    return value


class Cost(_Model):
    """What one value of a feature costs: time to compute or fetch it, and price of a call."""

    latency_ms: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    price_per_call: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class Expectations(_Model):
    """What a feature's stored values must look like.

    ``min``/``max`` bound a numeric feature (inclusive), ``allowed_values`` lists a
    categorical or boolean feature's values, ``max_missing_rate`` is the largest
    share of decisions that may lack the value.
    """

    min: float | None = Field(default=None, allow_inf_nan=False)
    max: float | None = Field(default=None, allow_inf_nan=False)
    allowed_values: tuple[str | bool | int, ...] | None = None
    max_missing_rate: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> Expectations:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min must not exceed max; got min {self.min} > max {self.max}")
        if self.allowed_values is not None and not self.allowed_values:
            raise ValueError("allowed_values: expected at least one value, or leave it out")
        return self

    @property
    def bounded(self) -> bool:
        return self.min is not None or self.max is not None

    def outside(self, low: float, high: float) -> bool:
        """Whether observed values spanning ``[low, high]`` leave ``[min, max]``."""
        if not (math.isfinite(low) and math.isfinite(high)):
            return False  # no values observed
        return (self.min is not None and low < self.min) or (self.max is not None and high > self.max)


class Feature(_Model):
    """One model input as logged with each decision, and what the feature registry knows of it."""

    name: str
    dtype: Dtype
    owner: str | None = None
    description: str | None = None
    pii: PiiClass = "none"
    importance: float | None = Field(default=None, ge=0)
    fallback: float | str | bool | None = None
    #: where its values come from (a system, a table, a vendor's API)
    source: str | None = None
    cost: Cost = Cost()
    expectations: Expectations = Expectations()
    #: the last day the feature is meant to be used; after it, ``loopwatch features`` flags it
    deprecated_after: date | None = None
    #: sources and other features (by name) it is computed from
    derived_from: tuple[str, ...] = ()

    _check_name = field_validator("name")(column_name)

    @model_validator(mode="after")
    def _fits_dtype(self) -> Feature:
        e = self.expectations
        if e.bounded and self.dtype != "numeric":
            raise ValueError(f"expectations: min and max apply to numeric features; "
                             f"{self.name!r} is {self.dtype}")
        if e.allowed_values is not None and self.dtype == "numeric":
            raise ValueError(f"expectations: allowed_values apply to categorical and boolean "
                             f"features; {self.name!r} is numeric (give min and max)")
        if e.allowed_values is not None and self.pii == "hash":
            raise ValueError(f"expectations: allowed_values cannot be checked on {self.name!r}: "
                             "it is stored hashed (pii: hash)")
        if self.name in self.derived_from:
            raise ValueError(f"derived_from: {self.name!r} cannot be derived from itself")
        return self

    @property
    def stored_dtype(self) -> Dtype:
        """The dtype as stored: a hashed feature is stored as its (categorical) digest."""
        return "categorical" if self.pii == "hash" else self.dtype


def lineage_cycle(features: tuple[Feature, ...]) -> list[str] | None:
    """A cycle of features deriving from each other (names in order), or ``None``."""
    edges = {f.name: [d for d in f.derived_from if d != f.name] for f in features}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for parent in edges.get(name, ()):
            if parent not in edges:
                continue  # a source, not a feature
            if state.get(parent) == 1:
                return [*path[path.index(parent):], parent]
            if parent not in state and (found := visit(parent)):
                return found
        path.pop()
        state[name] = 2
        return None

    for feature in features:
        if feature.name not in state and (found := visit(feature.name)):
            return found
    return None
