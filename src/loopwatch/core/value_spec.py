"""The spec's ``value:`` block: what a decision is worth, by outcome."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ValueModel"]


class ValueModel(BaseModel):
    """What decisions are worth, per labelled decision at the threshold (all amounts non-negative).

    A caught positive gains ``true_positive`` plus ``true_positive_value_share``
    of the outcome's ``value`` (the loss prevented); a false positive costs
    ``false_positive`` (review cost plus customer friction); a missed positive
    loses ``false_negative`` plus ``false_negative_value_share`` of its value.
    The shares apply where outcomes carry a value column.

    Examples
    --------
    >>> ValueModel(false_positive=15.0).true_positive_value_share
    1.0
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    true_positive: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    true_positive_value_share: float = Field(default=1.0, ge=0, le=1)
    false_positive: float = Field(ge=0, allow_inf_nan=False)
    false_negative: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    false_negative_value_share: float = Field(default=1.0, ge=0, le=1)
