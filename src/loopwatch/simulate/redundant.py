"""The ablation scenario: the fraud simulator with an expensive feature built to be redundant.

:func:`with_redundant_feature` takes a simulated run and adds one feature to its
decisions and its spec: a second IP-reputation vendor's score, which is the first
vendor's ``ip_risk_score`` plus a little noise, so it carries no information the
model does not already have, at a latency and a price per call of its own (a paid
API). It is derived after the run, from a random stream of its own, so every
other column of the run is the seeded simulator's, unchanged. ``loopwatch
ablate --feature ip_risk_vendor_b`` should find it removable; removing
``ip_risk_score`` as well should not be.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loopwatch.core.spec import Spec
from loopwatch.simulate.fraud import SimulationResult

__all__ = ["REDUNDANT_FEATURE", "with_redundant_feature"]

#: The added feature's name.
REDUNDANT_FEATURE = "ip_risk_vendor_b"
_SOURCE = "ip-vendor-b"


def _spec(spec: Spec, *, latency_ms: float, price: float) -> Spec:
    entry: dict[str, Any] = {
        "name": REDUNDANT_FEATURE, "dtype": "numeric", "owner": "trust-and-safety", "source": _SOURCE,
        "description": "A second vendor's IP reputation score (redundant with ip_risk_score, built so).",
        "cost": {"latency_ms": latency_ms, "price_per_call": price}, "derived_from": [_SOURCE]}
    data = spec.model_dump(mode="json", exclude_none=True)
    data["features"] = [*data["features"], entry]
    return Spec.model_validate({**data, "base_dir": spec.base_dir})


def with_redundant_feature(result: SimulationResult, *, noise: float = 0.03, latency_ms: float = 45.0,
                           price: float = 0.004, seed: int = 0) -> SimulationResult:
    """``result`` with :data:`REDUNDANT_FEATURE` in its decisions and spec (module docstring).

    ``noise`` is the standard deviation of the vendor's disagreement with
    ``ip_risk_score`` (clipped to [0, 1], rounded to 3 decimals); ``latency_ms``
    and ``price`` its cost per decision.
    """
    decisions = result.decisions
    base = np.asarray(pc.fill_null(decisions.column("ip_risk_score"), np.nan).to_numpy(zero_copy_only=False),
                      dtype=np.float64)
    rng = np.random.default_rng([seed, 900])
    vendor = np.round(np.clip(base + rng.normal(0.0, noise, base.size), 0.0, 1.0), 3)
    column = pa.array(vendor, pa.float64(), mask=np.isnan(base))
    spec = _spec(result.spec, latency_ms=latency_ms, price=price)
    return replace(result, decisions=decisions.append_column(REDUNDANT_FEATURE, column), spec=spec)
