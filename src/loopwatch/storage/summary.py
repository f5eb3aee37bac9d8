"""A first look at a store: what it holds, computed in the engine; only aggregates come back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from loopwatch.core.store import DecisionSource

__all__ = ["StoreSummary", "summarize"]


@dataclass(frozen=True)
class StoreSummary:
    """Counts, time range, decision and label rates, cohort sizes and quarantine reasons."""

    model: str
    store: str
    decisions: int
    outcomes: int
    quarantined: int
    first_decision: datetime | None
    last_decision: datetime | None
    days: int
    model_versions: tuple[str, ...]
    decision_rate: float | None
    labelled: int
    positive_labels: int
    cohorts: Mapping[str, Mapping[str, int]]
    quarantine_reasons: Mapping[str, int]

    @property
    def label_coverage(self) -> float | None:
        """Fraction of decisions that have an outcome yet."""
        return self.labelled / self.decisions if self.decisions else None

    @property
    def base_rate(self) -> float | None:
        """Fraction of labelled decisions whose label is positive."""
        return self.positive_labels / self.labelled if self.labelled else None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("first_decision", "last_decision"):
            out[key] = out[key].isoformat() if out[key] else None
        out["model_versions"] = list(self.model_versions)
        out["label_coverage"] = self.label_coverage
        out["base_rate"] = self.base_rate
        return out


def summarize(store: DecisionSource, *, top: int = 12) -> StoreSummary:
    """Summarize ``store`` with a few aggregate queries pushed down to its engine.

    A store that does not exist is a :class:`~loopwatch.errors.StoreError` naming the place;
    one that exists and holds no decisions yet is summarized as such (``decisions == 0``).
    """
    spec = store.spec
    con = store.connect()
    c, o = spec.columns, spec.outcomes
    joined = store.joined(con=con)
    ts = joined[c.timestamp]
    label = joined[o.label]
    aggregates: dict[str, Any] = {
        "n": joined.count(),
        "first": ts.min(),
        "last": ts.max(),
        "days": ts.date().nunique(),
        "labelled": label.notnull().sum(),
        "positive": label.fill_null(False).sum(),
    }
    if c.action:
        aggregates["flagged"] = joined[c.action].isin(list(spec.positive_actions)).sum()
    row = joined.aggregate(**aggregates).to_pyarrow().to_pylist()[0]
    n = int(row["n"])
    versions: tuple[str, ...] = ()
    if c.model_version:
        column = joined[c.model_version]
        versions = tuple(sorted(v for v in column.fill_null("").name("v").as_table().distinct()
                                .to_pyarrow().column("v").to_pylist() if v))
    cohorts: dict[str, dict[str, int]] = {}
    for name in spec.cohorts:
        counts = (joined.group_by(name).aggregate(n=joined.count())
                  .order_by([joined.count().desc(), name]).limit(top).to_pyarrow().to_pylist())
        cohorts[name] = {str(r[name]) if r[name] is not None else "(null)": int(r["n"])
                         for r in counts}
    quarantine = store.table("quarantine", con=con)
    reasons = (quarantine.group_by("reason").aggregate(n=quarantine.count())
               .order_by([quarantine.count().desc(), "reason"]).limit(top).to_pyarrow().to_pylist())
    flagged = row.get("flagged")
    return StoreSummary(
        model=spec.model,
        store=store.location,
        decisions=n,
        outcomes=store.count("outcomes"),
        quarantined=store.count("quarantine"),
        first_decision=row["first"],
        last_decision=row["last"],
        days=int(row["days"] or 0),
        model_versions=versions,
        decision_rate=(int(flagged or 0) / n) if n and flagged is not None else None,
        labelled=int(row["labelled"] or 0),
        positive_labels=int(row["positive"] or 0),
        cohorts=cohorts,
        quarantine_reasons={str(r["reason"]): int(r["n"]) for r in reasons},
    )
