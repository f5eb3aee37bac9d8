"""The feature registry: each feature of the spec, and what about it needs a person.

:func:`feature_report` lists the spec's features with their owner, source, cost,
expectations, deprecation and lineage, and flags:

* ``missing_owner`` — nobody to ask or to page about it;
* ``deprecated`` — its ``deprecated_after`` day has passed and it is still declared;
* ``pii_in_clear`` — declared ``pii: hash`` but stored values that are not digests, or
  ``pii: drop`` but stored at all (read from the source, in its engine);
* ``unused`` — no registered model version uses it; without a model registry, a
  feature with no importance (0 or not given) that is neither a cohort, an entity
  nor the parent of another feature;
* ``expectation`` — a recent value outside ``min``/``max``, a value not in
  ``allowed_values``, or more missing values than ``max_missing_rate`` (one
  aggregate query over the recent days, in the source's engine).

The expectations are read from the rows rather than from the stored profiles:
profiles count categories of the reference only (the rest become ``unseen``), so
they cannot say which value broke ``allowed_values``.

Examples
--------
>>> from datetime import date
>>> from loopwatch.core.spec import spec_from_mapping
>>> spec = spec_from_mapping({"model": "m", "features": [
...     {"name": "amount", "dtype": "numeric", "owner": "payments", "importance": 0.4},
...     {"name": "legacy_score", "dtype": "numeric", "deprecated_after": "2026-01-31"}]})
>>> report = feature_report(spec, today=date(2026, 3, 1))
>>> [(f.feature, f.kind) for f in report.flags]
[('legacy_score', 'missing_owner'), ('legacy_score', 'deprecated'), ('legacy_score', 'unused')]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from loopwatch.core.feature_spec import Feature
from loopwatch.core.spec import Spec
from loopwatch.core.store import DecisionSource
from loopwatch.core.window import Window

__all__ = ["FeatureFlag", "FeatureReport", "FlagKind", "feature_report", "recent_window"]

FlagKind = Literal["missing_owner", "deprecated", "pii_in_clear", "unused", "expectation"]
#: a stored ``pii: hash`` value: the hex digest of HMAC-SHA256
_DIGEST = "^[0-9a-f]{64}$"


@dataclass(frozen=True)
class FeatureFlag:
    """One thing about one feature that needs a person."""

    feature: str
    kind: FlagKind
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"feature": self.feature, "kind": self.kind, "message": self.message}


@dataclass(frozen=True)
class FeatureReport:
    """The spec's features and the flags raised on them; ``window`` is the days of rows read."""

    model: str
    features: tuple[Feature, ...]
    flags: tuple[FeatureFlag, ...]
    window: Window | None = None
    #: model versions per feature, when a model registry was read (``None``: it was not)
    used_by: Mapping[str, tuple[str, ...]] | None = None
    rows: int = 0
    checked: tuple[str, ...] = field(default=())

    @property
    def exit_code(self) -> int:
        """1 when a feature is flagged, else 0."""
        return 1 if self.flags else 0

    def flags_of(self, name: str) -> tuple[FeatureFlag, ...]:
        return tuple(f for f in self.flags if f.feature == name)

    def to_dict(self) -> dict[str, Any]:
        out = []
        for feature in self.features:
            entry = feature.model_dump(mode="json", exclude_none=True)
            if self.used_by is not None:
                entry["used_by"] = list(self.used_by.get(feature.name, ()))
            entry["flags"] = [f.to_dict() for f in self.flags_of(feature.name)]
            out.append(entry)
        return {
            "model": self.model,
            "window": None if self.window is None else
            {"start": self.window.start.isoformat(), "end": self.window.end.isoformat()},
            "rows": self.rows,
            "checked": list(self.checked),
            "features": out,
            "flags": [f.to_dict() for f in self.flags],
        }


def recent_window(source: DecisionSource, days: int) -> Window | None:
    """The last ``days`` UTC days up to the latest day holding decisions (``None``: no decisions)."""
    stored = source.versions("decisions")
    if not stored:
        return None
    last = date.fromisoformat(max(stored)) + timedelta(days=1)
    return Window.ending(last, timedelta(days=days))


def feature_report(spec: Spec, *, today: date, source: DecisionSource | None = None,
                   days: int = 7, model_features: Mapping[str, Sequence[str]] | None = None
                   ) -> FeatureReport:
    """The spec's features with their flags.

    ``source`` (optional) is read for the PII and expectation flags over the last
    ``days`` days holding decisions; ``model_features`` maps each registered model
    version to the features it uses (from the model registry; without it, a feature
    counts as used when it has an importance, is a cohort or entity, or feeds another).
    """
    flags: list[FeatureFlag] = []
    for feature in spec.features:
        if not feature.owner:
            flags.append(FeatureFlag(feature.name, "missing_owner", "no owner: give features[].owner"))
        if feature.deprecated_after is not None and feature.deprecated_after < today:
            flags.append(FeatureFlag(
                feature.name, "deprecated",
                f"deprecated after {feature.deprecated_after.isoformat()} "
                f"({(today - feature.deprecated_after).days} days ago) and still in the spec"))
    used_by = _used_by(spec, model_features)
    for feature in spec.features:
        if feature.name not in used_by:
            why = ("no registered model version uses it" if model_features is not None else
                   "no importance, and it is no cohort, entity or input of another feature")
            flags.append(FeatureFlag(feature.name, "unused", why))
    window: Window | None = None
    rows, checked = 0, tuple[str, ...]()
    if source is not None:
        window = recent_window(source, days)
        if window is not None:
            rows, found, checked = _read_rows(spec, source, window)
            flags.extend(found)
    order = {f.name: i for i, f in enumerate(spec.features)}
    flags.sort(key=lambda f: order[f.feature])
    return FeatureReport(spec.model, spec.features, tuple(flags), window,
                         None if model_features is None else used_by, rows, checked)


