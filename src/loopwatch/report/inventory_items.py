"""The inventory's unit of answer: an :class:`Item` (what a person reads, the figures behind it, where it
comes from, whether it is a gap), and how metrics read in one."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from loopwatch.evaluation.metrics import Metric
from loopwatch.report.build import RATE_METRICS

__all__ = ["Item", "Source", "metric_item", "metric_text", "pct"]

Source = Literal["spec", "logs", "control plane", "registry"]


@dataclass(frozen=True)
class Item:
    """One answer: a label, the text a person reads, the figures behind it, where it comes from, and
    whether it is a gap (something nobody recorded)."""

    label: str
    text: str
    source: Source
    data: Any = None
    gap: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "text": self.text, "source": self.source, "gap": self.gap,
                "data": _jsonable(self.data)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Metric):
        return value.to_dict()
    return value


def pct(value: float, digits: int = 1) -> str:
    return "–" if not math.isfinite(value) else f"{value:.{digits}%}"


def metric_text(m: Metric) -> str:
    rate = m.name in RATE_METRICS

    def show(v: float) -> str:
        return pct(v) if rate else f"{v:.3f}"

    if m.status == "undefined" or not math.isfinite(m.value):
        return f"no value (n={m.n:,})"
    text = f"{show(m.value)}"
    if math.isfinite(m.low) and math.isfinite(m.high):
        text += f" [{show(m.low)}, {show(m.high)}]"
    text += f", n={m.n:,}"
    if m.status == "not_enough_data":
        text += f" — not enough data ({m.reason})" if m.reason else " — not enough data"
    return text


def metric_item(label: str, m: Metric | None, source: Source = "logs") -> Item:
    if m is None:
        return Item(label, "not measured", source, gap=True)
    return Item(label, metric_text(m), source, m, gap=m.status != "ok")
