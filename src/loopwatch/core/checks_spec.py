"""The spec's ``checks:`` block: each built-in check's parameters, validated like the rest.

Every key has the check's own default, so an empty block (or none) runs the checks
as they are built with no arguments; a key set here is passed to the check's
constructor by the monitoring job. A plugin check takes its keyword arguments from
``plugins: {name: {...}}``; ``disabled`` lists checks not to run. Errors name the
key path (``checks.volume.page_ratio: ...``), and an unknown key gets a "did you
mean".

Examples
--------
>>> checks = Checks.model_validate({"volume": {"page_ratio": 0.3}, "disabled": ["drift"]})
>>> checks.arguments("volume")["page_ratio"], checks.arguments("volume")["spike_ratio"]
(0.3, 2.0)
>>> checks.enabled(["health", "drift", "volume"])
['health', 'volume']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "Checks",
    "CoverageParams",
    "DriftParams",
    "HealthParams",
    "PerformanceParams",
    "SystemParams",
    "VolumeParams",
]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HealthParams(_Params):
    """``health``: the smallest change of a missing or out-of-range share reported (absolute),
    and the smallest mean shift reported (in baseline standard deviations)."""

    min_change: float = Field(default=0.01, gt=0, lt=1)
    min_mean_effect: float = Field(default=0.5, gt=0)


class DriftParams(_Params):
    """``drift``: the smallest noise-corrected divergence reported (PSI scale), and the share
    of an even importance a feature needs to be checked per cohort as well."""

    min_effect: float = Field(default=0.01, gt=0)
    cohort_importance: float = Field(default=0.5, ge=0)


class CoverageParams(_Params):
    """``coverage``: an entity pages when its coverage falls to ``collapse`` × the expected."""

    collapse: float = Field(default=0.5, gt=0, lt=1)


class VolumeParams(_Params):
    """``volume``: a drop to ``page_ratio`` of the seasonal expectation pages, to
    ``warning_ratio`` warns; a rise to ``spike_ratio`` warns."""

    page_ratio: float = Field(default=0.5, gt=0, lt=1)
    warning_ratio: float = Field(default=0.7, gt=0, lt=1)
    spike_ratio: float = Field(default=2.0, gt=1)

    @model_validator(mode="after")
    def _ordered(self) -> VolumeParams:
        if self.page_ratio > self.warning_ratio:
            raise ValueError(f"page_ratio ({self.page_ratio}) must not exceed warning_ratio "
                             f"({self.warning_ratio})")
        return self


class SystemParams(_Params):
    """``system`` (without SLOs): the error-rate rise that pages and warns (absolute), and
    the factor over the baseline's p99 latency that warns."""

    page_error_rise: float = Field(default=0.05, gt=0, lt=1)
    warning_error_rise: float = Field(default=0.01, gt=0, lt=1)
    latency_factor: float = Field(default=2.0, gt=1)

    @model_validator(mode="after")
    def _ordered(self) -> SystemParams:
        if self.warning_error_rise > self.page_error_rise:
            raise ValueError(f"warning_error_rise ({self.warning_error_rise}) must not exceed "
                             f"page_error_rise ({self.page_error_rise})")
        return self


class PerformanceParams(_Params):
    """``performance``: the length of the window compared, how far before the run it may
    end, and the share of the reference's label coverage it must reach."""

    window: str = "7d"
    max_lag: str = "42d"
    maturity: float = Field(default=0.9, gt=0, le=1)

    @field_validator("window", "max_lag")
    @classmethod
    def _duration(cls, value: str) -> str:
        from loopwatch.core.spec import parse_duration

        if parse_duration(value).total_seconds() % 86400:
            raise ValueError(f"expected whole days (profiles are daily); got {value!r}")
        return value


class Checks(_Params):
    """Parameters of each check (``checks:`` in the spec)."""

    health: HealthParams = HealthParams()
    drift: DriftParams = DriftParams()
    coverage: CoverageParams = CoverageParams()
    volume: VolumeParams = VolumeParams()
    system: SystemParams = SystemParams()
    performance: PerformanceParams = PerformanceParams()
    #: keyword arguments of plugin checks, by registered name
    plugins: Mapping[str, Mapping[str, Any]] = Field(default_factory=dict)
    #: checks not to run
    disabled: tuple[str, ...] = ()

    @field_validator("plugins")
    @classmethod
    def _not_built_in(cls, value: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Mapping[str, Any]]:
        for name in value:
            if name in _BUILT_IN:
                raise ValueError(f"{name!r} is a built-in check; set its parameters under "
                                 f"checks.{name}")
        return value

    def arguments(self, name: str) -> dict[str, Any]:
        """The keyword arguments the check registered as ``name`` is built with."""
        built_in = getattr(self, name, None) if name in _BUILT_IN else None
        if isinstance(built_in, _Params):
            return built_in.model_dump()
        return dict(self.plugins.get(name, {}))

    def enabled(self, names: Iterable[str]) -> list[str]:
        """``names`` without the disabled checks, in order."""
        return [n for n in names if n not in self.disabled]


_BUILT_IN = ("health", "drift", "coverage", "volume", "system", "performance")
