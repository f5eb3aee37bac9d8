"""Feature ablation: retrain without a feature or a group, and weigh quality lost against cost saved.

A feature earns its place when the quality it adds is worth its latency and its
price per call. :func:`ablate` measures both sides on the decision log:

1. The spec's train hook (``learning.train``, ``module:function``) is called
   twice on the same training rows (the labelled decisions of the training
   window): with every stored feature, and without the ablated ones. It returns
   a scorer for each.
2. Both score the labelled decisions of a later, held-out window. The quality
   lost is the paired difference (without − with) of their ROC AUC, with
   DeLong's correlated interval, and of value per decision when the spec has a
   value model (paired bootstrap; :mod:`loopwatch.evaluation.paired`).
3. The saving per decision is the removed features' ``cost.latency_ms`` and
   ``cost.price_per_call`` from the spec's feature entries, or, for the price,
   the serving cost model's price of a call to the feature's source (or owner).

The recommendation uses the champion/challenger margin and level
(``learning.champion``): **remove** when the ablated model is shown
non-inferior (its AUC is not lower by more than the margin, one-sided at
``alpha``) and its loss is not significant (the 95% interval reaches zero);
**weigh** when the loss is significant but shown within the margin (a small,
real loss: set it against the saving); **keep** when the loss is significant
and not shown within the margin; otherwise **inconclusive**;
**not_enough_data** when the held-out window has fewer labelled positives or
negatives than ``min_class_rows``. The held-out window's labels must have
matured as for champion/challenger; an immature window is reported as such.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from loopwatch.core.spec import Spec
from loopwatch.core.store import DecisionSource
from loopwatch.core.window import Window
from loopwatch.errors import InputError, SpecError
from loopwatch.evaluation.maturity import LabelMaturity
from loopwatch.evaluation.paired import PairedDifference, paired_auc, paired_value
from loopwatch.evaluation.profile_metrics import DEFAULT_THRESHOLD
from loopwatch.learning.champion_rule import decision_values
from loopwatch.learning.training_data import bools, outcome_values, rows_as_of, window_maturity
from loopwatch.storage.profile_history import ProfileHistory

__all__ = ["AblationResult", "FeatureCost", "TrainHook", "ablate", "load_train_hook"]

#: ``train(rows, features, label) -> scorer``: fit on labelled rows using only ``features``.
TrainHook = Callable[[pa.Table, Sequence[str], str], Callable[[pa.Table], npt.ArrayLike]]
Recommendation = Literal["remove", "weigh", "keep", "inconclusive", "not_enough_data", "labels_not_mature"]

#: Held-out window after the training window when none is given.
DEFAULT_HELD_OUT = timedelta(days=14)


def load_train_hook(spec: Spec) -> TrainHook:
    """The function named by the spec's ``learning.train``; a :class:`SpecError` naming the key if not."""
    target = spec.learning.train
    if target is None:
        raise SpecError("learning.train: not set; name the function that retrains the model as "
                        "'module:function' (the fraud simulator's is loopwatch.simulate.retrain:train)")
    module_name, _, attribute = target.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise SpecError(f"learning.train: cannot load {target!r}: {exc}") from exc
    if not callable(found):
        raise SpecError(f"learning.train: {target!r} is not a function")
    hook: TrainHook = found
    return hook


@dataclass(frozen=True)
class FeatureCost:
    """What the removed features cost per decision: latency and price (``None``: not declared)."""

    latency_ms: float | None
    price: float | None
    currency: str
    undeclared: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"latency_ms": self.latency_ms, "price_per_decision": self.price, "currency": self.currency,
                "undeclared": list(self.undeclared)}


def _cost(spec: Spec, removed: Sequence[str]) -> FeatureCost:
    latency: float | None = None
    price: float | None = None
    undeclared: list[str] = []
    calls = spec.serving.cost.calls if spec.serving is not None else {}
    for name in removed:
        feature = spec.feature(name)
        ms, each = feature.cost.latency_ms, feature.cost.price_per_call
        if each is None:
            source = feature.source or feature.owner
            each = calls.get(source) if source else None
        if ms is None and each is None:
            undeclared.append(name)
        if ms is not None:
            latency = (latency or 0.0) + ms
        if each is not None:
            price = (price or 0.0) + each
    currency = spec.serving.cost.currency if spec.serving is not None else "USD"
    return FeatureCost(latency, price, currency, tuple(undeclared))


