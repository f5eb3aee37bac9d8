"""A simulated production system with injectable incidents, for demos, tests and benchmarks.

Importing this package loads scikit-learn (the simulated model); ``import loopwatch``
does not import it.
"""

from __future__ import annotations

from loopwatch.simulate.fraud import (
    INCIDENT_KINDS,
    SimulationConfig,
    SimulationResult,
    simulate,
    write_simulation,
)

__all__ = [
    "INCIDENT_KINDS",
    "SimulationConfig",
    "SimulationResult",
    "simulate",
    "write_simulation",
]
