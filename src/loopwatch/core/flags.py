"""Mitigations as flags: what the control plane may tell the prediction loop to do.

A :class:`Mitigation` is one action on the loop of one model, with who set it,
why and when (and optionally until when):

* :class:`Rollback` - serve model version ``version`` instead of the current one;
* :class:`DisableFeature` - do not compute ``feature``; serve its fallback;
* :class:`UseBaseline` - serve the baseline model instead of the model;
* :class:`ReviewThreshold` - in ``cohort`` (``column=value``, or everywhere), send a
  decision the model would let through to review from score ``threshold`` up;
* :class:`Canary` - serve the challenger ``version`` to a ``share`` of decisions (a
  rollout step, :mod:`loopwatch.learning.rollout`; it replaces ``serving.canary``).

A :class:`FlagSet` is the immutable snapshot of one model's mitigations in force,
read through a :class:`FlagReader` (``current(model)``), which caches it for a short
time so that the loop sees a change within seconds and never waits on the store
that holds the flags. The loop logs the ids of the mitigations that shaped each
decision. ``loopwatch.prediction.flag_file.FileFlags`` is the local implementation
(a JSON file); the control plane's database implements the same protocol.

Examples
--------
>>> from datetime import UTC, datetime
>>> flags = FlagSet.of("card-fraud", [
...     {"kind": "disable_feature", "id": "f-1", "model": "card-fraud", "feature": "ip_risk",
...      "who": "ana", "why": "ip source returns garbage", "when": datetime(2026, 3, 1, tzinfo=UTC)}])
>>> flags.disabled("ip_risk").id, flags.disabled("amount")
('f-1', None)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from loopwatch.errors import InputError

__all__ = [
    "Canary",
    "DisableFeature",
    "FlagReader",
    "FlagSet",
    "Mitigation",
    "NoFlags",
    "ReviewThreshold",
    "Rollback",
    "UseBaseline",
    "parse_mitigations",
]


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=200)
    model: str = Field(min_length=1)
    who: str = Field(min_length=1)
    why: str = Field(min_length=1)
    when: datetime
    expires: datetime | None = None

    @field_validator("when", "expires")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError(f"expected a time with a time zone (e.g. ...Z); got {value.isoformat()}")
        return value

    def active(self, now: datetime) -> bool:
        """In force at ``now``: set at or before it and not yet expired."""
        return self.when <= now and (self.expires is None or now < self.expires)


class Rollback(_Base):
    """Serve model version ``version`` (one the loop knows) instead of the current model."""

    kind: Literal["rollback"] = "rollback"
    version: str = Field(min_length=1)


class DisableFeature(_Base):
    """Do not compute ``feature``: serve its fallback (an expensive or broken feature source)."""

    kind: Literal["disable_feature"] = "disable_feature"
    feature: str = Field(min_length=1)


class UseBaseline(_Base):
    """Serve the baseline model instead of the model."""

    kind: Literal["baseline"] = "baseline"


class ReviewThreshold(_Base):
    """Send to review what the model would let through, from ``threshold`` up, in ``cohort``.

    ``cohort`` is ``column=value`` (a cohort column, an entity or a feature of the
    decision); ``None`` applies everywhere.
    """

    kind: Literal["review_threshold"] = "review_threshold"
    threshold: float = Field(ge=0, le=1)
    cohort: str | None = None

    @field_validator("cohort")
    @classmethod
    def _cohort(cls, value: str | None) -> str | None:
        if value is not None and (value.count("=") != 1 or value.startswith("=")):
            raise ValueError(f"expected 'column=value' such as 'region=EU'; got {value!r}")
        return value

    def applies(self, row: Mapping[str, Any]) -> bool:
        """Whether a decision with these inputs and features is in the cohort."""
        if self.cohort is None:
            return True
        column, value = self.cohort.split("=", 1)
        found = row.get(column)
        if isinstance(found, bool):
            return str(found).lower() == value.lower()
        return found is not None and str(found) == value


class Canary(_Base):
    """Serve the challenger ``version`` to ``share`` of the decisions (0 keeps it in shadow)."""

    kind: Literal["canary"] = "canary"
    version: str = Field(min_length=1)
    share: float = Field(ge=0, lt=1)


Mitigation = Annotated[Rollback | DisableFeature | UseBaseline | ReviewThreshold | Canary,
                       Field(discriminator="kind")]
_MITIGATIONS: TypeAdapter[list[Mitigation]] = TypeAdapter(list[Mitigation])


def parse_mitigations(data: Any, *, source: str) -> list[Mitigation]:
    """Validate a list of mitigations (as JSON decodes them).

    Raises
    ------
    InputError
        Naming ``source``, each index and key at fault, and what was wrong.

    Examples
    --------
    >>> parse_mitigations([{"kind": "baseline", "id": "b", "model": "m", "who": "ana",
    ...                     "why": "drift", "when": "2026-03-01T00:00:00Z", "colour": 1}],
    ...                   source="flags.json")
    Traceback (most recent call last):
    ...
    loopwatch.errors.InputError: flags.json: [0].colour: unknown key
    """
    try:
        return _MITIGATIONS.validate_python(data)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]
                            if p not in {"rollback", "disable_feature", "baseline",
                                         "review_threshold", "canary"})
            what = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
            if error["type"] not in ("extra_forbidden", "missing"):
                what += f"; got {error.get('input')!r}"
            lines.append(f"{where.lstrip('.')}: {what}")
        raise InputError(f"{source}: " + "\n".join(lines)) from None


@dataclass(frozen=True)
class FlagSet:
    """The mitigations in force for one model at one moment (a snapshot; never changes).

    ``revision`` identifies the content (a hash), so two snapshots with the same
    revision hold the same mitigations.
    """

    model: str
    mitigations: tuple[Mitigation, ...] = ()
    revision: str = "empty"

    @classmethod
    def of(cls, model: str, mitigations: Iterable[Mitigation | Mapping[str, Any]], *,
           now: datetime | None = None, source: str = "flags") -> FlagSet:
        """The mitigations of ``model`` in force at ``now`` (default: the current time)."""
        moment = now or datetime.now(UTC)
        parsed = parse_mitigations([m if isinstance(m, Mapping) else m.model_dump()
                                    for m in mitigations], source=source)
        kept = tuple(sorted((m for m in parsed if m.model == model and m.active(moment)),
                            key=lambda m: (m.when, m.id)))
        if not kept:
            return cls(model)
        text = json.dumps([m.model_dump(mode="json") for m in kept], sort_keys=True)
        return cls(model, kept, hashlib.sha256(text.encode()).hexdigest()[:12])

    def _latest(self, kind: type[_Base]) -> Any:
        found = [m for m in self.mitigations if isinstance(m, kind)]
        return found[-1] if found else None

    @property
    def rollback(self) -> Rollback | None:
        """The latest rollback in force, if any."""
        found: Rollback | None = self._latest(Rollback)
        return found

    @property
    def baseline(self) -> UseBaseline | None:
        """The latest switch to the baseline model in force, if any."""
        found: UseBaseline | None = self._latest(UseBaseline)
        return found

    @property
    def canary(self) -> Canary | None:
        """The latest canary share in force, if any."""
        found: Canary | None = self._latest(Canary)
        return found

    def disabled(self, feature: str) -> DisableFeature | None:
        """The mitigation that disables ``feature``, if any."""
        for m in reversed(self.mitigations):
            if isinstance(m, DisableFeature) and m.feature == feature:
                return m
        return None

    @property
    def review_thresholds(self) -> tuple[ReviewThreshold, ...]:
        return tuple(m for m in self.mitigations if isinstance(m, ReviewThreshold))

    def __bool__(self) -> bool:
        return bool(self.mitigations)


class FlagReader(Protocol):
    """Where the loop reads its flags: ``current(model)`` must be fast (cached) and never raise
    for a store that is briefly unreachable (it returns the last good snapshot)."""

    def current(self, model: str) -> FlagSet:
        """The mitigations of ``model`` in force now."""
        ...


class NoFlags:
    """A :class:`FlagReader` with no mitigations ever (a loop without a control plane)."""

    def current(self, model: str) -> FlagSet:
        return FlagSet(model)

