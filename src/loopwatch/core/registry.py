"""Model versions and their stages: what a registry entry holds and which stage changes are allowed.

A version moves forward through ``candidate → shadow → canary → production`` (a
step may be skipped: a candidate can go straight to canary) and may be
``archived`` from any stage; ``archived`` is final (a retrained model is a new
version). A model has at most one version in ``production`` (promoting another one
archives it) and at most one *challenger*, the version in ``shadow`` or ``canary``
(the prediction loop serves one challenger).

MLflow's registry stages are deprecated in favour of aliases; :data:`MLFLOW_ALIASES`
maps our stages onto the aliases we read and write there
(``models:/fraud@champion`` is the production version).

Examples
--------
>>> check_move("candidate", "canary")
>>> check_move("production", "shadow")
Traceback (most recent call last):
...
loopwatch.errors.InputError: a version in production cannot move to shadow (allowed: archived)
>>> stage_of_alias("champion"), MLFLOW_ALIASES["canary"]
('production', 'canary')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from loopwatch.errors import InputError

__all__ = ["CHALLENGER_STAGES", "MLFLOW_ALIASES", "STAGES", "ModelVersion", "NewVersion", "Stage",
           "check_move", "stage_of_alias"]

Stage = Literal["candidate", "shadow", "canary", "production", "archived"]
STAGES: tuple[Stage, ...] = get_args(Stage)
#: The stages of the version the loop serves beside the model (one per model at a time).
CHALLENGER_STAGES: tuple[Stage, ...] = ("shadow", "canary")
_ORDER = {s: i for i, s in enumerate(STAGES)}

#: Our stage → the MLflow alias that names it (``models:/NAME@ALIAS``).
MLFLOW_ALIASES: dict[Stage, str] = {"candidate": "candidate", "shadow": "shadow", "canary": "canary",
                                    "production": "champion", "archived": "archived"}

_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")


def allowed_moves(stage: Stage) -> tuple[Stage, ...]:
    """The stages a version in ``stage`` may move to."""
    if stage == "archived":
        return ()
    return tuple(s for s in STAGES if _ORDER[s] > _ORDER[stage])


def check_move(current: Stage, target: Stage) -> None:
    """Raise :class:`InputError` unless a version may move from ``current`` to ``target``."""
    allowed = allowed_moves(current)
    if target not in allowed:
        listed = ", ".join(allowed) if allowed else "none: archived is final"
        raise InputError(f"a version in {current} cannot move to {target} (allowed: {listed})")


def stage_of_alias(alias: str) -> Stage | None:
    """Our stage for an MLflow alias (``None`` for an alias we do not map)."""
    for stage, name in MLFLOW_ALIASES.items():
        if name == alias:
            return stage
    return None


class NewVersion(BaseModel):
    """What registering a model version records (validated; errors name the field).

    ``metrics`` are the figures measured at registration, per cohort:
    ``{"all": {"auc": 0.91}, "region=eu": {"auc": 0.88}}``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1, max_length=200)
    version: str
    artifact: str = Field(min_length=1)
    #: ``sha256:`` and the hex digest of the artifact's bytes when registered (a local file)
    artifact_sha256: str | None = Field(default=None, pattern=r"^sha256:[0-9a-f]{64}$")
    owner: str | None = Field(default=None, max_length=200)
    training_start: datetime | None = None
    training_end: datetime | None = None
    data_fingerprint: str | None = Field(default=None, max_length=200)
    features: tuple[str, ...] = ()
    spec_version: str | None = Field(default=None, max_length=100)
    metrics: dict[str, dict[str, float]] = Field(default_factory=dict)
    description: str | None = None
    source: str | None = Field(default=None, max_length=400)

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _VERSION.match(value):
            raise ValueError("expected letters, digits and . _ + - (up to 200, starting with a letter "
                             f"or digit); got {value!r}")
        return value

    @field_validator("training_start", "training_end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError(f"a time must carry a time zone (UTC); got {value.isoformat()}")
        return value

    @model_validator(mode="after")
    def _window(self) -> NewVersion:
        if self.training_start and self.training_end and self.training_end <= self.training_start:
            raise ValueError(f"the training window ends ({self.training_end.isoformat()}) before it "
                             f"starts ({self.training_start.isoformat()})")
        if len(set(self.features)) != len(self.features):
            raise ValueError("features: a feature is listed twice")
        return self

    def row(self) -> dict[str, Any]:
        """The columns of its registry row (without stage and who/when)."""
        data = self.model_dump()
        data["features"] = list(self.features)
        return data


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model, as the registry holds it."""

    model: str
    version: str
    stage: Stage
    artifact: str
    owner: str | None
    training_start: datetime | None
    training_end: datetime | None
    data_fingerprint: str | None
    features: tuple[str, ...]
    spec_version: str | None
    metrics: dict[str, dict[str, float]]
    description: str | None
    source: str | None
    registered_at: datetime
    registered_by: str
    stage_changed_at: datetime
    artifact_sha256: str | None = None

    @property
    def alias(self) -> str:
        """The MLflow alias of its stage (``champion`` for production)."""
        return MLFLOW_ALIASES[self.stage]

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON keys; times in ISO 8601."""
        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {"model": self.model, "version": self.version, "stage": self.stage, "alias": self.alias,
                "artifact": self.artifact, "artifact_sha256": self.artifact_sha256, "owner": self.owner,
                "training_start": iso(self.training_start),
                "training_end": iso(self.training_end), "data_fingerprint": self.data_fingerprint,
                "features": list(self.features), "spec_version": self.spec_version, "metrics": self.metrics,
                "description": self.description, "source": self.source,
                "registered_at": iso(self.registered_at), "registered_by": self.registered_by,
                "stage_changed_at": iso(self.stage_changed_at)}
