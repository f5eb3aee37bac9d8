"""Labels from people: how long a review takes, per cohort, and how often it agrees with ground truth.

Outcomes carry the source of their label (the spec's ``outcomes.label_source``
column): a label from a review queue (``review`` by default) is one source, a later
chargeback or a confirmed case another. Per cohort, from one aggregate query in the
source's engine:

* **turnaround** — hours from the decision to its first review label: median, 90th
  percentile and maximum, with the number reviewed;
* **waiting** — decisions sent to the queue (an action in ``queue_actions``) with no
  review label yet, and the age of the oldest at ``as_of``;
* **agreement** — of the reviewed decisions whose ground truth (the latest label of
  another source) arrived after the review, the share where both say the same, with a
  Wilson interval, and Cohen's kappa (scikit-learn) — agreement beyond chance, which
  matters when nearly every case is negative — with the 95% interval of its
  large-sample standard error (Fleiss, Cohen & Everitt 1969;
  :func:`~loopwatch.core.intervals.kappa_interval`).

Cohorts are ranked by their 90th-percentile turnaround among those with at least
``min_reviews`` reviews (:attr:`ReviewReport.longest_wait`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loopwatch.core.intervals import kappa_interval, wilson
from loopwatch.core.store import DecisionSource
from loopwatch.core.window import Window
from loopwatch.errors import InputError

__all__ = ["CohortReviews", "ReviewReport", "review_report"]


@dataclass(frozen=True)
class CohortReviews:
    """Review turnaround, waiting decisions and agreement of one cohort (``column`` ``None``: all)."""

    column: str | None
    value: str | None
    decisions: int
    reviewed: int
    hours_median: float | None
    hours_p90: float | None
    hours_max: float | None
    waiting: int
    oldest_waiting_hours: float | None
    #: reviewed decisions with a later ground truth, and the 2×2 counts (review, truth)
    compared: int
    both_positive: int
    review_only: int
    truth_only: int
    both_negative: int

    @property
    def name(self) -> str:
        return "all" if self.column is None else f"{self.column}={self.value}"

    @property
    def agreement(self) -> float | None:
        agree = self.both_positive + self.both_negative
        return agree / self.compared if self.compared else None

    @property
    def agreement_interval(self) -> tuple[float, float] | None:
        if not self.compared:
            return None
        return wilson(self.both_positive + self.both_negative, self.compared)

    @property
    def kappa(self) -> float | None:
        """Cohen's kappa of review against ground truth; ``None`` when chance agreement is total."""
        n = self.compared
        if not n:
            return None
        review_pos = (self.both_positive + self.review_only) / n
        truth_pos = (self.both_positive + self.truth_only) / n
        if review_pos * truth_pos + (1 - review_pos) * (1 - truth_pos) >= 1:
            return None  # one class only on both sides: kappa is undefined
        from sklearn.metrics import cohen_kappa_score

        counts = (self.both_positive, self.review_only, self.truth_only, self.both_negative)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            value = cohen_kappa_score([1, 1, 0, 0], [1, 0, 1, 0], sample_weight=list(counts))
        return float(value) if math.isfinite(value) else None

    @property
    def kappa_interval(self) -> tuple[float, float] | None:
        """95% interval of :attr:`kappa` (Fleiss, Cohen & Everitt 1969); ``None`` when kappa is."""
        if self.kappa is None:
            return None
        _, low, high = kappa_interval([[self.both_positive, self.review_only],
                                       [self.truth_only, self.both_negative]])
        return (low, high) if math.isfinite(low) and math.isfinite(high) else None

    def to_dict(self) -> dict[str, Any]:
        interval = self.agreement_interval
        kappa = self.kappa_interval
        return {"cohort": self.name, "decisions": self.decisions, "reviewed": self.reviewed,
                "hours_median": self.hours_median, "hours_p90": self.hours_p90, "hours_max": self.hours_max,
                "waiting": self.waiting, "oldest_waiting_hours": self.oldest_waiting_hours,
                "compared": self.compared, "agreement": self.agreement,
                "agreement_low": interval[0] if interval else None,
                "agreement_high": interval[1] if interval else None, "kappa": self.kappa,
                "kappa_low": kappa[0] if kappa else None, "kappa_high": kappa[1] if kappa else None,
                "counts": {"both_positive": self.both_positive, "review_only": self.review_only,
                           "truth_only": self.truth_only, "both_negative": self.both_negative}}


@dataclass(frozen=True)
class ReviewReport:
    """Reviews of one model's decisions in ``window``, judged at ``as_of``."""

    model: str
    window: Window
    as_of: datetime
    review_sources: tuple[str, ...]
    cohorts: tuple[CohortReviews, ...]
    min_reviews: int

    @property
    def overall(self) -> CohortReviews:
        return self.cohorts[0]

    @property
    def longest_wait(self) -> tuple[CohortReviews, ...]:
        """Cohorts with at least ``min_reviews`` reviews, longest 90th-percentile turnaround first."""
        ranked = [c for c in self.cohorts[1:] if c.reviewed >= self.min_reviews and c.hours_p90 is not None]
        return tuple(sorted(ranked, key=lambda c: -(c.hours_p90 or 0.0)))

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "start": self.window.start.isoformat(),
                "end": self.window.end.isoformat(), "as_of": self.as_of.isoformat(),
                "review_sources": list(self.review_sources), "min_reviews": self.min_reviews,
                "cohorts": [c.to_dict() for c in self.cohorts],
                "longest_wait": [c.name for c in self.longest_wait]}