def _used_by(spec: Spec, model_features: Mapping[str, Sequence[str]] | None) -> dict[str, tuple[str, ...]]:
    if model_features is not None:
        out: dict[str, list[str]] = {}
        for version, names in model_features.items():
            for name in names:
                out.setdefault(name, []).append(version)
        return {k: tuple(sorted(v)) for k, v in out.items()}
    parents = {p for f in spec.features for p in f.derived_from}
    read = {*spec.cohorts, *spec.entities, *parents}
    return {f.name: () for f in spec.features if f.importance or f.name in read}


def _read_rows(spec: Spec, source: DecisionSource, window: Window
               ) -> tuple[int, list[FeatureFlag], tuple[str, ...]]:
    """One aggregate over the window: PII stored in clear and expectations broken."""
    import ibis

    table = source.table("decisions", between=window)
    columns = set(table.columns)
    metrics: dict[str, Any] = {"n": table.count()}
    for f in spec.features:
        if f.name not in columns:
            continue
        col = table[f.name]
        if f.pii == "hash":
            clear = col.notnull() & ~col.cast("string").re_search(_DIGEST)
            metrics[f"{f.name}__clear"] = clear.cast("int64").sum()
        elif f.pii == "drop":
            metrics[f"{f.name}__clear"] = col.count()
        e = f.expectations
        if e.max_missing_rate is not None:
            metrics[f"{f.name}__nulls"] = col.isnull().cast("int64").sum()
        if e.bounded and f.pii == "none":
            metrics[f"{f.name}__min"] = col.cast("float64").min()
            metrics[f"{f.name}__max"] = col.cast("float64").max()
        if e.allowed_values is not None and f.pii == "none":
            allowed = [ibis.literal(_as(v, f)) for v in e.allowed_values]
            values = col.cast("boolean") if f.dtype == "boolean" else col.cast("string")
            metrics[f"{f.name}__other"] = (values.notnull() & ~values.isin(allowed)).cast("int64").sum()
            metrics[f"{f.name}__example"] = values.notnull() & ~values.isin(allowed)
    examples = {k: v for k, v in metrics.items() if k.endswith("__example")}
    for key in examples:
        del metrics[key]
    row = table.aggregate(**metrics).to_pyarrow().to_pylist()[0]
    n = int(row["n"] or 0)
    flags: list[FeatureFlag] = []
    for f in spec.features:
        clear = row.get(f"{f.name}__clear")
        if clear:
            stored = "not HMAC digests" if f.pii == "hash" else "stored, though it is never to be"
            flags.append(FeatureFlag(f.name, "pii_in_clear",
                                     f"pii: {f.pii}, but {clear} of {n} recent values are {stored}"))
        nulls = row.get(f"{f.name}__nulls")
        limit = f.expectations.max_missing_rate
        if nulls is not None and limit is not None and n and nulls / n > limit:
            flags.append(FeatureFlag(
                f.name, "expectation",
                f"{nulls / n:.2%} of recent values missing; at most {limit:.2%} expected"))
        low, high = row.get(f"{f.name}__min"), row.get(f"{f.name}__max")
        if low is not None and high is not None and f.expectations.outside(float(low), float(high)):
            flags.append(FeatureFlag(f.name, "expectation",
                                     f"recent values span {_num(low)} to {_num(high)}; expected "
                                     f"{_num(f.expectations.min)} to {_num(f.expectations.max)}"))
        other = row.get(f"{f.name}__other")
        if other:
            seen = _others(table, f, examples[f"{f.name}__example"])
            flags.append(FeatureFlag(f.name, "expectation",
                                     f"{other} recent values are not among allowed_values "
                                     f"(e.g. {', '.join(map(repr, seen))})"))
    checked = tuple(f.name for f in spec.features if f.name in columns)
    return n, flags, checked


def _others(table: Any, feature: Feature, unexpected: Any) -> list[str]:
    """A few of the values outside ``allowed_values``, most frequent first."""
    import ibis

    values = table.filter(unexpected)[feature.name].cast("string").name("value")
    top = values.value_counts().order_by(ibis.desc("value_count")).limit(3)
    return [str(r["value"]) for r in top.to_pyarrow().to_pylist()]


def _as(value: str | bool | int, feature: Feature) -> str | bool:
    if feature.dtype == "boolean":
        return value if isinstance(value, bool) else str(value).lower() in {"true", "1", "yes"}
    return str(value).lower() if isinstance(value, bool) else str(value)


def _num(value: float | None) -> str:
    if value is None:
        return "any"
    return f"{value:g}" if math.isfinite(value) else str(value)
