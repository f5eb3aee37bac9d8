"""What the loop returns and logs for each request: a :class:`Decision`, with its fallback chain.

Routes (who decided): ``primary`` (the model), ``canary`` (the challenger, on its
share), ``cheap`` (the cheap model of a cascade, when it was confident),
``baseline`` (the baseline model, by a mitigation or because the model failed),
``holdout`` (the baseline policy, on the randomized holdout share), ``default``
(no score could be had: the failure action) and ``shed`` (the deadline could not
be met: the failure action, without queueing).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Decision", "DecisionRequest", "Fallback", "Route", "input_hash"]

Route = Literal["primary", "canary", "cheap", "baseline", "holdout", "default", "shed"]


@dataclass(frozen=True, slots=True)
class Fallback:
    """One link of a decision's fallback chain: which step served what instead, and why.

    ``served`` is ``cache``, ``rule``, ``default`` (features), ``baseline`` or
    ``default`` (the score); ``reason`` a code such as ``timeout``, ``error``,
    ``invalid``, ``missing``, ``disabled``, ``model_error`` or ``deadline``.
    """

    step: str
    served: str
    reason: str
    detail: str | None = None

    def to_dict(self) -> dict[str, str]:
        out = {"step": self.step, "served": self.served, "reason": self.reason}
        if self.detail is not None:
            out["detail"] = self.detail
        return out


@dataclass(frozen=True, slots=True)
class DecisionRequest:
    """One request: its inputs, an optional id (generated otherwise) and deadline in ms."""

    inputs: Mapping[str, Any]
    decision_id: str | None = None
    deadline_ms: float | None = None


@dataclass(frozen=True)
class Decision:
    """The loop's answer to one request: always an action, and why.

    ``score`` is the acting model's score (the model's, on holdout decisions; ``None``
    when no score could be had). ``latency_ms`` runs from the request's arrival to
    the decision; ``cost`` is priced by the spec's cost model.
    """

    decision_id: str
    action: str
    reason: str
    route: Route
    score: float | None
    model_version: str | None
    threshold: float | None
    features: Mapping[str, Any]
    fallbacks: tuple[Fallback, ...] = ()
    flags: tuple[str, ...] = ()
    rule: str | None = None
    error: str | None = None
    holdout: bool = False
    holdout_probability: float = 0.0
    shadow_score: float | None = None
    shadow_version: str | None = None
    latency_ms: float = 0.0
    cpu_ms: float = 0.0
    cost: float = 0.0
    batch_rows: int = 0
    steps_ms: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The decision as the HTTP API returns it (JSON-ready)."""
        return {
            "decision_id": self.decision_id, "action": self.action, "reason": self.reason,
            "route": self.route, "score": self.score, "model_version": self.model_version,
            "threshold": self.threshold, "rule": self.rule, "error": self.error,
            "fallbacks": [f.to_dict() for f in self.fallbacks], "flags": list(self.flags),
            "holdout": self.holdout, "latency_ms": round(self.latency_ms, 3),
            "cost": self.cost,
        }


def input_hash(values: Mapping[str, Any]) -> str:
    """A short SHA-256 of a request's features, naming a poisoned request in logs without its data.

    Examples
    --------
    >>> input_hash({"amount": 12.5, "card": "debit"}) == input_hash({"card": "debit", "amount": 12.5})
    True
    """
    text = json.dumps(dict(values), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