def review_report(source: DecisionSource, *, window: Window | None = None,
                  review_sources: Sequence[str] = ("review",), queue_actions: Sequence[str] = ("review",),
                  as_of: datetime | None = None, min_reviews: int = 20) -> ReviewReport:
    """Turnaround, waiting and agreement of review labels per cohort of the decisions in ``window``.

    ``as_of`` (default: the latest decision or outcome time) is when waiting decisions
    are aged. Raises :class:`InputError` when the spec names no ``outcomes.label_source``
    column or the stored outcomes lack it.
    """
    import ibis

    spec = source.spec
    o, c = spec.outcomes, spec.columns
    if o.label_source is None:
        raise InputError("the spec's outcomes name no label_source column, so review labels cannot be told "
                         "from others; add outcomes: {label_source: <column>}")
    con = source.connect()
    outcomes = source.table("outcomes", con=con)
    if o.label_source not in outcomes.columns:
        raise InputError(f"the stored outcomes have no {o.label_source!r} column (outcomes.label_source): "
                         "no outcome was written with its label's source")
    decisions = source.table("decisions", con=con, between=window)
    if window is None:
        bounds = decisions.aggregate(lo=decisions[c.timestamp].min(), hi=decisions[c.timestamp].max())
        row = bounds.to_pyarrow().to_pylist()[0]
        if row["lo"] is None:
            raise InputError(f"no decisions in {source.location}")
        window = Window(row["lo"], row["hi"])
    if as_of is None:
        latest = [decisions[c.timestamp].max().to_pyarrow().as_py(),
                  outcomes[o.observed_at].max().to_pyarrow().as_py()]
        as_of = max(t for t in latest if t is not None) if any(latest) else window.end
    from_review = outcomes[o.label_source].isin(list(review_sources))
    reviews = outcomes.filter(from_review)
    review = reviews.group_by(_id=reviews[o.decision_id]).aggregate(
        _review_at=reviews[o.observed_at].min(), _review=reviews[o.label].argmin(reviews[o.observed_at]))
    other = outcomes.filter(~from_review | outcomes[o.label_source].isnull())
    truth = other.group_by(_tid=other[o.decision_id]).aggregate(
        _truth_at=other[o.observed_at].max(), _truth=other[o.label].argmax(other[o.observed_at]))
    cohorts = [name for name in spec.cohorts if name in decisions.columns]
    action = decisions[c.action] if c.action and c.action in decisions.columns else ibis.null("string")
    base = decisions.select(_did=decisions[c.decision_id], _ts=decisions[c.timestamp], _action=action,
                            **{f"_c_{n}": decisions[n].cast("string") for n in cohorts})
    first = base.left_join(review, base._did == review._id)
    t = first.left_join(truth, first._did == truth._tid)
    hours = (t._review_at.epoch_seconds() - t._ts.epoch_seconds()) / 3600.0
    waiting = t._review_at.isnull() & t._action.isin(list(queue_actions))
    age = (ibis.literal(as_of).epoch_seconds() - t._ts.epoch_seconds()) / 3600.0
    pair = t._review_at.notnull() & t._truth_at.notnull() & (t._truth_at > t._review_at)

    def count(condition: Any) -> Any:
        return condition.cast("int64").sum()

    metrics = {
        "decisions": t.count(), "reviewed": count(t._review_at.notnull()),
        "hours_median": hours.quantile(0.5), "hours_p90": hours.quantile(0.9), "hours_max": hours.max(),
        "waiting": count(waiting), "oldest_waiting_hours": ibis.ifelse(waiting, age, ibis.null()).max(),
        "compared": count(pair), "both_positive": count(pair & t._review & t._truth),
        "review_only": count(pair & t._review & ~t._truth), "truth_only": count(pair & ~t._review & t._truth),
        "both_negative": count(pair & ~t._review & ~t._truth),
    }
    rows: list[CohortReviews] = [_cohort(None, None, t.aggregate(**metrics).to_pyarrow().to_pylist()[0])]
    for name in cohorts:
        grouped = t.group_by(_value=t[f"_c_{name}"]).aggregate(**metrics).order_by("_value")
        rows.extend(_cohort(name, r["_value"], r) for r in grouped.to_pyarrow().to_pylist())
    return ReviewReport(spec.model, window, as_of, tuple(review_sources), tuple(rows), min_reviews)


def _cohort(column: str | None, value: Any, row: dict[str, Any]) -> CohortReviews:
    def number(key: str) -> float | None:
        v = row.get(key)
        return None if v is None or not math.isfinite(float(v)) else float(v)

    def whole(key: str) -> int:
        return int(row.get(key) or 0)

    return CohortReviews(column, None if value is None else str(value), whole("decisions"), whole("reviewed"),
                         number("hours_median"), number("hours_p90"), number("hours_max"), whole("waiting"),
                         number("oldest_waiting_hours"), whole("compared"), whole("both_positive"),
                         whole("review_only"), whole("truth_only"), whole("both_negative"))
