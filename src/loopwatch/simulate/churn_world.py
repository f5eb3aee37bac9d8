"""The simulated subscription world: who is scored, what they look like, and who cancels.

A video-streaming service scores subscribers for the risk of cancelling at
their next renewal. The shape differs from the card-fraud world
(:mod:`loopwatch.simulate.world`) on purpose, so that defaults designed on one
can be checked on the other:

* **traffic** - three sources with their own daily shapes: a nightly batch
  (most of the volume, at 01-04 UTC), in-app events (daytime) and support
  calls (business hours); eight regions of very unequal size.
* **features** - integer counts (sessions, tickets, payment failures, profiles),
  heavy tails (watch hours, days since last login: lognormal and Pareto),
  price points, and categories with many values (36 genres, 14 acquisition
  channels).
* **labels** - cancellation (about 5% of scored subscribers) is known at the
  renewal: 2-35 days later for monthly plans, up to 60 for annual ones.

Everything is drawn with NumPy over one :class:`ChurnFrame` (no per-row loops);
incidents (:mod:`loopwatch.simulate.churn_incidents`) edit it in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from loopwatch.simulate.world import DAY_US, HOUR_US, BoolArray, FloatArray, IntArray, hour_of_day

__all__ = [
    "BOOLEAN_FEATURES",
    "CATEGORICAL_FEATURES",
    "CHANNELS",
    "FEATURES",
    "NUMERIC_FEATURES",
    "PLANS",
    "REGIONS",
    "SOURCES",
    "ChurnFrame",
    "draw_labels",
    "draw_rows",
    "draw_traffic",
    "draw_world",
]

REGIONS = ("US", "BR", "UK", "DE", "IN", "JP", "MX", "NG")
_REGION_SHARE = np.array([0.34, 0.16, 0.12, 0.10, 0.10, 0.08, 0.07, 0.03])
_REGION_PRICE = np.array([1.0, 0.45, 0.95, 0.9, 0.3, 0.85, 0.5, 0.35])
_REGION_CHURN = np.array([0.0, 0.35, -0.1, -0.2, 0.45, -0.3, 0.25, 0.5])

SOURCES = ("nightly-batch", "app-event", "support-call")
_SOURCE_SHARE = np.array([0.70, 0.24, 0.06])
# relative volume by UTC hour, per source
_SOURCE_HOURS = np.array([
    np.where(np.isin(np.arange(24), (1, 2, 3, 4)), 1.0, 0.0),
    0.3 + np.clip(np.sin((np.arange(24) - 6) / 24 * 2 * np.pi), 0.0, None),
    np.where((np.arange(24) >= 8) & (np.arange(24) < 18), 1.0, 0.05),
])
_SOURCE_HOURS = _SOURCE_HOURS / _SOURCE_HOURS.sum(axis=1, keepdims=True)
_SOURCE_CHURN = np.array([0.0, -0.2, 0.9])  # who calls support is unhappier

PLANS = ("basic", "standard", "premium", "family")
_PLAN_SHARE = np.array([0.30, 0.38, 0.20, 0.12])
_PLAN_FEE = np.array([6.99, 11.99, 17.99, 22.99])
_PLAN_CHURN = np.array([0.4, 0.0, -0.15, -0.45])
BILLING = ("monthly", "annual")

CHANNELS = ("organic", "search_ads", "social_ads", "tv", "partner_telco", "partner_bank",
            "referral", "influencer", "app_store", "promo_code", "bundle_console",
            "bundle_isp", "gift", "winback")
_CHANNEL_SHARE = np.array([24, 14, 12, 6, 8, 3, 7, 5, 9, 4, 2, 3, 1, 2], dtype=float)
_CHANNEL_SHARE /= _CHANNEL_SHARE.sum()
_CHANNEL_CHURN = np.array([-0.2, 0.0, 0.3, -0.1, -0.3, -0.4, -0.2, 0.5, 0.1, 0.7, -0.3,
                           -0.4, 0.2, 0.9])
_GENRES = 36
GENRES = tuple(f"genre_{i:02d}" for i in range(_GENRES))
_GENRE_SHARE: FloatArray = 1.0 / np.arange(1, _GENRES + 1, dtype=np.float64) ** 0.9  # Zipf-like
_GENRE_SHARE /= _GENRE_SHARE.sum()
_GENRE_CHURN = np.linspace(-0.3, 0.4, _GENRES)[np.random.default_rng(11).permutation(_GENRES)]
PAYMENT_METHODS = ("card", "paypal", "carrier_billing", "gift_card", "bank_debit", "app_store")
_PAYMENT_SHARE = np.array([0.52, 0.14, 0.08, 0.04, 0.12, 0.10])
_PAYMENT_FAIL = np.array([0.06, 0.04, 0.15, 0.25, 0.03, 0.05])

_DISCOUNT_SHARE: FloatArray = np.array([0.78, 0.12, 0.07, 0.03])

NUMERIC_FEATURES = (
    "tenure_months", "monthly_fee", "sessions_30d", "watch_hours_30d", "days_since_login",
    "support_tickets_90d", "payment_failures_90d", "discount_pct", "profiles_used",
)
CATEGORICAL_FEATURES = ("acquisition_channel", "favorite_genre", "payment_method")
BOOLEAN_FEATURES = ("autopay", "promo_active")
FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES + BOOLEAN_FEATURES

#: intercept of the cancellation log-odds: about 5% of scored subscribers cancel
_BASE_LOGIT = -2.95


def _empty_int() -> IntArray:
    return np.zeros(0, dtype=np.int64)


def _empty_bool() -> BoolArray:
    return np.zeros(0, dtype=np.bool_)


# Not frozen on purpose: the working buffer each stage and incident edits in place.
@dataclass(eq=False)
class ChurnFrame:
    """The working arrays of one churn simulation, one element per scored subscriber.

    Categorical features hold codes as floats (``NaN`` is null) indexing
    ``categories[name]``; boolean features hold 0.0/1.0/``NaN``.
    """

    start_us: int
    hours: int
    #: expected decisions per hour slot × region × source (traffic stage)
    rates: FloatArray
    ts_us: IntArray = field(default_factory=_empty_int)
    region: IntArray = field(default_factory=_empty_int)
    source: IntArray = field(default_factory=_empty_int)
    plan: IntArray = field(default_factory=_empty_int)
    billing: IntArray = field(default_factory=_empty_int)
    #: log-odds of cancelling, before incidents that change who cancels
    logit: FloatArray = field(default_factory=lambda: np.zeros(0))
    churns: BoolArray = field(default_factory=_empty_bool)
    #: a subscriber who downgrades to a cheaper plan instead of cancelling
    downgrades: BoolArray = field(default_factory=_empty_bool)
    features: dict[str, FloatArray] = field(default_factory=dict)
    categories: dict[str, list[str]] = field(default_factory=lambda: {
        "acquisition_channel": list(CHANNELS), "favorite_genre": list(GENRES),
        "payment_method": list(PAYMENT_METHODS)})
    served: dict[str, FloatArray] = field(default_factory=dict)
    timed_out: BoolArray = field(default_factory=_empty_bool)
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


def draw_traffic(*, start_us: int, days: int, decisions_per_day: int) -> ChurnFrame:
    """A frame holding only the expected volume per hour slot × region × source."""
    hours = days * 24
    frame = ChurnFrame(start_us=start_us, hours=hours, rates=np.zeros((hours, 1, 1)))
    hod = hour_of_day(frame.slot_us)
    # weekends: fewer support calls, more in-app activity
    weekend = (((frame.slot_us // DAY_US) + 3) % 7) >= 5
    by_source = decisions_per_day * _SOURCE_SHARE[None, :] * _SOURCE_HOURS[:, hod].T
    by_source *= np.where(weekend[:, None], np.array([1.0, 1.3, 0.4]), 1.0)
    frame.rates = by_source[:, None, :] * _REGION_SHARE[None, :, None]
    return frame


def draw_rows(frame: ChurnFrame, rng: np.random.Generator) -> None:
    """Turn the expected volumes into decisions: Poisson counts, times within the hour."""
    counts = rng.poisson(frame.rates)
    cell = np.repeat(np.arange(counts.size, dtype=np.int64), counts.ravel())
    hour, region, source = np.unravel_index(cell, counts.shape)
    ts_us = frame.start_us + hour * HOUR_US + rng.integers(0, HOUR_US, size=cell.size)
    order = np.argsort(ts_us, kind="stable")
    frame.ts_us = ts_us[order].astype(np.int64)
    frame.region = region[order].astype(np.int64)
    frame.source = source[order].astype(np.int64)


def _categorical(rng: np.random.Generator, share: FloatArray, n: int) -> IntArray:
    out: IntArray = rng.choice(share.size, size=n, p=share).astype(np.int64)
    return out


def _nulls(rng: np.random.Generator, values: FloatArray, rate: float) -> FloatArray:
    out: FloatArray = np.where(rng.random(values.size) < rate, np.nan, values)
    return out


def draw_world(frame: ChurnFrame, rng: np.random.Generator) -> None:
    """Draw cohorts, features and who cancels, for every decision in ``frame``."""
    n = frame.n
    frame.plan = _categorical(rng, _PLAN_SHARE, n)
    frame.billing = (rng.random(n) < np.where(frame.plan == 0, 0.1, 0.3)).astype(np.int64)
    engagement = rng.standard_normal(n)  # latent: how much the subscriber uses the service
    channel = _categorical(rng, _CHANNEL_SHARE, n)
    genre = _categorical(rng, _GENRE_SHARE, n)
    method = _categorical(rng, _PAYMENT_SHARE, n)

    tenure = rng.negative_binomial(1.2, 1.2 / (1.2 + 16.0), n).astype(float)
    fee = np.round(_PLAN_FEE[frame.plan] * _REGION_PRICE[frame.region]
                   * np.where(frame.billing == 1, 0.85, 1.0), 2)
    sessions_mean = 14.0 * np.exp(0.8 * engagement) * (1.0 + 0.4 * (frame.plan == 3))
    sessions = rng.negative_binomial(2.0, 2.0 / (2.0 + sessions_mean)).astype(float)
    watch = np.exp(np.log(12.0) + 0.9 * engagement + 0.8 * rng.standard_normal(n))
    binge = rng.random(n) < 0.02
    watch = np.round(np.where(binge, watch + 40.0 * (rng.pareto(1.8, n) + 1.0), watch), 1)
    login_p = np.clip(0.45 * np.exp(0.9 * engagement), 0.01, 0.95)
    since_login = (rng.geometric(login_p) - 1).astype(float)
    unhappy = engagement < -1.0
    tickets = rng.poisson(np.where(unhappy, 0.7, 0.2) + 0.8 * (frame.source == 2)).astype(float)
    failures = rng.poisson(_PAYMENT_FAIL[method] * 3.0).astype(float)
    discount = np.choose(_categorical(rng, _DISCOUNT_SHARE, n),
                         [0.0, 10.0, 25.0, 50.0])
    profiles = np.minimum(1 + rng.poisson(np.where(frame.plan == 3, 2.2, 0.6)), 5).astype(float)
    autopay = rng.random(n) < np.where(method == 3, 0.05, 0.8)
    promo = discount > 0

    frame.logit = (_BASE_LOGIT - 0.85 * engagement + 0.35 * failures + 0.25 * tickets
                   - 0.45 * np.log1p(tenure) + 0.9 * promo - 0.6 * autopay
                   + 0.012 * discount + _REGION_CHURN[frame.region]
                   + _SOURCE_CHURN[frame.source] + _PLAN_CHURN[frame.plan]
                   + _CHANNEL_CHURN[channel] + _GENRE_CHURN[genre] + 0.5 * (tenure < 2))
    frame.churns = rng.random(n) < 1.0 / (1.0 + np.exp(-frame.logit))
    frame.downgrades = ~frame.churns & (frame.plan > 0) & (rng.random(n) < 0.03)
    frame.features = {
        "tenure_months": tenure,
        "monthly_fee": fee,
        "sessions_30d": _nulls(rng, sessions, 0.01),
        "watch_hours_30d": _nulls(rng, watch, 0.01),
        "days_since_login": since_login,
        "support_tickets_90d": tickets,
        "payment_failures_90d": _nulls(rng, failures, 0.005),
        "discount_pct": discount,
        "profiles_used": profiles,
        "acquisition_channel": channel.astype(float),
        "favorite_genre": _nulls(rng, genre.astype(float), 0.03),
        "payment_method": method.astype(float),
        "autopay": autopay.astype(float),
        "promo_active": promo.astype(float),
    }


def draw_labels(frame: ChurnFrame, rng: np.random.Generator) -> None:
    """Draw each decision's label and when (and whether) it is observed.

    The label is known at the renewal, plus one to three days of billing
    reconciliation: 1-30 days away for monthly plans, 1-57 for annual ones.
    """
    n = frame.n
    renewal = np.where(frame.billing == 1, rng.uniform(1.0, 57.0, n), rng.uniform(1.0, 30.0, n))
    delay_days = renewal + rng.uniform(1.0, 3.0, n)
    frame.observed_us = frame.ts_us + (delay_days * DAY_US).astype(np.int64)
    frame.arrives = rng.random(n) < 0.97
    frame.label = frame.churns.copy()
