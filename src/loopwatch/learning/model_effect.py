"""Model effect: what the model changes, measured on its randomized holdout, per cohort.

When losses rise, was it the world (more fraud attempts) or the model (it stopped
catching them)? A metric of the model's decisions cannot tell; the randomized
holdout can. The prediction loop lets a baseline policy decide a random share of
decisions and logs ``holdout`` and ``holdout_probability`` with each (the spec's
``serving`` columns). Both arms see the same world, so the difference of their
outcomes is the model's effect alone. :func:`model_effect` reads a window's
labelled decisions and, globally and per cohort, estimates each arm's mean
outcome per decision by inverse-propensity weighting with the logged
probabilities (:mod:`loopwatch.evaluation.policy_effect`):

* ``lost_per_decision``: the outcome value (e.g. fraud dollars) of positives the
  decision let through (not a positive action), when outcomes carry a value;
* ``value_per_decision``: the spec's value model applied to each decision's
  action and outcome, when the spec has a ``value`` block;
* ``missed_positive_rate``: positives let through, per decision;
* ``decision_rate``: decisions with a positive action.

Canary decisions (``route`` ``canary``) belong to neither arm and are left out,
as are decisions logged while no holdout ran (probability 0). The window's labels
must have matured (``learning.champion.maturity``) or the report says they have not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from loopwatch.core.spec import Spec
from loopwatch.core.store import DecisionSource
from loopwatch.core.window import Window
from loopwatch.errors import InputError
from loopwatch.evaluation.maturity import LabelMaturity
from loopwatch.evaluation.policy_effect import PolicyEffect, policy_effect
from loopwatch.evaluation.profile_metrics import DEFAULT_THRESHOLD
from loopwatch.learning.champion_rule import decision_values
from loopwatch.learning.training_data import bools, floats, outcome_values, rows_as_of, window_maturity

__all__ = ["CohortEffect", "ModelEffectReport", "model_effect"]


@dataclass(frozen=True)
class CohortEffect:
    """One cohort's effects, by outcome."""

    cohort: str
    effects: dict[str, PolicyEffect]

    def to_dict(self) -> dict[str, Any]:
        return {"cohort": self.cohort, "effects": {k: v.to_dict() for k, v in self.effects.items()}}


@dataclass(frozen=True)
class ModelEffectReport:
    """The model's effect in a window: per cohort (``all`` first), model arm minus holdout arm."""

    model: str
    window: Window
    decisions: int
    labelled: int
    excluded_canary: int
    excluded_no_holdout: int
    maturity: LabelMaturity | None
    cohorts: tuple[CohortEffect, ...]
    currency: str = "USD"

    @property
    def mature(self) -> bool:
        return self.maturity is not None and self.maturity.mature

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON keys; ISO 8601 times; non-finite numbers as null."""
        return {"model": self.model, "window": {"start": self.window.start.isoformat(),
                                                "end": self.window.end.isoformat()},
                "decisions": self.decisions, "labelled": self.labelled,
                "excluded_canary": self.excluded_canary, "excluded_no_holdout": self.excluded_no_holdout,
                "mature": self.mature, "maturity": None if self.maturity is None else self.maturity.to_dict(),
                "currency": self.currency, "cohorts": [c.to_dict() for c in self.cohorts]}

    def rows(self) -> list[dict[str, Any]]:
        """One row per cohort and outcome: model, holdout, effect and its interval, each arm's n."""
        return [{"cohort": c.cohort, **e.to_dict()} for c in self.cohorts for e in c.effects.values()]


def _outcomes(rows: pa.Table, spec: Spec, threshold: float) -> dict[str, npt.NDArray[np.float64]]:
    label = bools(rows.column(spec.outcomes.label))
    action = spec.columns.action
    if action and action in rows.column_names:
        flagged = bools(pc.is_in(rows.column(action), value_set=pa.array(list(spec.positive_actions))))
    else:
        flagged = floats(rows.column(spec.columns.score)) >= threshold
    amount = outcome_values(rows, spec)
    out: dict[str, npt.NDArray[np.float64]] = {}
    if amount is not None:
        out["lost_per_decision"] = np.where(label & ~flagged, amount, 0.0)
    if spec.value is not None:
        out["value_per_decision"] = decision_values(label, flagged, amount, spec.value)
    out["missed_positive_rate"] = (label & ~flagged).astype(np.float64)
    out["decision_rate"] = flagged.astype(np.float64)
    return out


