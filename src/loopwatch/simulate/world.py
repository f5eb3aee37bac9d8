"""The simulated card-payments world: traffic, cohorts, features and fraud.

The world is generated in stages over one :class:`Frame` of NumPy arrays, one
element per decision (no per-row Python loops):

1. **traffic** - expected decisions per hour slot × region × source, with
   hour-of-day and day-of-week seasonality; Poisson counts become rows.
2. **world** - cohorts (device, customer type), whether a transaction is fraud
   (more at night, for new customers, on the web) and the true features, drawn
   conditionally on fraud.
3. **serving** - what the scoring pipeline sees (a copy of the true features).
4. **labels** - outcomes: the label and when it is observed.

Incidents (:mod:`loopwatch.simulate.incidents`) edit the frame in place at the
end of their stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "BOOLEAN_FEATURES",
    "CARD_TYPES",
    "CATEGORICAL_FEATURES",
    "CUSTOMER_TYPES",
    "DEVICES",
    "FEATURES",
    "MERCHANT_CATEGORIES",
    "NUMERIC_FEATURES",
    "PEAK_HOURS",
    "REGIONS",
    "SOURCES",
    "Frame",
    "draw_labels",
    "draw_rows",
    "draw_traffic",
    "draw_world",
    "hour_of_day",
    "load",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US

REGIONS = ("NA", "EU", "APAC", "LATAM", "AFR")
_REGION_SHARE = np.array([0.38, 0.30, 0.20, 0.10, 0.02])
_REGION_FRAUD = np.array([1.0, 0.8, 1.0, 1.1, 1.2])

SOURCES = ("web-checkout", "mobile-app", "pos")
_SOURCE_SHARE = np.array([0.35, 0.40, 0.25])
_SOURCE_FRAUD = np.array([1.3, 1.0, 0.35])
POS = SOURCES.index("pos")

DEVICES = ("ios", "android", "web")
# rows: source; columns: device
_DEVICE_GIVEN_SOURCE = np.array([[0.08, 0.07, 0.85], [0.5, 0.5, 0.0], [0.4, 0.4, 0.2]])
_DEVICE_FRAUD = np.array([0.8, 1.0, 1.4])

CUSTOMER_TYPES = ("new", "returning")
_NEW_SHARE = 0.15
_CUSTOMER_FRAUD = np.array([2.5, 0.75])

MERCHANT_CATEGORIES = (
    "grocery", "restaurants", "fuel", "travel", "electronics",
    "fashion", "digital_goods", "gift_cards", "entertainment", "health",
)
# rows: legit, fraud
_CATEGORY_GIVEN_FRAUD = np.array([
    [0.20, 0.15, 0.10, 0.06, 0.08, 0.12, 0.10, 0.03, 0.09, 0.07],
    [0.05, 0.04, 0.04, 0.12, 0.22, 0.10, 0.18, 0.15, 0.05, 0.05],
])
_CATEGORY_LOG_AMOUNT = np.array([-0.3, -0.4, -0.1, 1.2, 0.9, 0.3, -0.5, 0.5, -0.2, 0.1])

CARD_TYPES = ("credit", "debit", "prepaid")
_CARD_GIVEN_FRAUD = np.array([[0.55, 0.40, 0.05], [0.40, 0.28, 0.32]])

NUMERIC_FEATURES = (
    "amount", "account_age_days", "distance_km", "txn_count_24h", "velocity_ratio",
    "hour_of_day", "ip_risk_score", "failed_logins_7d",
)
CATEGORICAL_FEATURES = ("merchant_category", "card_type")
BOOLEAN_FEATURES = ("country_mismatch", "card_present", "billing_shipping_match")
FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES + BOOLEAN_FEATURES

# Relative volume by hour of day (UTC): quiet nights, a lunch and an evening peak;
# weekends start later and are a little quieter.
_WEEKDAY = np.array([0.25, 0.18, 0.14, 0.12, 0.14, 0.25, 0.50, 0.80, 1.00, 1.10, 1.20, 1.35,
                     1.45, 1.35, 1.20, 1.15, 1.20, 1.30, 1.45, 1.55, 1.50, 1.20, 0.80, 0.45])
_WEEKEND = 0.9 * np.array([0.35, 0.28, 0.20, 0.15, 0.13, 0.15, 0.25, 0.40, 0.60, 0.85, 1.10,
                           1.30, 1.40, 1.40, 1.30, 1.25, 1.25, 1.30, 1.40, 1.45, 1.40, 1.20,
                           0.90, 0.60])
_MEAN_DAY = (5 * _WEEKDAY.sum() + 2 * _WEEKEND.sum()) / 7
_MAX_WEIGHT = max(_WEEKDAY.max(), _WEEKEND.max())

#: UTC hours of peak load (the busiest hours of a weekday).
PEAK_HOURS = (11, 12, 13, 18, 19, 20)
_NIGHT_HOURS = (0, 1, 2, 3, 4, 5)
_BASE_FRAUD = 0.0105


def hour_of_day(ts_us: IntArray) -> IntArray:
    """UTC hour of day of microsecond timestamps."""
    return (ts_us // HOUR_US) % 24


def _empty_int() -> IntArray:
    return np.zeros(0, dtype=np.int64)


def _empty_bool() -> BoolArray:
    return np.zeros(0, dtype=np.bool_)


# Not frozen on purpose: the frame is the simulation's working buffer, which each
# stage and incident fills or edits in place; it never leaves the simulate package.
@dataclass(eq=False)
class Frame:
    """The working arrays of one simulation, one element per decision.

    Categorical features hold category codes as floats (``NaN`` is null) indexing
    ``categories[name]``; boolean features hold 0.0/1.0/``NaN``.
    """

    start_us: int
    hours: int
    #: expected decisions per hour slot × region × source (traffic stage)
    rates: FloatArray
    hour: IntArray = field(default_factory=_empty_int)
    ts_us: IntArray = field(default_factory=_empty_int)
    region: IntArray = field(default_factory=_empty_int)
    source: IntArray = field(default_factory=_empty_int)
    device: IntArray = field(default_factory=_empty_int)
    customer_type: IntArray = field(default_factory=_empty_int)
    is_fraud: BoolArray = field(default_factory=_empty_bool)
    #: a legitimate transaction the customer will dispute (first-party "friendly fraud")
    dispute: BoolArray = field(default_factory=_empty_bool)
    features: dict[str, FloatArray] = field(default_factory=dict)
    categories: dict[str, list[str]] = field(default_factory=lambda: {
        "merchant_category": list(MERCHANT_CATEGORIES), "card_type": list(CARD_TYPES)})
    #: the features as the scoring pipeline sees (and logs) them
    served: dict[str, FloatArray] = field(default_factory=dict)
    #: an upstream feature call timed out for this decision
    timed_out: BoolArray = field(default_factory=_empty_bool)
    #: the serving pipeline scored this decision with its fallback (the all-missing vector),
    #: not with the model's view of its features
    fallback: BoolArray = field(default_factory=_empty_bool)
    label: BoolArray = field(default_factory=_empty_bool)
    observed_us: IntArray = field(default_factory=_empty_int)
    arrives: BoolArray = field(default_factory=_empty_bool)

    @property
    def slot_us(self) -> IntArray:
        """Start time of each hour slot."""
        return self.start_us + np.arange(self.hours, dtype=np.int64) * HOUR_US

    @property
    def n(self) -> int:
        return int(self.ts_us.size)


def _hour_weights(slot_us: IntArray) -> FloatArray:
    hod = hour_of_day(slot_us)
    weekday = ((slot_us // DAY_US) + 3) % 7  # 1970-01-01 was a Thursday (weekday 3)
    out: FloatArray = np.where(weekday >= 5, _WEEKEND[hod], _WEEKDAY[hod])
    return out


def _pick(rng: np.random.Generator, probs: FloatArray, group: IntArray) -> IntArray:
    """One categorical draw per row from ``probs[group[row]]`` (inverse CDF)."""
    cdf = np.cumsum(probs, axis=1)
    cdf[:, -1] = 1.0
    u = rng.random(group.size)
    out: IntArray = (u[:, None] >= cdf[group]).sum(axis=1).astype(np.int64)
    return out


def _with_nulls(rng: np.random.Generator, values: npt.NDArray[np.floating[Any]],
                rate: float) -> FloatArray:
    out: FloatArray = np.where(rng.random(values.size) < rate, np.nan, values).astype(np.float64)
    return out


def draw_traffic(*, start_us: int, days: int, decisions_per_day: int) -> Frame:
    """A frame holding only the expected volume per hour slot × region × source."""
    hours = days * 24
    frame = Frame(start_us=start_us, hours=hours, rates=np.zeros((hours, 1, 1)))
    per_hour = decisions_per_day * _hour_weights(frame.slot_us) / _MEAN_DAY
    frame.rates = (per_hour[:, None, None] * _REGION_SHARE[None, :, None]
                   * _SOURCE_SHARE[None, None, :])
    return frame


def draw_rows(frame: Frame, rng: np.random.Generator) -> None:
    """Turn the expected volumes into decisions: Poisson counts, times within the hour."""
    counts = rng.poisson(frame.rates)
    cell = np.repeat(np.arange(counts.size, dtype=np.int64), counts.ravel())
    hour, region, source = np.unravel_index(cell, counts.shape)
    ts_us = frame.start_us + hour * HOUR_US + rng.integers(0, HOUR_US, size=cell.size)
    order = np.argsort(ts_us, kind="stable")
    frame.ts_us = ts_us[order].astype(np.int64)
    frame.hour = hour[order].astype(np.int64)
    frame.region = region[order].astype(np.int64)
    frame.source = source[order].astype(np.int64)


def draw_world(frame: Frame, rng: np.random.Generator) -> None:
    """Draw cohorts, fraud and the true features of every decision in ``frame``."""
    n = frame.n
    frame.device = _pick(rng, _DEVICE_GIVEN_SOURCE, frame.source)
    frame.customer_type = (rng.random(n) >= _NEW_SHARE).astype(np.int64)  # 0 new, 1 returning
    hod = hour_of_day(frame.ts_us)
    night = np.isin(hod, _NIGHT_HOURS)
    prior = (_BASE_FRAUD * _REGION_FRAUD[frame.region] * _SOURCE_FRAUD[frame.source]
             * _DEVICE_FRAUD[frame.device] * _CUSTOMER_FRAUD[frame.customer_type]
             * np.where(night, 2.2, 1.0))
    fraud = rng.random(n) < prior
    frame.is_fraud = fraud
    # a fifth of fraud is careful enough to look like an ordinary purchase
    fraud = fraud & (rng.random(n) >= 0.2)
    f = fraud.astype(np.int64)
    new = frame.customer_type == 0
    pos = frame.source == POS

    category = _pick(rng, _CATEGORY_GIVEN_FRAUD, f)
    mu = 3.6 + _CATEGORY_LOG_AMOUNT[category] + np.where(fraud, 0.7, 0.0)
    sigma = np.where(fraud, 1.0, 0.9)
    amount = np.maximum(np.round(np.exp(mu + sigma * rng.standard_normal(n)), 2), 0.5)

    age_scale = np.where(new, 20.0, 900.0) * np.where(fraud, 0.5, 1.0)
    account_age = np.floor(rng.exponential(age_scale)) + np.where(new, 0.0, 30.0)

    log_distance = (np.where(pos, 1.0, 2.3) + np.where(fraud, 1.2, 0.0)
                    + np.where(pos, 1.0, 1.3) * rng.standard_normal(n))
    distance = np.round(np.exp(log_distance), 1)

    txn_count = rng.poisson(np.where(fraud, 3.5, 1.6) * np.where(new, 0.6, 1.0)).astype(float)
    velocity = np.round(np.exp(np.where(fraud, 0.6, 0.0)
                               + np.where(fraud, 0.7, 0.45) * rng.standard_normal(n)), 3)
    ip_risk = np.round(rng.beta(np.where(fraud, 3.0, 2.0), np.where(fraud, 6.0, 10.0)), 3)
    failed_logins = rng.poisson(np.where(fraud, 0.7, 0.15)).astype(float)
    card = _pick(rng, _CARD_GIVEN_FRAUD, f)
    mismatch = rng.random(n) < np.where(fraud, 0.20, 0.03)
    present = pos & (rng.random(n) < np.where(fraud, 0.55, 0.97))
    match = pos | (rng.random(n) < np.where(fraud, 0.55, 0.93))

    frame.features = {
        "amount": amount,
        "account_age_days": _with_nulls(rng, account_age, 0.01),
        "distance_km": _with_nulls(rng, distance, 0.015),
        "txn_count_24h": txn_count,
        "velocity_ratio": _with_nulls(rng, velocity, 0.02),
        "hour_of_day": hod.astype(float),
        "ip_risk_score": ip_risk,
        "failed_logins_7d": failed_logins,
        "merchant_category": category.astype(float),
        "card_type": card.astype(float),
        "country_mismatch": mismatch.astype(float),
        "card_present": present.astype(float),
        "billing_shipping_match": _with_nulls(rng, match.astype(float), 0.01),
    }
    frame.dispute = ~frame.is_fraud & (amount > 20.0) & (rng.random(n) < 0.015)


def load(frame: Frame) -> FloatArray:
    """Load of the system when each decision was made: hourly volume / the peak volume."""
    out: FloatArray = _hour_weights(frame.ts_us) / _MAX_WEIGHT
    return out


def draw_labels(frame: Frame, rng: np.random.Generator) -> None:
    """Draw each decision's label and when (and whether) it is observed.

    Chargebacks (fraud, and disputes) arrive after a lognormal delay of 1-75 days
    (median 9); legitimate transactions are confirmed after 2-20 days. Some
    labels never arrive.
    """
    n = frame.n
    charged_back = frame.is_fraud | frame.dispute
    chargeback_days = np.clip(np.exp(np.log(9.0) + 0.6 * rng.standard_normal(n)), 1.0, 75.0)
    confirm_days = np.clip(2.0 + rng.exponential(2.0, n), 2.0, 20.0)
    delay_days = np.where(charged_back, chargeback_days, confirm_days)
    frame.observed_us = frame.ts_us + (delay_days * DAY_US).astype(np.int64)
    frame.arrives = rng.random(n) < np.where(charged_back, 0.92, 0.97)
    frame.label = frame.is_fraud.copy()
