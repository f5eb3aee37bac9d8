"""A small decision loop for tests: a spec with a serving block, models that can be made to fail.

The helpers are handed to tests as the ``kit`` fixture (tests are not a package).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from loopwatch.core.spec import Spec, spec_from_mapping
from loopwatch.prediction.models import Model

FEATURES = ["amount", "ip_risk", "country"]


def serving_spec(store: Path | str, **serving: Any) -> Spec:
    return spec_from_mapping({
        "model": "fraud",
        "store": str(store),
        "features": [
            {"name": "amount", "dtype": "numeric", "owner": "payments"},
            {"name": "ip_risk", "dtype": "numeric", "owner": "trust", "fallback": 0.5},
            {"name": "country", "dtype": "categorical", "owner": "geo"},
        ],
        "cohorts": ["region"],
        "threshold": 0.5,
        "serving": {"cost": {"cpu_second": 1.0, "calls": {"trust": 0.01}}, **serving},
    })


def linear(version: str = "v2", *, weight: float = 1.0, poison: float | None = None) -> Model:
    """score = clip(weight × amount / 1000 + ip_risk / 10); raises on a batch holding ``poison``."""

    def predict(x: np.ndarray) -> np.ndarray:
        if poison is not None and np.any(x[:, 0] == poison):
            raise ValueError(f"cannot score amount {poison}")
        risk = np.nan_to_num(x[:, 1], nan=0.0)
        out: np.ndarray = np.clip(weight * x[:, 0] / 1000 + risk / 10, 0, 1)
        return out

    return Model(predictor=predict, version=version, features=FEATURES,
                 categories={"country": ["FR", "DE", "US"]})


def broken(version: str = "broken-1") -> Model:
    def predict(x: np.ndarray) -> np.ndarray:
        raise RuntimeError("model server is down")

    return Model(predictor=predict, version=version, features=FEATURES,
                 categories={"country": ["FR", "DE", "US"]})


def inputs(amount: float, **extra: Any) -> Mapping[str, Any]:
    return {"amount": amount, "ip_risk": 0.0, "country": "FR", "region": "EU", **extra}


class Kit:
    serving_spec = staticmethod(serving_spec)
    linear = staticmethod(linear)
    broken = staticmethod(broken)
    inputs = staticmethod(inputs)
    features = FEATURES


@pytest.fixture
def kit() -> type[Kit]:
    return Kit