def _effects(outcomes: dict[str, npt.NDArray[np.float64]], mask: npt.NDArray[np.bool_],
             holdout: npt.NDArray[np.bool_], probability: npt.NDArray[np.float64],
             confidence: float) -> dict[str, PolicyEffect]:
    return {name: policy_effect(y[mask], holdout[mask], probability[mask], outcome=name,
                                confidence=confidence) for name, y in outcomes.items()}


def model_effect(spec: Spec, window: Window, *, store: DecisionSource | None = None,
                 confidence: float = 0.95) -> ModelEffectReport:
    """The model's effect on outcomes in ``window``, from its randomized holdout (module docstring).

    Raises
    ------
    InputError
        The spec logs no holdout (no ``serving`` block), or the window holds no
        labelled decision of both arms.
    """
    from loopwatch.storage.sources import open_source

    if spec.serving is None:
        raise InputError("the spec logs no holdout: add a 'serving:' block with a holdout share "
                         "(serving.holdout), whose decisions log holdout and holdout_probability")
    s = spec.serving.columns
    store = store or open_source(spec)
    rows = rows_as_of(store, window)
    decisions = rows.num_rows
    for name in (s.holdout, s.holdout_probability):
        if decisions and name not in rows.column_names:
            raise InputError(f"the decisions in {window} have no {name!r} column; is the prediction loop "
                             "logging its serving columns?")
    canary = (bools(pc.equal(rows.column(s.route), "canary")) if decisions and s.route in rows.column_names
              else np.zeros(decisions, dtype=np.bool_))
    rows = rows.filter(pa.array(~canary))
    probability = floats(rows.column(s.holdout_probability)) if rows.num_rows else np.zeros(0)
    running = np.isfinite(probability) & (probability > 0) & (probability < 1)
    excluded_no_holdout = int((~running).sum())
    rows = rows.filter(pa.array(running))
    threshold = float(spec.threshold) if spec.threshold is not None else DEFAULT_THRESHOLD
    rule = spec.learning.champion
    matured = (window_maturity(store, rows, threshold=threshold, maturity=rule.maturity)
               if rows.num_rows else None)
    rows = rows.filter(pc.is_valid(rows.column(spec.outcomes.label)))
    holdout = bools(rows.column(s.holdout))
    if rows.num_rows == 0 or holdout.all() or not holdout.any():
        raise InputError(f"the window {window} holds no labelled decisions of both the model and the holdout "
                         f"({int(holdout.sum())} holdout, {int((~holdout).sum())} model); is a holdout share "
                         "(serving.holdout) set and have outcomes arrived?")
    probability = floats(rows.column(s.holdout_probability))
    outcomes = _outcomes(rows, spec, threshold)
    every = np.ones(rows.num_rows, dtype=np.bool_)
    cohorts = [CohortEffect("all", _effects(outcomes, every, holdout, probability, confidence))]
    for column in spec.cohorts:
        if column not in rows.column_names:
            continue
        values = np.asarray(pc.fill_null(pc.cast(rows.column(column), pa.string()), "\x00").to_numpy(
            zero_copy_only=False), dtype=object)
        for value in sorted({v for v in values if v != "\x00"}):
            effects = _effects(outcomes, values == value, holdout, probability, confidence)
            cohorts.append(CohortEffect(f"{column}={value}", effects))
    currency = spec.serving.cost.currency
    return ModelEffectReport(model=spec.model, window=window, decisions=decisions, labelled=rows.num_rows,
                             excluded_canary=int(canary.sum()), excluded_no_holdout=excluded_no_holdout,
                             maturity=matured, cohorts=tuple(cohorts), currency=currency)

