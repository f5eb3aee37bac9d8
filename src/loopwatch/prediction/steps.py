"""What a decision loop is made of: feature steps, safety rules, actions.

These are declarations, validated at construction (keyword-only parameters); the
runtime that uses them is :class:`~loopwatch.prediction.loop.DecisionLoop`. A
feature's owner and fallback value live in the spec (monitoring reads them too);
how it is computed, its timeout and its cache live here, in code.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Actions", "FeatureStep", "SafetyRule"]

Compute = Callable[[Mapping[str, Any]], Any] | Callable[[Mapping[str, Any]], Awaitable[Any]]


def _seconds(name: str, value: float | None, *, allow_zero: bool = False) -> None:
    if value is None:
        return
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}; got {value!r}")


@dataclass(frozen=True, kw_only=True)
class FeatureStep:
    """How one feature of the spec is computed for a decision.

    Parameters
    ----------
    name
        A feature of the spec.
    compute
        ``compute(inputs) -> value``, a function or a coroutine function; ``None``
        reads ``inputs[name]`` (a feature the caller sends).
    timeout_ms
        Past this, the feature serves its fallback. A coroutine is cancelled; a plain
        function runs on a worker thread and its late result is dropped. ``None``: a
        plain function runs inline, without a timeout.
    cache_ttl_s
        Keep computed values for this long, by ``cache_key``; a hit skips the call.
    max_stale_s
        When the call fails, a cached value up to this old is served instead (with its
        age logged). Default: ten times ``cache_ttl_s``.
    cache_key
        The input that identifies a value in the cache (e.g. ``card_id``).
    source
        The feature source a call is priced as (``serving.cost.calls``); default:
        the feature's owner in the spec.
    cache_size
        Most values kept (least recently used are dropped first).

    Examples
    --------
    >>> step = FeatureStep(name="ip_risk", compute=lambda inputs: 0.2, timeout_ms=20)
    >>> step.timeout_ms
    20
    >>> FeatureStep(name="ip_risk", cache_ttl_s=60)
    Traceback (most recent call last):
    ...
    ValueError: feature 'ip_risk': cache_ttl_s needs cache_key (the input that identifies a value)
    """

    name: str
    compute: Compute | None = None
    timeout_ms: float | None = None
    cache_ttl_s: float | None = None
    max_stale_s: float | None = None
    cache_key: str | None = None
    source: str | None = None
    cache_size: int = 100_000
    is_async: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a feature's name; got {self.name!r}")
        if self.compute is not None and not callable(self.compute):
            raise ValueError(f"feature {self.name!r}: compute must be callable; got {self.compute!r}")
        _seconds(f"feature {self.name!r}: timeout_ms", self.timeout_ms)
        _seconds(f"feature {self.name!r}: cache_ttl_s", self.cache_ttl_s)
        _seconds(f"feature {self.name!r}: max_stale_s", self.max_stale_s, allow_zero=True)
        if self.cache_ttl_s is not None and not self.cache_key:
            raise ValueError(f"feature {self.name!r}: cache_ttl_s needs cache_key "
                             "(the input that identifies a value)")
        if self.cache_ttl_s is not None and self.compute is None:
            raise ValueError(f"feature {self.name!r}: a feature read from the inputs has "
                             "nothing to cache")
        if self.timeout_ms is not None and self.compute is None:
            raise ValueError(f"feature {self.name!r}: a feature read from the inputs has "
                             "nothing to time out")
        if isinstance(self.cache_size, bool) or not isinstance(self.cache_size, int) \
                or self.cache_size < 1:
            raise ValueError(f"feature {self.name!r}: cache_size must be an integer >= 1; "
                             f"got {self.cache_size!r}")
        object.__setattr__(self, "is_async", inspect.iscoroutinefunction(self.compute))

    @property
    def stale_limit_s(self) -> float:
        """How old a cached value may be and still be served when the call fails."""
        if self.max_stale_s is not None:
            return self.max_stale_s
        return 10 * self.cache_ttl_s if self.cache_ttl_s is not None else 0.0


@dataclass(frozen=True, kw_only=True)
class SafetyRule:
    """A rule that overrides the model: when ``when(row)`` holds, the action is ``action``.

    ``row`` holds the request's inputs and the features served. Rules are tried in
    order and the first that holds decides. A rule whose test raises is applied
    (fail closed: a safety rule that cannot be checked is not skipped), and the
    error is logged in the fallback chain.

    Examples
    --------
    >>> rule = SafetyRule(name="large_amount", when=lambda row: row["amount"] > 10_000,
    ...                   action="review")
    >>> rule.when({"amount": 25_000})
    True
    """

    name: str
    when: Callable[[Mapping[str, Any]], bool]
    action: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string; got {self.name!r}")
        if not callable(self.when):
            raise ValueError(f"rule {self.name!r}: when must be callable; got {self.when!r}")
        if not isinstance(self.action, str) or not self.action:
            raise ValueError(f"rule {self.name!r}: action must be a non-empty string; "
                             f"got {self.action!r}")


@dataclass(frozen=True, kw_only=True)
class Actions:
    """From a score to an action: the highest threshold the score reaches decides.

    Parameters
    ----------
    thresholds
        ``{action: lowest score}``, e.g. ``{"block": 0.8, "review": 0.5}``.
    default
        The action below every threshold (``approve``).
    review
        The action a review-threshold mitigation sends decisions to.
    on_failure
        The action when no score can be had (model and baseline failed, or the
        request was shed): the decision still gets an action and its reason.

    Examples
    --------
    >>> actions = Actions(thresholds={"block": 0.8, "review": 0.5})
    >>> actions.decide(0.9), actions.decide(0.6), actions.decide(0.1)
    (('block', 0.8), ('review', 0.5), ('approve', None))
    """

    thresholds: Mapping[str, float]
    default: str = "approve"
    review: str = "review"
    on_failure: str = "review"
    _ordered: tuple[tuple[str, float], ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        if not isinstance(self.thresholds, Mapping) or not self.thresholds:
            raise ValueError(f"thresholds must map actions to scores; got {self.thresholds!r}")
        for action, value in self.thresholds.items():
            if not isinstance(value, int | float) or isinstance(value, bool) \
                    or not math.isfinite(value):
                raise ValueError(f"thresholds[{action!r}] must be a finite number; got {value!r}")
        if self.default in self.thresholds:
            raise ValueError(f"default action {self.default!r} must not have a threshold")
        ordered = tuple(sorted(((a, float(v)) for a, v in self.thresholds.items()),
                               key=lambda item: -item[1]))
        object.__setattr__(self, "thresholds", dict(self.thresholds))
        object.__setattr__(self, "_ordered", ordered)

    def decide(self, score: float) -> tuple[str, float | None]:
        """The action for ``score`` and the threshold it reached (``None`` for the default)."""
        for action, threshold in self._ordered:
            if score >= threshold:
                return action, threshold
        return self.default, None

    @property
    def review_threshold(self) -> float | None:
        """The score from which the model sends a decision to review (the spec's threshold)."""
        return self.thresholds.get(self.review)
