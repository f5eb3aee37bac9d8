"""A simulated subscription-churn decision system: a second world, shaped unlike the first.

:func:`simulate_churn` returns the same :class:`~loopwatch.simulate.fraud.SimulationResult`
as the card-fraud simulator (decisions and outcomes in the stored schemas of
the spec, the spec, the ground truth of the incidents), so every command,
:func:`~loopwatch.simulate.fraud.write_simulation` and
:func:`~loopwatch.simulate.replay.replay` work on it unchanged. What differs
is the world (:mod:`loopwatch.simulate.churn_world`), the model
(:mod:`loopwatch.simulate.churn_model`), the incidents
(:mod:`loopwatch.simulate.churn_incidents`), the base rate (about 5%), the
volume (5,000 decisions a day by default) and the label delay (2-60 days).

Each decision is the retention system's answer for one subscriber: ``none``,
``offer`` (a discount, score >= 0.12) or ``call`` (an agent calls, score >= 0.35).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
from sklearn.metrics import roc_auc_score

from loopwatch.core.schema import decision_schema, outcome_schema
from loopwatch.core.spec import Feature, Reference, Spec
from loopwatch.simulate import churn_world
from loopwatch.simulate.churn_incidents import CHURN_INCIDENT_KINDS, CHURN_INCIDENTS
from loopwatch.simulate.churn_model import ChurnModel, train_churn_model
from loopwatch.simulate.churn_world import (
    BILLING,
    BOOLEAN_FEATURES,
    CATEGORICAL_FEATURES,
    FEATURES,
    PLANS,
    REGIONS,
    SOURCES,
    ChurnFrame,
)
from loopwatch.simulate.fraud import SimulationConfig, SimulationResult
from loopwatch.simulate.incidents import REFERENCE_DAYS, IncidentKind, Occurrence, schedule
from loopwatch.simulate.tables import decision_ids
from loopwatch.simulate.world import DAY_US, FloatArray, IntArray

__all__ = ["CALL_THRESHOLD", "CHURN_INCIDENT_KINDS", "MODEL_ID", "OFFER_THRESHOLD", "ChurnConfig",
           "simulate_churn"]

MODEL_ID = "subscription-churn"
#: Score from which a subscriber gets a retention offer (the spec's ``threshold``).
OFFER_THRESHOLD = 0.12
#: Score from which an agent calls the subscriber.
CALL_THRESHOLD = 0.35
_TRAIN_DAYS = 14
_TRAIN_ROWS = 60_000
_IMPORTANCE_ROWS = 20_000
_ACTIONS = ("none", "offer", "call")
_ERRORS = ("timeout", "billing_unavailable", "partial_features")

_FEATURES: dict[str, tuple[str, str]] = {
    "tenure_months": ("subscriptions", "Whole months since the subscription started."),
    "monthly_fee": ("billing", "Monthly price paid, in the subscriber's plan and region."),
    "sessions_30d": ("client-telemetry", "Viewing sessions in the previous 30 days."),
    "watch_hours_30d": ("client-telemetry", "Hours watched in the previous 30 days."),
    "days_since_login": ("identity", "Days since the subscriber last signed in."),
    "support_tickets_90d": ("customer-care", "Support tickets opened in the previous 90 days."),
    "payment_failures_90d": ("billing", "Failed payment attempts in the previous 90 days."),
    "discount_pct": ("growth", "Current discount on the fee, in percent."),
    "profiles_used": ("client-telemetry", "Viewer profiles used in the previous 30 days."),
    "acquisition_channel": ("growth", "How the subscriber was acquired."),
    "favorite_genre": ("recommendations", "Most watched genre in the previous 90 days."),
    "payment_method": ("billing", "How the subscription is paid."),
    "autopay": ("billing", "Renewal is charged automatically."),
    "promo_active": ("growth", "A promotional price is in force."),
}


@dataclass(frozen=True, kw_only=True)
class ChurnConfig(SimulationConfig):
    """What to simulate: as :class:`~loopwatch.simulate.fraud.SimulationConfig`, with churn incidents.

    Examples
    --------
    >>> ChurnConfig(days=10).decisions_per_day
    5000
    >>> ChurnConfig(incidents=("new_chanel",))
    Traceback (most recent call last):
    ...
    ValueError: unknown incident 'new_chanel' in incidents; expected 'all' or one of: ...
    """

    decisions_per_day: int = 5_000

    def registry(self) -> dict[str, IncidentKind]:
        """The churn simulator's incident kinds, by name."""
        return dict(CHURN_INCIDENTS)


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng([seed, 17, *key])


