"""A simulated card-fraud decision system with injectable incidents.

:func:`simulate` generates a run of the system: every decision (features,
cohorts, score, action, latency, cost, error, source), the outcomes observed
before the end of the run, the :class:`~loopwatch.core.spec.Spec` that
describes it and the ground truth of the incidents injected.
:func:`write_simulation` writes a run to a self-contained directory.

The world is described in :mod:`loopwatch.simulate.world`, the model in
:mod:`loopwatch.simulate.model` and the incidents in
:mod:`loopwatch.simulate.incidents`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from loopwatch.core.learning_spec import Learning
from loopwatch.core.spec import Feature, Reference, Spec, load_spec
from loopwatch.errors import InputError
from loopwatch.simulate import world
from loopwatch.simulate.incidents import (
    INCIDENT_KINDS,
    REFERENCE_DAYS,
    IncidentKind,
    Occurrence,
    registered_incidents,
    schedule,
)
from loopwatch.simulate.model import (
    BLOCK_THRESHOLD,
    REVIEW_THRESHOLD,
    FraudModel,
    feature_matrix,
    train_model,
)
from loopwatch.simulate.tables import decision_ids, decisions_table, outcomes_table
from loopwatch.simulate.world import (
    BOOLEAN_FEATURES,
    CATEGORICAL_FEATURES,
    DAY_US,
    Frame,
)
from loopwatch.storage.parquet_store import ParquetStore

__all__ = [
    "BLOCK_THRESHOLD",
    "INCIDENT_KINDS",
    "MODEL_ID",
    "REVIEW_THRESHOLD",
    "SimulationConfig",
    "SimulationResult",
    "simulate",
    "write_simulation",
]

MODEL_ID = "card-fraud"
_TRAIN_DAYS = 14
_TRAIN_ROWS = 50_000
_IMPORTANCE_ROWS = 20_000
_FILES = ("loopwatch.yaml", "ground_truth.json", "store")

_FEATURES: dict[str, tuple[str, str]] = {
    # name: (owner, description)
    "amount": ("payments-platform", "Transaction amount in US dollars."),
    "account_age_days": ("customer-profile", "Days since the customer's account was opened."),
    "distance_km": ("geo-signals", "Distance between the transaction and the customer's home."),
    "txn_count_24h": ("velocity-service", "The card's transactions in the previous 24 hours."),
    "velocity_ratio": ("velocity-service",
                       "Amount over the customer's 30-day average amount."),
    "hour_of_day": ("payments-platform", "Hour of day of the transaction (UTC)."),
    "ip_risk_score": ("trust-and-safety", "IP reputation score from 0 (clean) to 1 (risky)."),
    "failed_logins_7d": ("customer-profile",
                         "Failed logins to the account in the previous 7 days."),
    "merchant_category": ("payments-platform", "Category of the merchant."),
    "card_type": ("payments-platform", "credit, debit or prepaid."),
    "country_mismatch": ("geo-signals", "Card country differs from the transaction country."),
    "card_present": ("payments-platform", "The physical card was present (point of sale)."),
    "billing_shipping_match": ("payments-platform",
                               "Billing and shipping addresses match (always true at POS)."),
}


@dataclass(frozen=True, kw_only=True)
class SimulationConfig:
    """What to simulate.

    Parameters
    ----------
    days
        Length of the run; the first 30 days (or all of a shorter run) are the
        healthy reference period.
    decisions_per_day
        Average decisions per day before incidents (a ``harmless_shift`` adds traffic).
    incidents
        Incident kinds to inject: ``("all",)``, a tuple of names from
        :data:`INCIDENT_KINDS`, or ``()`` for a healthy run.
    seed
        The same seed gives identical tables.
    start
        Start of the run: a time-zone-aware time on a whole hour (in UTC).

    Examples
    --------
    >>> SimulationConfig(days=10, incidents=("unit_change",)).incidents
    ('unit_change',)
    >>> SimulationConfig(incidents=("unit_chnage",))
    Traceback (most recent call last):
    ...
    ValueError: unknown incident 'unit_chnage' in incidents; expected 'all' or one of: ...
    """

    days: int = 90
    decisions_per_day: int = 20_000
    incidents: tuple[str, ...] = ("all",)
    seed: int = 7
    start: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))

    def __post_init__(self) -> None:
        if isinstance(self.incidents, str):
            raise ValueError(f"incidents must be a tuple of names; got the string "
                             f"{self.incidents!r} (write ({self.incidents!r},))")
        object.__setattr__(self, "incidents", tuple(self.incidents))
        if self.days < 2:
            raise ValueError(f"days must be >= 2; got {self.days}")
        if self.decisions_per_day < 100:
            raise ValueError(f"decisions_per_day must be >= 100; got {self.decisions_per_day}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0; got {self.seed}")
        if self.start.tzinfo is None:
            raise ValueError(f"start must be time-zone aware (e.g. tzinfo=UTC); got {self.start}")
        utc = self.start.astimezone(UTC)
        if (utc.minute, utc.second, utc.microsecond) != (0, 0, 0):
            raise ValueError(f"start must be on a whole hour; got {self.start.isoformat()}")
        known = self.registry()
        for name in self.incidents:
            if name != "all" and name not in known:
                raise ValueError(f"unknown incident {name!r} in incidents; expected 'all' or "
                                 f"one of: {', '.join(sorted(known))}")

    @property
    def incident_kinds(self) -> tuple[str, ...]:
        """The incident kinds to inject, ``all`` expanded, in registration order."""
        known = self.registry()
        if "all" in self.incidents:
            return tuple(known)
        return tuple(name for name in known if name in self.incidents)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)

    def registry(self) -> dict[str, IncidentKind]:
        """The incident kinds this simulator knows, by name."""
        return registered_incidents()

    def ground_truth(self, spec: Spec, *, model_version: str, occurrences: Sequence[Occurrence],
                     skipped: list[dict[str, str]]) -> dict[str, Any]:
        """The ground-truth record of a run of this config: its period, model and incidents."""
        ref = spec.reference
        return {
            "start": self.start.astimezone(UTC).isoformat(),
            "end": self.end.astimezone(UTC).isoformat(),
            "seed": self.seed,
            "days": self.days,
            "decisions_per_day": self.decisions_per_day,
            "model": spec.model,
            "model_version": model_version,
            "reference": {"start": ref.start.isoformat() if ref.start else None,
                          "end": ref.end.isoformat() if ref.end else None},
            "incidents": [o.record() for o in sorted(occurrences, key=lambda o: o.onset_us)],
            "skipped": skipped,
        }


@dataclass(frozen=True)
class SimulationResult:
    """A simulated run: decisions, outcomes, the spec describing them, and the ground truth.

    ``decisions`` and ``outcomes`` have exactly the stored schemas of the spec
    (:func:`~loopwatch.core.schema.decision_schema`), ``model`` column first.
    """

    decisions: pa.Table
    outcomes: pa.Table
    spec: Spec
    ground_truth: dict[str, Any]


def _rng(seed: int, *key: int) -> np.random.Generator:
    # one independent stream per stage (and per incident), so that one part's draws
    # do not shift another's
    return np.random.default_rng([seed, *key])


def _train_days(reference_days: int) -> int:
    """Days the model is trained on: the first of the reference period, at most two weeks."""
    return min(_TRAIN_DAYS, max(1, (reference_days + 1) // 2))


def _train(frame: Frame, config: SimulationConfig,
           reference_days: int) -> tuple[FraudModel, dict[str, float] | None]:
    rng = _rng(config.seed, 100)
    start = frame.start_us
    train_days = _train_days(reference_days)
    in_train = np.flatnonzero(frame.ts_us < start + train_days * DAY_US)
    train = np.sort(rng.choice(in_train, size=min(_TRAIN_ROWS, in_train.size), replace=False))
    model = train_model(feature_matrix(frame.features, train), frame.is_fraud[train],
                        seed=config.seed)
    held = np.flatnonzero((frame.ts_us >= start + train_days * DAY_US)
                          & (frame.ts_us < start + reference_days * DAY_US))
    held = np.sort(rng.choice(held, size=min(_IMPORTANCE_ROWS, held.size), replace=False))
    importance = model.importance(feature_matrix(frame.features, held), frame.is_fraud[held],
                                  rng=rng) if held.size else None
    return model, importance


def _apply(occurrences: Sequence[Occurrence], stage: str, frame: Frame, seed: int) -> None:
    order = list(registered_incidents())
    for occurrence in occurrences:
        if occurrence.kind.stage == stage:
            rng = _rng(seed, 200, order.index(occurrence.kind.name))
            occurrence.kind.apply(frame, occurrence, rng)


def _spec(config: SimulationConfig, reference_days: int,
          importance: dict[str, float] | None) -> Spec:
    features = tuple(
        Feature(name=name, dtype=("categorical" if name in CATEGORICAL_FEATURES else
                                  "boolean" if name in BOOLEAN_FEATURES else "numeric"),
                owner=owner, description=description, pii="none",
                importance=None if importance is None else importance[name])
        for name, (owner, description) in _FEATURES.items())
    start = config.start.astimezone(UTC)
    return Spec(
        model=MODEL_ID,
        owner="fraud-ml",
        description=("Simulated card-fraud model: approve, review (score >= 0.5) or block "
                     "(score >= 0.8) each card transaction."),
        store="./store",
        timezone="UTC",
        features=features,
        cohorts=("region", "device", "customer_type"),
        entities=("merchant_category",),
        positive_actions=("block", "review"),
        threshold=REVIEW_THRESHOLD,
        # the reference is the held-out part: on its own training days a model looks
        # better than it ever will again, and every later window would seem to regress
        reference=Reference(start=start + timedelta(days=_train_days(reference_days)),
                            end=start + timedelta(days=reference_days)),
        # loopwatch ablate retrains the simulated model from the log with this
        learning=Learning(train="loopwatch.simulate.retrain:train"),
    )


def simulate(config: SimulationConfig) -> SimulationResult:
    """Simulate the card-fraud decision system.

    Parameters
    ----------
    config
        Length, volume, incidents, seed and start of the run.

    Returns
    -------
    SimulationResult
        The decisions, the outcomes observed before the end of the run, the spec
        (store ``./store``, reference = the first 30 days) and the ground truth:
        ``start``, ``end``, ``seed``, ``decisions_per_day`` and one record per
        injected incident, plus the kinds ``skipped`` because the run is too short.

    Raises
    ------
    ValueError
        The run is too small to train the model on.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> result = simulate(SimulationConfig(days=4, decisions_per_day=2_000, incidents=(),
    ...                                    start=datetime(2026, 1, 1, tzinfo=UTC)))
    >>> 7_000 < result.decisions.num_rows < 9_000
    True
    >>> sorted(set(result.decisions.column("action").to_pylist()))
    ['approve', 'block', 'review']
    >>> result.ground_truth["end"]
    '2026-01-05T00:00:00+00:00'
    """
    start_us = int(config.start.timestamp()) * 1_000_000
    end_us = start_us + config.days * DAY_US
    reference_days = min(REFERENCE_DAYS, config.days)
    occurrences, skipped = schedule(config.incident_kinds, start_us=start_us, days=config.days)

    frame = world.draw_traffic(start_us=start_us, days=config.days,
                               decisions_per_day=config.decisions_per_day)
    _apply(occurrences, "traffic", frame, config.seed)
    world.draw_rows(frame, _rng(config.seed, 0))
    world.draw_world(frame, _rng(config.seed, 1))
    _apply(occurrences, "world", frame, config.seed)
    model, importance = _train(frame, config, reference_days)
    frame.served = {name: values.copy() for name, values in frame.features.items()}
    frame.timed_out = np.zeros(frame.n, dtype=np.bool_)
    frame.fallback = np.zeros(frame.n, dtype=np.bool_)
    _apply(occurrences, "serving", frame, config.seed)
    world.draw_labels(frame, _rng(config.seed, 4))
    _apply(occurrences, "labels", frame, config.seed)

    spec = _spec(config, reference_days, importance)
    ids = decision_ids(config.seed, frame.n)
    ground_truth = config.ground_truth(spec, model_version=model.version, occurrences=occurrences,
                                       skipped=skipped)
    return SimulationResult(
        decisions=decisions_table(frame, spec, model, ids, rng=_rng(config.seed, 3)),
        outcomes=outcomes_table(frame, spec, ids, end_us=end_us),
        spec=spec,
        ground_truth=ground_truth,
    )


def write_simulation(result: SimulationResult, out_dir: Path, *,
                     overwrite: bool = False) -> dict[str, Any]:
    """Write a simulated run to a self-contained directory.

    Writes ``out_dir/loopwatch.yaml`` (its store is ``./store``),
    ``out_dir/ground_truth.json`` and the decisions and outcomes into the store.

    Parameters
    ----------
    result
        What :func:`simulate` returned.
    out_dir
        Target directory; created if missing.
    overwrite
        Replace an earlier simulation in ``out_dir`` (its ``loopwatch.yaml``,
        ``ground_truth.json`` and ``store``; other files are left alone).

    Returns
    -------
    dict
        ``spec`` (path), ``store`` (path), rows ``written``, ``duplicates`` and
        ``quarantined`` per table under ``decisions`` and ``outcomes``, and the
        ``incidents`` injected (kinds, by onset).

    Raises
    ------
    InputError
        ``out_dir`` is a file, or is not empty and ``overwrite`` is false.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"cannot write the simulation to {out_dir}: it is a file, "
                         "not a directory")
    if out_dir.exists() and any(out_dir.iterdir()):
        if not overwrite:
            raise InputError(f"{out_dir} is not empty; choose an empty or new directory, or "
                             "pass overwrite=True (--overwrite) to replace an earlier simulation")
        for name in _FILES:
            path = out_dir / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)
    spec_path = out_dir / "loopwatch.yaml"
    spec_path.write_text(result.spec.to_yaml(), encoding="utf-8")
    (out_dir / "ground_truth.json").write_text(
        json.dumps(result.ground_truth, indent=2) + "\n", encoding="utf-8")
    spec = load_spec(spec_path)
    store = ParquetStore.for_spec(spec)
    summary: dict[str, Any] = {"spec": str(spec_path), "store": spec.store_location()}
    for kind, written in (
        ("decisions", store.ingest("decisions", result.decisions, source="simulator")),
        ("outcomes", store.ingest("outcomes", result.outcomes, source="simulator")),
    ):
        summary[kind] = {"written": written.written, "duplicates": written.duplicates,
                         "quarantined": written.quarantined}
    summary["incidents"] = [i["kind"] for i in result.ground_truth["incidents"]]
    return summary