@dataclass(frozen=True)
class AblationResult:
    """What removing ``removed`` does: quality lost on the held-out window, cost saved, and the verdict.

    ``auc`` and ``value`` are paired differences *without − with* the features
    (negative: quality lost); ``saved`` is what removing them saves per decision.
    """

    removed: tuple[str, ...]
    group: str | None
    train: Window
    held_out: Window
    train_rows: int
    held_out_rows: int
    positives: int
    auc: PairedDifference | None
    value: PairedDifference | None
    saved: FeatureCost
    recommendation: Recommendation
    reason: str
    margin: float
    alpha: float
    maturity: LabelMaturity | None

    @property
    def non_inferiority_p(self) -> float:
        return math.nan if self.auc is None else self.auc.p_at_most(-self.margin)

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON keys; ISO 8601 times; non-finite numbers as null."""
        p = self.non_inferiority_p
        return {"removed": list(self.removed), "group": self.group,
                "train": {"start": self.train.start.isoformat(), "end": self.train.end.isoformat()},
                "held_out": {"start": self.held_out.start.isoformat(), "end": self.held_out.end.isoformat()},
                "train_rows": self.train_rows, "held_out_rows": self.held_out_rows,
                "positives": self.positives,
                "roc_auc": None if self.auc is None else self.auc.to_dict(),
                "value_per_decision": None if self.value is None else self.value.to_dict(),
                "saved": self.saved.to_dict(), "margin": self.margin, "alpha": self.alpha,
                "non_inferiority_p_value": p if math.isfinite(p) else None,
                "recommendation": self.recommendation, "reason": self.reason,
                "maturity": None if self.maturity is None else self.maturity.to_dict()}

    def report(self) -> str:
        """A readable account: what was removed, quality lost, cost saved, the recommendation."""
        what = f"group {self.group} ({', '.join(self.removed)})" if self.group else ", ".join(self.removed)
        lines = [f"without {what}: {self.recommendation.upper().replace('_', ' ')}", f"  {self.reason}"]
        for d in (self.auc, self.value):
            if d is not None:
                lines.append(f"  {d.metric}: {d.champion:.4f} with, {d.challenger:.4f} without "
                             f"(diff {d.difference:+.4f}, {round(100 * d.confidence)}% CI "
                             f"{d.low:+.4f} to {d.high:+.4f})")
        s = self.saved
        latency = "not declared" if s.latency_ms is None else f"{s.latency_ms:g} ms"
        price = "not declared" if s.price is None else f"{s.price:g} {s.currency}"
        lines.append(f"  saved per decision: latency {latency}, price {price}")
        lines.append(f"  trained on {self.train_rows:,} labelled decisions of {self.train}; held out "
                     f"{self.held_out_rows:,} ({self.positives:,} positive) of {self.held_out}")
        return "\n".join(lines)


def _removed(spec: Spec, features: Sequence[str], group: str | None) -> tuple[str, ...]:
    known = [f.name for f in spec.stored_features]
    out: list[str] = []
    if group is not None:
        groups = spec.learning.feature_groups
        if group not in groups:
            raise InputError(f"no feature group {group!r} in learning.feature_groups; the spec has "
                             f"{sorted(groups) or 'none'}")
        for name in groups[group]:
            if name not in known:
                raise SpecError(f"learning.feature_groups.{group}: {name!r} is not a stored feature; "
                                f"expected one of {known}")
        out.extend(groups[group])
    for name in features:
        if name not in known:
            raise InputError(f"no stored feature {name!r}; the spec has {known}")
        out.append(name)
    if not out:
        raise InputError("name a feature or a group to remove")
    out = list(dict.fromkeys(out))
    if len(out) == len(known):
        raise InputError("removing every feature leaves nothing to train on")
    return tuple(out)


def _floats(values: npt.ArrayLike, n: int, what: str) -> npt.NDArray[np.float64]:
    out = np.asarray(values, dtype=np.float64).ravel()
    if out.size != n:
        raise InputError(f"learning.train's scorer ({what}) returned {out.size} scores for {n} decisions")
    return out


def ablate(spec: Spec, *, features: Sequence[str] = (), group: str | None = None,
           train: Window | None = None, held_out: Window | None = None,
           store: DecisionSource | None = None, hook: TrainHook | None = None,
           seed: int = 0) -> AblationResult:
    """Retrain without ``features`` (and the features of ``group``) and weigh quality lost against cost saved.

    Parameters
    ----------
    spec
        The monitored model; ``learning.train`` names the train hook (unless
        ``hook`` is given), ``learning.champion`` the margin and level.
    features, group
        What to remove: feature names, and/or a group of ``learning.feature_groups``.
    train
        Decisions to train on (their labels as stored); default the reference window.
    held_out
        Decisions to compare on; default the 14 days after ``train``.
    store
        Where the decisions are (default: the spec's source).
    hook
        The train function, instead of the spec's.
    seed
        Seed of the value bootstrap.

    Raises
    ------
    InputError
        An unknown feature or group, nothing to remove, or everything.
    SpecError
        ``learning.train`` is not set or cannot be loaded.
    """
    from loopwatch.storage.sources import open_source

    removed = _removed(spec, features, group)
    store = store or open_source(spec)
    train = train or ProfileHistory(store).reference_window()
    held_out = held_out or Window(train.end, train.end + DEFAULT_HELD_OUT)
    if held_out.start < train.end:
        raise InputError(f"the held-out window ({held_out}) must start after the training window ({train}) "
                         "ends; a model is not judged on its own training rows")
    hook = hook or load_train_hook(spec)
    rule = spec.learning.champion
    threshold = float(spec.threshold) if spec.threshold is not None else DEFAULT_THRESHOLD
    label = spec.outcomes.label
    every = [f.name for f in spec.stored_features]
    kept = [f for f in every if f not in removed]
    rows = rows_as_of(store, train, labelled_only=True)
    if rows.num_rows == 0:
        raise InputError(f"the training window {train} holds no labelled decisions")
    test = rows_as_of(store, held_out)
    matured = (window_maturity(store, test, threshold=threshold, maturity=rule.maturity)
               if test.num_rows else None)
    test = test.filter(pc.is_valid(test.column(label)))
    y = bools(test.column(label))
    pos, neg = int(y.sum()), int((~y).sum())
    common: dict[str, Any] = {"removed": removed, "group": group, "train": train, "held_out": held_out,
                              "train_rows": rows.num_rows, "held_out_rows": test.num_rows, "positives": pos,
                              "saved": _cost(spec, removed), "margin": rule.margin, "alpha": rule.alpha,
                              "maturity": matured}
    if min(pos, neg) < rule.min_class_rows:
        return AblationResult(auc=None, value=None, recommendation="not_enough_data",
                              reason=f"the held-out window has {pos} labelled positives and {neg} negatives; "
                                     f"the comparison needs {rule.min_class_rows} of each", **common)
    # the two fits are the costly part: none when the held-out window cannot judge them
    full, ablated = hook(rows, every, label), hook(rows, kept, label)
    with_scores = _floats(full(test), test.num_rows, "with every feature")
    without = _floats(ablated(test), test.num_rows, "without")
    auc = paired_auc(y, with_scores, without)
    value = None
    if spec.value is not None:
        amounts = outcome_values(test, spec)
        value = paired_value(decision_values(y, with_scores >= threshold, amounts, spec.value),
                             decision_values(y, without >= threshold, amounts, spec.value), seed=seed)
    recommendation, reason = _recommend(auc, common["saved"], rule.margin, rule.alpha, matured)
    return AblationResult(auc=auc, value=value, recommendation=recommendation, reason=reason, **common)


def _recommend(auc: PairedDifference, saved: FeatureCost, margin: float, alpha: float,
               matured: LabelMaturity | None) -> tuple[Recommendation, str]:
    if matured is not None and not matured.mature:
        return "labels_not_mature", ("the held-out window's labels have not matured (coverage per score "
                                     "stratum below the reference's); choose an earlier window or wait")
    p = auc.p_at_most(-margin)
    significant = auc.high < 0
    loss = (f"ROC AUC {auc.difference:+.4f} (95% CI {auc.low:+.4f} to {auc.high:+.4f}), "
            f"{'a significant loss' if significant else 'no significant loss'}")
    gain = []
    if saved.latency_ms is not None:
        gain.append(f"{saved.latency_ms:g} ms")
    if saved.price is not None:
        gain.append(f"{saved.price:g} {saved.currency}")
    saving = f"; saves {' and '.join(gain)} per decision" if gain else "; its cost is not declared"
    if p <= alpha and not significant:
        return "remove", f"{loss}, within the margin {margin:g} (p = {p:.3g}){saving}"
    if p <= alpha:
        return "weigh", f"{loss}, small enough to be within the margin {margin:g} (p = {p:.3g}){saving}"
    if significant:
        return "keep", f"{loss}, beyond what the margin {margin:g} allows (p = {p:.3g})"
    return "inconclusive", (f"{loss}, but not shown within the margin {margin:g} (p = {p:.3g}); "
                            "a longer held-out window would tell")
