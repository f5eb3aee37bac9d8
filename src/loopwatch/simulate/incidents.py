"""Injectable incidents: registered functions that edit a simulation's frame in place.

Each incident kind is registered with :func:`register_incident`, naming the stage
it acts in (``traffic``, ``world``, ``serving`` or ``labels``), where it sits on
the 90-day calendar and what it touches (features, cohorts, entities, sources).
:func:`schedule` places the chosen kinds in a run: on the 90-day calendar after
the 30-day reference period, scaled proportionally into shorter or longer runs;
a kind that does not fit is skipped, with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np

from loopwatch.core.profile import HOUR_OF_DAY
from loopwatch.simulate.world import (
    DAY_US,
    HOUR_US,
    PEAK_HOURS,
    REGIONS,
    SOURCES,
    BoolArray,
    FloatArray,
    Frame,
    IntArray,
    hour_of_day,
)

__all__ = [
    "CALENDAR_DAYS",
    "INCIDENT_KINDS",
    "REFERENCE_DAYS",
    "IncidentKind",
    "Occurrence",
    "register_incident",
    "registered_incidents",
    "schedule",
]

Stage = Literal["traffic", "world", "serving", "labels"]
# the frame of the generator the incident belongs to (world.Frame, churn_world.ChurnFrame)
Apply = Callable[[Any, "Occurrence", np.random.Generator], None]

#: Length of the calendar the built-in onsets are given on.
CALENDAR_DAYS = 90
#: Healthy days at the start of every run: the spec's reference window.
REFERENCE_DAYS = 30
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class IncidentKind:
    """A kind of incident: what it does, when on the 90-day calendar, and what it touches."""

    name: str
    stage: Stage
    apply: Apply
    description: str
    onset_day: float
    duration_days: float | None = None
    ramp_days: float = 0.0
    min_days: float = 0.5
    features: tuple[str, ...] = ()
    cohorts: tuple[tuple[str, str], ...] = ()
    entities: tuple[tuple[str, str], ...] = ()
    sources: tuple[str, ...] = ()
    harmful: bool = True
    label_only: bool = False


@dataclass(frozen=True)
class Occurrence:
    """One incident placed in a run: its kind, onset and end (``None``: until the end)."""

    kind: IncidentKind
    onset_us: int
    end_us: int | None
    ramp_us: int = 0

    def active(self, ts_us: IntArray) -> BoolArray:
        """Whether each time falls in ``[onset, end)``."""
        inside: BoolArray = ts_us >= self.onset_us
        if self.end_us is not None:
            inside &= ts_us < self.end_us
        return inside

    def ramp(self, ts_us: IntArray) -> FloatArray:
        """0 outside the incident, rising linearly from 0 to 1 over the ramp, then 1."""
        if self.ramp_us <= 0:
            return self.active(ts_us).astype(np.float64)
        rising = np.clip((ts_us - self.onset_us) / self.ramp_us, 0.0, 1.0)
        out: FloatArray = np.where(self.active(ts_us), rising, 0.0)
        return out

    def record(self) -> dict[str, Any]:
        """The ground-truth record of this incident (JSON-able)."""
        kind = self.kind
        return {
            "kind": kind.name,
            "onset": _iso(self.onset_us),
            "end": None if self.end_us is None else _iso(self.end_us),
            "features": list(kind.features),
            "cohorts": [{"column": c, "value": v} for c, v in kind.cohorts],
            "entities": [{"column": c, "value": v} for c, v in kind.entities],
            "sources": list(kind.sources),
            "description": kind.description,
            "harmful": kind.harmful,
            "label_only": kind.label_only,
        }


def _iso(us: int) -> str:
    return (_EPOCH + timedelta(microseconds=us)).isoformat()


_REGISTRY: dict[str, IncidentKind] = {}


def register_incident(
    name: str,
    *,
    stage: Stage,
    description: str,
    onset_day: float,
    duration_days: float | None = None,
    ramp_days: float = 0.0,
    min_days: float = 0.5,
    features: tuple[str, ...] = (),
    cohorts: tuple[tuple[str, str], ...] = (),
    entities: tuple[tuple[str, str], ...] = (),
    sources: tuple[str, ...] = (),
    harmful: bool = True,
    label_only: bool = False,
    registry: dict[str, IncidentKind] | None = None,
) -> Callable[[Apply], Apply]:
    """Register an incident kind; the decorated function applies it to a frame.

    ``onset_day`` is on the 90-day calendar and must come after the 30-day
    reference period; it is scaled into runs of other lengths. ``registry`` is
    another generator's own registry (default: the card-fraud simulator's).

    Raises
    ------
    ValueError
        ``name`` is already registered, or ``onset_day`` falls in the reference period.
    """
    target = _REGISTRY if registry is None else registry
    if name in target:
        raise ValueError(f"incident {name!r} is already registered")
    if not REFERENCE_DAYS < onset_day < CALENDAR_DAYS:
        raise ValueError(f"onset_day must be within ({REFERENCE_DAYS}, {CALENDAR_DAYS}); "
                         f"got {onset_day}")

    def decorate(apply: Apply) -> Apply:
        target[name] = IncidentKind(
            name=name, stage=stage, apply=apply, description=description, onset_day=onset_day,
            duration_days=duration_days, ramp_days=ramp_days, min_days=min_days,
            features=features, cohorts=cohorts, entities=entities, sources=sources,
            harmful=harmful, label_only=label_only)
        return apply

    return decorate


def registered_incidents() -> dict[str, IncidentKind]:
    """Every registered incident kind, by name."""
    return dict(_REGISTRY)


def schedule(
    kinds: Sequence[str], *, start_us: int, days: int,
    registry: dict[str, IncidentKind] | None = None,
) -> tuple[list[Occurrence], list[dict[str, str]]]:
    """Place ``kinds`` in a run of ``days`` days; returns occurrences and skipped kinds.

    Onsets and durations on the 90-day calendar are scaled by
    ``(days - 30) / 60`` and rounded to the hour; an incident lasts at least its
    ``min_days``. A kind whose minimum span does not fit before the end of the
    run is skipped, with the reason. ``registry`` is where ``kinds`` are looked
    up (default: the card-fraud simulator's).

    Examples
    --------
    >>> placed, skipped = schedule(["unit_change"], start_us=0, days=90)
    >>> placed[0].record()["onset"], placed[0].record()["end"]
    ('1970-02-06T00:00:00+00:00', '1970-02-09T00:00:00+00:00')
    >>> schedule(["unit_change"], start_us=0, days=30)[1][0]["reason"]
    'needs at least 30.5 days (the 30-day reference period and 0.5 days of incident); got 30'
    """
    scale = (days - REFERENCE_DAYS) / (CALENDAR_DAYS - REFERENCE_DAYS)
    placed: list[Occurrence] = []
    skipped: list[dict[str, str]] = []
    for name in kinds:
        kind = (_REGISTRY if registry is None else registry)[name]
        onset_h = round((REFERENCE_DAYS + (kind.onset_day - REFERENCE_DAYS) * scale) * 24)
        if scale <= 0:
            skipped.append({"kind": name, "reason": (
                f"needs at least {REFERENCE_DAYS + kind.min_days:g} days (the {REFERENCE_DAYS}-day "
                f"reference period and {kind.min_days:g} days of incident); got {days}")})
            continue
        if onset_h + kind.min_days * 24 > days * 24:
            skipped.append({"kind": name, "reason": (
                f"its onset (day {onset_h / 24:g}) leaves less than {kind.min_days:g} days "
                f"before the end of the run (day {days})")})
            continue
        end_us: int | None = None
        if kind.duration_days is not None:
            span_h = max(round(kind.duration_days * scale * 24), round(kind.min_days * 24))
            end_us = start_us + min(onset_h + span_h, days * 24) * HOUR_US
            if end_us == start_us + days * HOUR_US * 24:
                end_us = None
        placed.append(Occurrence(kind=kind, onset_us=start_us + onset_h * HOUR_US, end_us=end_us,
                                 ramp_us=round(kind.ramp_days * scale * DAY_US)))
    return placed, skipped


# --- the built-in incidents -------------------------------------------------------------

NEW_CATEGORY = "crypto_exchange"
NEW_CARD_TYPE = "virtual"
_FLAKY_FEATURES = ("account_age_days", "failed_logins_7d")


@register_incident(
    "dropped_category", stage="world", onset_day=46,
    features=("merchant_category",), entities=(("merchant_category", NEW_CATEGORY),),
    description=(f"A new merchant category {NEW_CATEGORY!r} appears (about 3% of traffic, "
                 "fraud-heavy). The serving schema was not updated, so the pipeline maps it to "
                 "unknown and the model scores its decisions near zero: its fraud goes through."),
)
def _dropped_category(frame: Frame, occurrence: Occurrence, rng: np.random.Generator) -> None:
    categories = frame.categories["merchant_category"]
    if NEW_CATEGORY not in categories:
        categories.append(NEW_CATEGORY)
    code = float(categories.index(NEW_CATEGORY))
    share = np.where(frame.is_fraud, 0.30, 0.03)
    moved = occurrence.active(frame.ts_us) & (rng.random(frame.n) < share)
    frame.features["merchant_category"][moved] = code


@register_incident(
    "flaky_source", stage="serving", onset_day=41, duration_days=7, min_days=1.0,
    features=_FLAKY_FEATURES,
    # the failure lands in the peak hours, so a finding naming one of them names the incident
    cohorts=tuple((HOUR_OF_DAY, str(h)) for h in PEAK_HOURS),
    description=("The upstream customer-profile service times out under peak load: at peak "
                 f"hours (UTC {', '.join(map(str, PEAK_HOURS))}) about 40% of decisions get "
                 "no account_age_days and failed_logins_7d (null), take longer and log the "
                 "error 'partial_features'; off-peak they are served normally."),
)
def _flaky_source(frame: Frame, occurrence: Occurrence, rng: np.random.Generator) -> None:
    peak = np.isin(hour_of_day(frame.ts_us), PEAK_HOURS)
    hit = occurrence.active(frame.ts_us) & peak & (rng.random(frame.n) < 0.4)
    for name in _FLAKY_FEATURES:
        frame.served[name][hit] = np.nan
    frame.timed_out |= hit


@register_incident(
    "unit_change", stage="serving", onset_day=36, duration_days=3,
    features=("amount",),
    description=("The payments team starts sending amount in cents instead of dollars "
                 "(×100); the model reads it as is and flags large amounts. "
                 "Outcome values stay in dollars."),
)
def _unit_change(frame: Frame, occurrence: Occurrence, rng: np.random.Generator) -> None:
    frame.served["amount"][occurrence.active(frame.ts_us)] *= 100.0


@register_incident(
    "stale_feature", stage="serving", onset_day=51, duration_days=5,
    features=("ip_risk_score",),
    description=("The IP-reputation cache stops refreshing: ip_risk_score is stuck at the "
                 "last value it served before the onset, for every decision."),
)
def _stale_feature(frame: Frame, occurrence: Occurrence, rng: np.random.Generator) -> None:
    active = occurrence.active(frame.ts_us)
    values = frame.served["ip_risk_score"]
    before = np.flatnonzero((frame.ts_us < occurrence.onset_us) & ~np.isnan(values))
    stuck = values[before[-1]] if before.size else 0.1
    values[active] = stuck


@register_incident(
    "minority_performance_drop", stage="world", onset_day=68, min_days=2.0,
    cohorts=(("region", "AFR"),), label_only=True,
    description=("Fraudsters start an account-takeover campaign in AFR (about 2% of "
                 "traffic): an extra ~5% of its transactions are fraud that looks like "
                 "ordinary purchases, so the model misses them. Feature distributions barely "
                 "move; only the labels reveal it."),
)
def _minority_performance_drop(frame: Frame, occurrence: Occurrence,
                               rng: np.random.Generator) -> None:
    region = frame.region == REGIONS.index("AFR")
    turned = (region & occurrence.active(frame.ts_us) & ~frame.is_fraud
              & (rng.random(frame.n) < 0.05))
    frame.is_fraud |= turned
    frame.dispute &= ~turned


@register_incident(
    "label_definition_change", stage="labels", onset_day=80, min_days=1.0, label_only=True,
    description=("Fraud operations start counting first-party disputes ('friendly fraud') as "
                 "fraud: labels observed from the onset on mark disputed legitimate "
                 "transactions as fraud. Decisions do not change; the label rate and the "
                 "measured performance do."),
)
def _label_definition_change(frame: Frame, occurrence: Occurrence,
                             rng: np.random.Generator) -> None:
    frame.label |= frame.dispute & occurrence.active(frame.observed_us)


@register_incident(
    "gradual_drift", stage="serving", onset_day=62, ramp_days=21,
    features=("velocity_ratio",),
    description=("The velocity service's 30-day baseline job silently keeps less and less "
                 "history, so velocity_ratio inflates gradually to 3× over three weeks (scaled "
                 "with the run) and stays there. True risk is unchanged, so the model flags "
                 "more legitimate customers."),
)
def _gradual_drift(frame: Frame, occurrence: Occurrence, rng: np.random.Generator) -> None:
    frame.served["velocity_ratio"] *= 1.0 + 2.0 * occurrence.ramp(frame.ts_us)


@register_incident(
    "volume_drop", stage="traffic", onset_day=57, duration_days=4,
    sources=("pos",),
    description=("A point-of-sale integration breaks: source 'pos' loses 90% of its "
                 "decisions; the other sources are unaffected."),
)
def _volume_drop(frame: Frame, occurrence: Occurrence, rng: np.random.Generator) -> None:
    keep = np.where(occurrence.active(frame.slot_us), 0.1, 1.0)
    frame.rates[:, :, SOURCES.index("pos")] *= keep[:, None]


@register_incident(
    "harmless_shift", stage="traffic", onset_day=32, ramp_days=14, harmful=False,
    cohorts=(("region", "LATAM"),),
    description=("Organic growth in LATAM: its volume ramps up to 2.5× over two weeks "
                 "(scaled with the run) and stays. LATAM customers behave as before, so the "
                 "region mix shifts but decisions and performance do not."),
)
def _harmless_shift(frame: Frame, occurrence: Occurrence, rng: np.random.Generator) -> None:
    growth = 1.0 + 1.5 * occurrence.ramp(frame.slot_us)
    frame.rates[:, REGIONS.index("LATAM"), :] *= growth[:, None]


@register_incident(
    "category_to_null", stage="serving", onset_day=74, min_days=1.0,
    features=("card_type",),
    description=(f"Issuers start sending a new card type {NEW_CARD_TYPE!r} (about 8% of "
                 "traffic, fraud as often as the rest). A schema change upstream maps a value "
                 "it does not know to null, so card_type arrives missing for those decisions "
                 "and the pipeline gives them its fallback score, near zero: none of them is "
                 "reviewed or blocked. card_type matters little to the model, so the global "
                 "decision rate moves by less than a tenth."),
)
def _category_to_null(frame: Frame, occurrence: Occurrence, rng: np.random.Generator) -> None:
    hit = occurrence.active(frame.ts_us) & (rng.random(frame.n) < 0.08)
    frame.served["card_type"][hit] = np.nan
    frame.fallback |= hit


#: The built-in incident kinds.
INCIDENT_KINDS: tuple[str, ...] = tuple(_REGISTRY)
