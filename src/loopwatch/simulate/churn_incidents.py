"""The churn simulator's incidents, in a registry of their own.

Registered with :func:`~loopwatch.simulate.incidents.register_incident` into
:data:`CHURN_INCIDENTS` (not the card-fraud registry) and placed in a run by
:func:`~loopwatch.simulate.incidents.schedule` on the same 90-day calendar.
They touch other features, cohorts and sources than the fraud incidents, on
other days, so that detection figures on this world are out of sample.
"""

from __future__ import annotations

import numpy as np

from loopwatch.simulate.churn_world import REGIONS, SOURCES, ChurnFrame
from loopwatch.simulate.incidents import IncidentKind, Occurrence, register_incident

__all__ = ["CHURN_INCIDENTS", "CHURN_INCIDENT_KINDS", "NEW_CHANNEL"]

#: Every incident kind of the churn simulator, by name.
CHURN_INCIDENTS: dict[str, IncidentKind] = {}

NEW_CHANNEL = "creator_referral"
_BATCH = SOURCES.index("nightly-batch")
_APP = SOURCES.index("app-event")


@register_incident(
    "sdk_session_reset", stage="serving", onset_day=37, duration_days=4, registry=CHURN_INCIDENTS,
    features=("sessions_30d",), sources=("app-event",),
    description=("A mobile SDK release resets the session counter: for 70% of in-app "
                 "decisions sessions_30d is served as 0, so engaged subscribers look idle and "
                 "retention offers go to people who were staying."),
)
def _sdk_session_reset(frame: ChurnFrame, occurrence: Occurrence,
                       rng: np.random.Generator) -> None:
    hit = occurrence.active(frame.ts_us) & (frame.source == _APP) & (rng.random(frame.n) < 0.7)
    frame.served["sessions_30d"][hit] = 0.0


@register_incident(
    "billing_api_nulls", stage="serving", onset_day=43, duration_days=5, min_days=1.0,
    registry=CHURN_INCIDENTS, features=("payment_failures_90d", "autopay"), sources=("nightly-batch",),
    description=("The billing API rate-limits the nightly batch: half of its decisions get "
                 "no payment_failures_90d and autopay (null) and log 'partial_features'."),
)
def _billing_api_nulls(frame: ChurnFrame, occurrence: Occurrence,
                       rng: np.random.Generator) -> None:
    hit = occurrence.active(frame.ts_us) & (frame.source == _BATCH) & (rng.random(frame.n) < 0.5)
    for name in ("payment_failures_90d", "autopay"):
        frame.served[name][hit] = np.nan
    frame.timed_out |= hit


@register_incident(
    "new_channel", stage="world", onset_day=48, registry=CHURN_INCIDENTS,
    features=("acquisition_channel",), entities=(("acquisition_channel", NEW_CHANNEL),),
    description=(f"A new acquisition channel {NEW_CHANNEL!r} starts (about 6% of scored "
                 "subscribers, cancelling three times as often). The model has never seen it "
                 "and gives it no weight, so its cancellations go unflagged."),
)
def _new_channel(frame: ChurnFrame, occurrence: Occurrence, rng: np.random.Generator) -> None:
    channels = frame.categories["acquisition_channel"]
    if NEW_CHANNEL not in channels:
        channels.append(NEW_CHANNEL)
    moved = occurrence.active(frame.ts_us) & (rng.random(frame.n) < 0.06)
    frame.features["acquisition_channel"][moved] = float(channels.index(NEW_CHANNEL))
    p = 1.0 / (1.0 + np.exp(-(frame.logit[moved] + 1.3)))
    frame.churns[moved] = rng.random(int(moved.sum())) < p


