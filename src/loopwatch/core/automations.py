"""Automatic mitigations: which alert kinds may set which flag, under guardrails.

A rule in the spec's ``alerts: mitigations:`` says that a page-level alert of
kind ``on`` sets a mitigation (:mod:`loopwatch.core.flags`) without waiting for a
person. Guardrails that no rule can loosen: only a ``page`` (never a warning or
information), at most one automatic action per model per ``interval`` of the
data's time, always written to the audit log with the alert that caused it, and
one command reverts it (``loopwatch flags revert ID``).

``cohort_from_alert`` makes a ``review_threshold`` apply to the alert's subject:
its entity (``merchant_category=crypto_exchange``) or its cohort.

Examples
--------
>>> rule = AutoMitigation.model_validate({"on": "coverage", "action": "review_threshold",
...                                       "threshold": 0.0, "cohort_from_alert": True})
>>> rule.on, rule.action, rule.threshold, rule.expires
('coverage', 'review_threshold', 0.0, None)
>>> AutoMitigation.model_validate({"on": "drift", "action": "rollback"})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for AutoMitigation
...
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["AutoMitigation"]


class AutoMitigation(BaseModel):
    """One rule: a page of kind ``on`` sets mitigation ``action`` (its parameters beside it).

    ``expires`` (a duration such as ``2d``) ends the mitigation by itself; without
    it the mitigation holds until reverted.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    on: Literal["schema", "health", "drift", "coverage", "volume", "system", "performance"]
    action: Literal["review_threshold", "baseline", "disable_feature", "rollback"]
    threshold: float | None = Field(default=None, ge=0, le=1)
    cohort_from_alert: bool = False
    version: str | None = None
    feature_from_alert: bool = False
    expires: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> AutoMitigation:
        if self.action == "review_threshold" and self.threshold is None:
            raise ValueError("review_threshold: give threshold (the score from which decisions go to review)")
        if self.action == "rollback" and not self.version:
            raise ValueError("rollback: give version (the model version to serve)")
        if self.action == "disable_feature" and not self.feature_from_alert:
            raise ValueError("disable_feature: set feature_from_alert: true "
                             "(the alert's feature is disabled)")
        if self.expires is not None:
            from loopwatch.core.spec import parse_duration

            parse_duration(self.expires)
        return self
