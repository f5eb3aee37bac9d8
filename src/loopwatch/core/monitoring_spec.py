"""The spec's ``monitoring:`` block: the windows a run compares, its FDR, and what pages or warns."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from loopwatch.core.durations import parse_duration

__all__ = ["Monitoring", "Slo"]


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Slo(_Block):
    """Service-level objectives of the prediction loop; ``None`` compares with the baseline."""

    latency_p99_ms: float | None = Field(default=None, gt=0)
    error_rate: float | None = Field(default=None, ge=0, le=1)


class Monitoring(_Block):
    """How the monitoring job compares windows and grades what it finds.

    ``current`` is the window checked (ending at the run's ``--as-of``), ``trend``
    a longer current window for health and drift (slow changes), ``baseline`` the
    window just before ``current`` they are compared with. Severity follows the
    impact on decisions: the share by which a finding is estimated to move the
    positive-decision rate (``page_impact``, ``warning_impact``), or the share of
    the model's input signal lost (rows that lost a feature × its importance share:
    ``page_input_loss``, ``warning_input_loss``).
    """

    current: str = "1d"
    trend: str = "7d"
    baseline: str = "30d"
    fdr: float = Field(default=0.05, gt=0, lt=1)
    page_impact: float = Field(default=0.25, gt=0)
    warning_impact: float = Field(default=0.1, gt=0)
    page_input_loss: float = Field(default=0.05, gt=0, le=1)
    warning_input_loss: float = Field(default=0.02, gt=0, le=1)
    min_decisions: int = Field(default=30, ge=1)
    slo: Slo = Slo()

    @field_validator("current", "trend", "baseline")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Monitoring:
        if self.warning_impact > self.page_impact:
            raise ValueError(f"warning_impact ({self.warning_impact}) must not exceed "
                             f"page_impact ({self.page_impact})")
        return self