def _apply(occurrences: Sequence[Occurrence], stage: str, frame: ChurnFrame, seed: int) -> None:
    for occurrence in occurrences:
        if occurrence.kind.stage == stage:
            rng = _rng(seed, 200, CHURN_INCIDENT_KINDS.index(occurrence.kind.name))
            occurrence.kind.apply(frame, occurrence, rng)


def _importance(model: ChurnModel, features: dict[str, FloatArray], labels: np.ndarray[Any, Any],
                rng: np.random.Generator) -> dict[str, float] | None:
    """Permutation importance: the AUC lost when a feature is shuffled, normalised to 1."""
    if labels.all() or not labels.any():
        return None
    base = float(roc_auc_score(labels, model.score(features)))
    drops = {}
    for name in FEATURES:
        shuffled = {**features, name: rng.permutation(features[name])}
        drops[name] = max(base - float(roc_auc_score(labels, model.score(shuffled))), 0.0)
    total = sum(drops.values()) or 1.0
    return {name: round(d / total, 4) for name, d in drops.items()}


def _train(frame: ChurnFrame, config: ChurnConfig,
           reference_days: int) -> tuple[ChurnModel, dict[str, float] | None]:
    rng = _rng(config.seed, 100)
    train_days = min(_TRAIN_DAYS, max(1, (reference_days + 1) // 2))
    cut = frame.start_us + train_days * DAY_US
    rows = np.flatnonzero(frame.ts_us < cut)
    rows = np.sort(rng.choice(rows, size=min(_TRAIN_ROWS, rows.size), replace=False))
    model = train_churn_model({k: v[rows] for k, v in frame.features.items()}, frame.churns[rows])
    held = np.flatnonzero((frame.ts_us >= cut)
                          & (frame.ts_us < frame.start_us + reference_days * DAY_US))
    held = np.sort(rng.choice(held, size=min(_IMPORTANCE_ROWS, held.size), replace=False))
    importance = (_importance(model, {k: v[held] for k, v in frame.features.items()},
                              frame.churns[held], rng) if held.size else None)
    return model, importance


def _spec(config: ChurnConfig, reference_days: int, importance: dict[str, float] | None) -> Spec:
    features = tuple(
        Feature(name=name, dtype=("categorical" if name in CATEGORICAL_FEATURES else
                                  "boolean" if name in BOOLEAN_FEATURES else "numeric"),
                owner=owner, description=description, pii="none",
                importance=None if importance is None else importance[name])
        for name, (owner, description) in _FEATURES.items())
    start = config.start.astimezone(UTC)
    train_days = min(_TRAIN_DAYS, max(1, (reference_days + 1) // 2))
    return Spec(
        model=MODEL_ID, owner="retention-ml", store="./store", timezone="UTC",
        description=(f"Simulated subscription-churn model: no action, a retention offer (score "
                     f">= {OFFER_THRESHOLD}) or a call (score >= {CALL_THRESHOLD}) per subscriber."),
        features=features,
        cohorts=("region", "plan", "billing_cycle"),
        entities=("acquisition_channel",),
        positive_actions=("offer", "call"),
        threshold=OFFER_THRESHOLD,
        reference=Reference(start=start + timedelta(days=train_days),
                            end=start + timedelta(days=reference_days)),
    )


def _strings(codes: IntArray | FloatArray, categories: Sequence[str]) -> pa.Array[Any]:
    missing = np.isnan(codes) if codes.dtype.kind == "f" else codes < 0
    values = np.asarray(categories, dtype=object)[np.where(missing, 0, codes).astype(np.int64)]
    return pa.array(values, pa.string(), mask=missing)


def _feature(name: str, values: FloatArray, frame: ChurnFrame) -> pa.Array[Any]:
    if name in CATEGORICAL_FEATURES:
        return _strings(values, frame.categories[name])
    if name in BOOLEAN_FEATURES:
        flags: pa.Array[Any] = pa.array(values == 1.0, mask=np.isnan(values))
        return flags
    return pa.array(values, pa.float64(), from_pandas=True)


def _decisions(frame: ChurnFrame, spec: Spec, model: ChurnModel, ids: pa.Array[Any],
               rng: np.random.Generator) -> pa.Table:
    n = frame.n
    score = np.round(model.score(frame.served), 6)
    action = np.where(score >= CALL_THRESHOLD, 2, np.where(score >= OFFER_THRESHOLD, 1, 0))
    median_ms = np.array([4.0, 35.0, 60.0])[frame.source]
    latency = np.exp(np.log(median_ms) + 0.5 * rng.standard_normal(n))
    latency += np.where(frame.timed_out, rng.uniform(200.0, 600.0, n), 0.0)
    error = np.where(rng.random(n) < 0.0015, rng.integers(0, 2, n), -1)
    error = np.where(frame.timed_out, 2, error)
    times = pa.array(frame.ts_us, pa.timestamp("us", tz="UTC"))
    columns: dict[str, pa.Array[Any]] = {
        "model": pa.repeat(spec.model, n).cast(pa.string()),
        "decision_id": ids,
        "timestamp": times,
        "model_version": pa.repeat(model.version, n).cast(pa.string()),
        **{name: _feature(name, values, frame) for name, values in frame.served.items()},
        "region": _strings(frame.region, REGIONS),
        "plan": _strings(frame.plan, PLANS),
        "billing_cycle": _strings(frame.billing, BILLING),
        "score": pa.array(score),
        "action": _strings(action, _ACTIONS),
        "threshold": pa.repeat(OFFER_THRESHOLD, n).cast(pa.float64()),
        "latency_ms": pa.array(np.round(latency, 2)),
        "cost": pa.array(np.round(0.00005 + 0.000002 * latency, 7)),
        "error": _strings(error, _ERRORS),
        "source": _strings(frame.source, SOURCES),
    }
    schema = decision_schema(spec).arrow
    return pa.table([columns[f.name] for f in schema], schema=schema)


def _outcomes(frame: ChurnFrame, spec: Spec, ids: pa.Array[Any], end_us: int) -> pa.Table:
    rows = np.flatnonzero(frame.arrives & (frame.observed_us < end_us))
    rows = rows[np.argsort(frame.observed_us[rows], kind="stable")]
    schema = outcome_schema(spec).arrow
    columns = {
        "model": pa.repeat(spec.model, rows.size).cast(pa.string()),
        "decision_id": ids.take(rows),
        "observed_at": pa.array(frame.observed_us[rows], pa.timestamp("us", tz="UTC")),
        "label": pa.array(frame.label[rows]),
        # a year of the fee: the revenue a cancellation loses
        "value": pa.array(np.round(12.0 * frame.features["monthly_fee"][rows], 2)),
    }
    return pa.table([columns[f.name] for f in schema], schema=schema)


def simulate_churn(config: ChurnConfig) -> SimulationResult:
    """Simulate the subscription-churn decision system.

    Parameters
    ----------
    config
        Length, volume, incidents (from :data:`CHURN_INCIDENT_KINDS`), seed and start.

    Returns
    -------
    SimulationResult
        Decisions, outcomes observed before the end of the run, the spec (store
        ``./store``) and the ground truth, with the same keys as the card-fraud
        simulator's.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> result = simulate_churn(ChurnConfig(days=4, decisions_per_day=3_000, incidents=(),
    ...                                     start=datetime(2026, 1, 1, tzinfo=UTC)))
    >>> 11_000 < result.decisions.num_rows < 13_000
    True
    >>> sorted(set(result.decisions.column("action").to_pylist()))
    ['call', 'none', 'offer']
    >>> result.spec.model, result.ground_truth["end"]
    ('subscription-churn', '2026-01-05T00:00:00+00:00')
    """
    start_us = int(config.start.timestamp()) * 1_000_000
    end_us = start_us + config.days * DAY_US
    reference_days = min(REFERENCE_DAYS, config.days)
    occurrences, skipped = schedule(config.incident_kinds, start_us=start_us, days=config.days,
                                    registry=CHURN_INCIDENTS)
    frame = churn_world.draw_traffic(start_us=start_us, days=config.days,
                                     decisions_per_day=config.decisions_per_day)
    _apply(occurrences, "traffic", frame, config.seed)
    churn_world.draw_rows(frame, _rng(config.seed, 0))
    churn_world.draw_world(frame, _rng(config.seed, 1))
    _apply(occurrences, "world", frame, config.seed)
    model, importance = _train(frame, config, reference_days)
    frame.served = {name: values.copy() for name, values in frame.features.items()}
    frame.timed_out = np.zeros(frame.n, dtype=np.bool_)
    _apply(occurrences, "serving", frame, config.seed)
    churn_world.draw_labels(frame, _rng(config.seed, 4))
    _apply(occurrences, "labels", frame, config.seed)

    spec = _spec(config, reference_days, importance)
    ids = decision_ids(config.seed, frame.n)
    ground_truth = {"generator": "churn", **config.ground_truth(
        spec, model_version=model.version, occurrences=occurrences, skipped=skipped)}
    return SimulationResult(
        decisions=_decisions(frame, spec, model, ids, _rng(config.seed, 3)),
        outcomes=_outcomes(frame, spec, ids, end_us),
        spec=spec,
        ground_truth=ground_truth,
    )