@register_incident(
    "stale_watch_hours", stage="serving", onset_day=53, duration_days=4,
    registry=CHURN_INCIDENTS, features=("watch_hours_30d",),
    description=("The viewing-aggregates job stops: watch_hours_30d is served as each "
                 "region's last value before the onset, for every decision."),
)
def _stale_watch_hours(frame: ChurnFrame, occurrence: Occurrence,
                       rng: np.random.Generator) -> None:
    values = frame.served["watch_hours_30d"]
    active = occurrence.active(frame.ts_us)
    for region in range(len(REGIONS)):
        before = np.flatnonzero((frame.ts_us < occurrence.onset_us) & (frame.region == region)
                                & ~np.isnan(values))
        values[active & (frame.region == region)] = values[before[-1]] if before.size else 10.0


@register_incident(
    "support_volume_drop", stage="traffic", onset_day=58, duration_days=3,
    registry=CHURN_INCIDENTS, sources=("support-call",),
    description=("The call-centre integration breaks: source 'support-call' loses 85% of its "
                 "decisions; the other sources are unaffected."),
)
def _support_volume_drop(frame: ChurnFrame, occurrence: Occurrence,
                         rng: np.random.Generator) -> None:
    keep = np.where(occurrence.active(frame.slot_us), 0.15, 1.0)
    frame.rates[:, :, SOURCES.index("support-call")] *= keep[:, None]


@register_incident(
    "login_lag_drift", stage="serving", onset_day=62, ramp_days=20, registry=CHURN_INCIDENTS,
    features=("days_since_login",),
    description=("The login-events table falls behind more and more: days_since_login "
                 "grows by up to 12 days over three weeks (scaled with the run) and stays "
                 "there. Subscribers look less active than they are."),
)
def _login_lag_drift(frame: ChurnFrame, occurrence: Occurrence,
                     rng: np.random.Generator) -> None:
    frame.served["days_since_login"] += np.round(12.0 * occurrence.ramp(frame.ts_us))


@register_incident(
    "competitor_launch", stage="world", onset_day=67, min_days=2.0, registry=CHURN_INCIDENTS,
    cohorts=(("region", "MX"),), label_only=True,
    description=("A competitor launches in MX (about 7% of traffic) at half the price: an "
                 "extra 8% of its subscribers cancel, whatever their usage. Features do not "
                 "move; only the labels reveal it."),
)
def _competitor_launch(frame: ChurnFrame, occurrence: Occurrence,
                       rng: np.random.Generator) -> None:
    turned = ((frame.region == REGIONS.index("MX")) & occurrence.active(frame.ts_us)
              & ~frame.churns & (rng.random(frame.n) < 0.08))
    frame.churns |= turned
    frame.downgrades &= ~turned


@register_incident(
    "label_definition_change", stage="labels", onset_day=79, min_days=1.0,
    registry=CHURN_INCIDENTS, label_only=True,
    description=("Finance starts counting downgrades to a cheaper plan as churn: labels "
                 "observed from the onset on mark downgrading subscribers as churned. "
                 "Decisions do not change; the label rate and measured performance do."),
)
def _label_definition_change(frame: ChurnFrame, occurrence: Occurrence,
                             rng: np.random.Generator) -> None:
    frame.label |= frame.downgrades & occurrence.active(frame.observed_us)


@register_incident(
    "harmless_growth", stage="traffic", onset_day=33, ramp_days=14, harmful=False,
    registry=CHURN_INCIDENTS, cohorts=(("region", "IN"),),
    description=("A marketing push in IN: its volume ramps up to 3× over two weeks (scaled "
                 "with the run) and stays. IN subscribers behave as before, so the region mix "
                 "and the fee distribution shift but decisions within a region do not."),
)
def _harmless_growth(frame: ChurnFrame, occurrence: Occurrence,
                     rng: np.random.Generator) -> None:
    growth = 1.0 + 2.0 * occurrence.ramp(frame.slot_us)
    frame.rates[:, REGIONS.index("IN"), :] *= growth[:, None]


#: The churn simulator's incident kinds.
CHURN_INCIDENT_KINDS: tuple[str, ...] = tuple(CHURN_INCIDENTS)
