"""Computing a decision's features: timeouts, caches that report staleness, the fallback chain.

Each feature of the spec is served by the first link of its chain that works:
``primary`` (the feature step, or the request's own value) → ``cache`` (a value
computed earlier for the same key, while not older than the step's stale limit) →
``rule`` (the spec's ``fallback`` value) → ``default`` (missing). Every link after
the first is a :class:`~loopwatch.prediction.decision.Fallback` in the decision's
chain, with the reason code: ``timeout``, ``error``, ``invalid`` (a value of the
wrong type), ``missing`` (no value, and the spec declares a fallback) or
``disabled`` (a mitigation turned the feature off).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from loopwatch.core.flags import FlagSet
from loopwatch.core.spec import Feature, Spec
from loopwatch.prediction.decision import Fallback
from loopwatch.prediction.steps import FeatureStep

__all__ = ["FeatureResult", "Features"]


@dataclass
class FeatureResult:
    """The features served for one decision, how each was served, and what they cost."""

    values: dict[str, Any]
    fallbacks: list[Fallback] = field(default_factory=list)
    steps_ms: dict[str, float] = field(default_factory=dict)
    cpu_s: float = 0.0
    calls: dict[str, int] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)


def _valid(feature: Feature, value: Any) -> bool:
    if feature.dtype == "numeric":
        return isinstance(value, int | float) and (not isinstance(value, float) or not math.isnan(value))
    if feature.dtype == "boolean":
        return isinstance(value, bool)
    return isinstance(value, str)


class _Cache:
    """Least-recently-used values of one feature, with the time each was computed."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[Any, tuple[Any, float]] = OrderedDict()

    def get(self, key: Any) -> tuple[Any, float] | None:
        found = self.entries.get(key)
        if found is not None:
            self.entries.move_to_end(key)
        return found

    def put(self, key: Any, value: Any, now: float) -> None:
        self.entries[key] = (value, now)
        self.entries.move_to_end(key)
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)


class Features:
    """The feature steps of a loop, run for one request at a time on the event loop.

    Features without a step are read from the request's inputs.
    """

    def __init__(self, spec: Spec, steps: Sequence[FeatureStep], *,
                 executor: ThreadPoolExecutor | None = None) -> None:
        known = {f.name for f in spec.features}
        by_name: dict[str, FeatureStep] = {}
        for i, step in enumerate(steps):
            if step.name not in known:
                raise ValueError(f"features[{i}]: {step.name!r} is not a feature of the spec "
                                 f"(it has {sorted(known)})")
            if step.name in by_name:
                raise ValueError(f"features[{i}]: {step.name!r} is declared twice")
            by_name[step.name] = step
        self.spec = spec
        self.steps = by_name
        self._executor = executor
        self._caches = {name: _Cache(s.cache_size) for name, s in by_name.items()
                        if s.cache_ttl_s is not None}
        self._plain = [f for f in spec.features if f.name not in by_name]

    def _source(self, feature: Feature, step: FeatureStep) -> str:
        return step.source or feature.owner or feature.name

    async def compute(self, inputs: Mapping[str, Any], flags: FlagSet) -> FeatureResult:
        """The features of one request, each served by the first link of its chain that works."""
        result = FeatureResult(values={})
        values = result.values
        for feature in self._plain:
            disabled = flags.disabled(feature.name) if flags else None
            if disabled is not None:
                self._fallback(result, feature, "disabled", detail=disabled.id)
                result.flags.append(disabled.id)
                continue
            value = inputs.get(feature.name)
            if value is None:
                if feature.fallback is not None:
                    self._fallback(result, feature, "missing")
                else:
                    values[feature.name] = None
            elif _valid(feature, value):
                values[feature.name] = value
            else:
                self._fallback(result, feature, "invalid")
        if self.steps:
            waiting = [self._run(result, self.spec.feature(name), step, inputs, flags)
                       for name, step in self.steps.items()]
            await asyncio.gather(*waiting)
        return result

    async def _run(self, result: FeatureResult, feature: Feature, step: FeatureStep,
                   inputs: Mapping[str, Any], flags: FlagSet) -> None:
        disabled = flags.disabled(feature.name) if flags else None
        if disabled is not None:
            self._fallback(result, feature, "disabled", detail=disabled.id)
            result.flags.append(disabled.id)
            return
        cache = self._caches.get(feature.name)
        key = inputs.get(step.cache_key) if cache is not None and step.cache_key else None
        now = time.monotonic()
        if cache is not None and key is not None:
            hit = cache.get(key)
            if hit is not None and now - hit[1] < (step.cache_ttl_s or 0):
                result.values[feature.name] = hit[0]
                result.steps_ms[f"feature.{feature.name}"] = 0.0
                return
        wall0 = time.perf_counter()
        reason, value = await self._call(result, step, inputs)
        result.steps_ms[f"feature.{feature.name}"] = round((time.perf_counter() - wall0) * 1e3, 4)
        if reason is None:
            source = self._source(feature, step)
            result.calls[source] = result.calls.get(source, 0) + 1
            if value is None and feature.fallback is not None:
                reason = "missing"
            elif value is not None and not _valid(feature, value):
                reason = "invalid"
        if reason is None:
            result.values[feature.name] = value
            if cache is not None and key is not None and value is not None:
                cache.put(key, value, time.monotonic())
            return
        if cache is not None and key is not None:
            hit = cache.get(key)
            if hit is not None and time.monotonic() - hit[1] <= step.stale_limit_s:
                age = time.monotonic() - hit[1]
                result.values[feature.name] = hit[0]
                result.fallbacks.append(Fallback(step=f"feature.{feature.name}", served="cache",
                                                 reason=reason, detail=f"age_s={age:.1f}"))
                return
        self._fallback(result, feature, reason)

    async def _call(self, result: FeatureResult, step: FeatureStep,
                    inputs: Mapping[str, Any]) -> tuple[str | None, Any]:
        assert step.compute is not None
        timeout = None if step.timeout_ms is None else step.timeout_ms / 1e3
        try:
            if step.is_async:
                return None, await asyncio.wait_for(step.compute(inputs), timeout)
            if timeout is None:
                cpu0 = time.thread_time()
                try:
                    return None, step.compute(inputs)
                finally:
                    result.cpu_s += time.thread_time() - cpu0
            loop = asyncio.get_running_loop()
            return None, await asyncio.wait_for(
                loop.run_in_executor(self._executor, _timed, step, inputs, result), timeout)
        except TimeoutError:
            return "timeout", None
        except Exception:
            return "error", None

    def _fallback(self, result: FeatureResult, feature: Feature, reason: str, *,
                  detail: str | None = None) -> None:
        served = "rule" if feature.fallback is not None else "default"
        result.values[feature.name] = feature.fallback
        result.fallbacks.append(Fallback(step=f"feature.{feature.name}", served=served,
                                         reason=reason, detail=detail))


def _timed(step: FeatureStep, inputs: Mapping[str, Any], result: FeatureResult) -> Any:
    """Run a plain feature function on a worker thread, adding its CPU time to the result."""
    assert step.compute is not None
    cpu0 = time.thread_time()
    try:
        return step.compute(inputs)
    finally:
        result.cpu_s += time.thread_time() - cpu0
