"""The model registry in the control plane: versions registered, listed and moved between stages.

Every registration and stage change is an audit-log row (``model_registered``,
``stage_changed``) and a change event to the alert sinks (context, never a page:
PagerDuty gets a Change Event), both in the transaction of the change. The rules of
which move is allowed are :mod:`loopwatch.core.registry`'s; this module enforces the
two that span versions: one production version per model (promoting one archives
the other, in the same transaction) and one challenger (shadow or canary).
Writers of one model are serialized by a lock on its registry rows
(``SELECT ... FOR UPDATE`` on PostgreSQL; ``BEGIN IMMEDIATE`` on SQLite).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from loopwatch.core.registry import CHALLENGER_STAGES, ModelVersion, NewVersion, Stage, check_move
from loopwatch.core.sinks import Sink
from loopwatch.errors import InputError
from loopwatch.storage.control.outbox import enqueue_model_change
from loopwatch.storage.control.tables import audit_log, model_versions

__all__ = ["ModelRegistry", "new_version"]


def new_version(**fields: Any) -> NewVersion:
    """A :class:`NewVersion` from loose fields; a bad field is an :class:`InputError` naming it."""
    try:
        return NewVersion(**fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'version'}: "
                             f"{e['msg'].removeprefix('Value error, ')}" for e in exc.errors())
        raise InputError(f"model version is invalid: {problems}") from None


def _record(row: Any) -> ModelVersion:
    return ModelVersion(model=row["model"], version=row["version"], stage=row["stage"],
                        artifact=row["artifact"], owner=row["owner"], training_start=row["training_start"],
                        training_end=row["training_end"], data_fingerprint=row["data_fingerprint"],
                        features=tuple(row["features"] or ()), spec_version=row["spec_version"],
                        metrics=dict(row["metrics"] or {}), description=row["description"],
                        source=row["source"], registered_at=row["registered_at"],
                        registered_by=row["registered_by"], stage_changed_at=row["stage_changed_at"],
                        artifact_sha256=row["artifact_sha256"])


def _named(actor: str) -> str:
    if not actor.strip():
        raise InputError("who changes the registry must be named (--by); got an empty name")
    return actor


class ModelRegistry:
    """The versions of the models that share one control-plane database.

    Examples
    --------
    >>> from loopwatch.storage.control import ControlPlane
    >>> plane = ControlPlane(url="sqlite://")
    >>> registry = ModelRegistry(plane.engine)
    >>> v = registry.register(new_version(model="fraud", version="1", artifact="models/fraud-1.joblib"),
    ...                       actor="ana")
    >>> v.stage, registry.move("fraud", "1", "production", actor="ana", reason="first model").alias
    ('candidate', 'champion')
    >>> [e.action for e in plane.audit(model="fraud")]
    ['model_registered', 'stage_changed']
    >>> plane.close()
    """

    def __init__(self, engine: Engine, *, sinks: Sequence[Sink] = ()) -> None:
        self.engine = engine
        self.sinks = tuple(sinks)

    # -- writing -----------------------------------------------------------------------------

    def register(self, version: NewVersion, *, actor: str, reason: str = "") -> ModelVersion:
        """Add ``version`` as a ``candidate`` (audited as ``model_registered``)."""
        _named(actor)
        now = datetime.now(UTC)
        try:
            with self.engine.begin() as con:
                if self._row(con, version.model, version.version) is not None:
                    raise InputError(f"model {version.model} version {version.version} is registered "
                                     "already (a retrained model is a new version)")
                con.execute(insert(model_versions).values(
                    **version.row(), stage="candidate", registered_at=now, registered_by=actor,
                    stage_changed_at=now))
                self._audit(con, version.model, actor=actor, action="model_registered", from_stage=None,
                            to_stage="candidate", reason=reason or "registered",
                            detail={"version": version.version, "artifact": version.artifact,
                                    "data_fingerprint": version.data_fingerprint}, at=now)
                return _record(self._row(con, version.model, version.version))
        except IntegrityError:  # a concurrent registration of the same version won the race
            raise InputError(f"model {version.model} version {version.version} is registered already") \
                from None

    def move(self, model: str, version: str, to: Stage, *, actor: str, reason: str,
             detail: dict[str, Any] | None = None) -> ModelVersion:
        """Move a version to stage ``to`` in one transaction (audited, announced as a change)."""
        with self.engine.begin() as con:
            return self.move_within(con, model, version, to, actor=actor, reason=reason, detail=detail)

    def move_within(self, con: Connection, model: str, version: str, to: Stage, *, actor: str, reason: str,
                    detail: dict[str, Any] | None = None) -> ModelVersion:
        """:meth:`move` inside the caller's transaction (a rollout step changes flags in the same one)."""
        _named(actor)
        if not reason.strip():
            raise InputError("a stage change needs a reason (--reason)")
        rows = {r["version"]: dict(r) for r in con.execute(
            select(model_versions).where(model_versions.c.model == model).with_for_update()).mappings()}
        row = rows.get(version)
        if row is None:
            raise InputError(f"model {model} has no version {version} (see `loopwatch models list`)")
        check_move(row["stage"], to)
        now = datetime.now(UTC)
        if to in CHALLENGER_STAGES:
            other = next((r for v, r in rows.items()
                          if v != version and r["stage"] in CHALLENGER_STAGES), None)
            if other is not None:
                raise InputError(f"model {model} already has a challenger: version {other['version']} is in "
                                 f"{other['stage']} (archive or promote it first)")
        if to == "production":
            for v, r in rows.items():
                if v != version and r["stage"] == "production":
                    self._set(con, r, "archived", actor=actor, at=now,
                              reason=f"replaced in production by version {version}", detail=detail)
        self._set(con, row, to, actor=actor, at=now, reason=reason, detail=detail)
        return _record(self._row(con, model, version))

    def _set(self, con: Connection, row: dict[str, Any], to: Stage, *, actor: str, at: datetime, reason: str,
             detail: dict[str, Any] | None) -> None:
        con.execute(update(model_versions).where(model_versions.c.id == row["id"])
                    .values(stage=to, stage_changed_at=at))
        info = {"version": row["version"], **(detail or {})}
        self._audit(con, row["model"], actor=actor, action="stage_changed", from_stage=row["stage"],
                    to_stage=to, reason=reason, detail=info, at=at)
        change = {"kind": "stage", "summary": f"version {row['version']}: {row['stage']} → {to}",
                  "version": row["version"], "from": row["stage"], "to": to, "who": actor, "why": reason,
                  "owner": row["owner"], **({"detail": detail} if detail else {})}
        enqueue_model_change(con, row["model"], change, self.sinks, action="stage_changed", reason=reason,
                             now=at)

    def note(self, model: str, version: str, *, action: str, actor: str, reason: str,
             detail: dict[str, Any] | None = None) -> None:
        """Audit something done to a version that does not change it (``gate_passed``, ``gate_failed``)."""
        _named(actor)
        with self.engine.begin() as con:
            if self._row(con, model, version) is None:
                raise InputError(f"model {model} has no version {version} (see `loopwatch models list`)")
            self._audit(con, model, actor=actor, action=action, from_stage=None, to_stage=None, reason=reason,
                        detail={"version": version, **(detail or {})}, at=datetime.now(UTC))

    def step_within(self, con: Connection, model: str, version: str, *, action: str, actor: str, reason: str,
                    summary: str, detail: dict[str, Any]) -> None:
        """Audit a rollout step that keeps the version's stage (a new canary share) and announce it to
        the sinks as a change event, inside the caller's transaction."""
        at = datetime.now(UTC)
        row = self._row(con, model, version)
        if row is None:
            raise InputError(f"model {model} has no version {version} (see `loopwatch models list`)")
        self._audit(con, model, actor=actor, action=action, from_stage=row["stage"], to_stage=row["stage"],
                    reason=reason, detail={"version": version, **detail}, at=at)
        change = {"kind": "rollout", "summary": summary, "version": version, "who": actor, "why": reason,
                  "owner": row["owner"], "detail": detail}
        enqueue_model_change(con, model, change, self.sinks, action=action, reason=reason, now=at)

    @staticmethod
    def _audit(con: Connection, model: str, *, actor: str, action: str, from_stage: str | None,
               to_stage: str | None, reason: str, detail: dict[str, Any], at: datetime) -> None:
        con.execute(insert(audit_log).values(at=at, model=model, alert_id=None, actor=actor, action=action,
                                             from_state=from_stage, to_state=to_stage, reason=reason,
                                             run_time=None, detail=detail))

    @staticmethod
    def _row(con: Connection, model: str, version: str) -> Any:
        query = select(model_versions).where(model_versions.c.model == model,
                                             model_versions.c.version == version)
        return con.execute(query).mappings().first()

    # -- reading -----------------------------------------------------------------------------

    def get(self, model: str, version: str) -> ModelVersion:
        """One version; an :class:`InputError` naming it when it is not registered."""
        with self.engine.connect() as con:
            row = self._row(con, model, version)
        if row is None:
            raise InputError(f"model {model} has no version {version} (see `loopwatch models list`)")
        return _record(row)

    def versions(self, model: str | None = None, *, stages: Sequence[Stage] | None = None,
                 include_archived: bool = True) -> list[ModelVersion]:
        """Registered versions (of ``model``, in ``stages``), oldest registration first."""
        query = select(model_versions)
        if model is not None:
            query = query.where(model_versions.c.model == model)
        if stages:
            query = query.where(model_versions.c.stage.in_(list(stages)))
        if not include_archived:
            query = query.where(model_versions.c.stage != "archived")
        with self.engine.connect() as con:
            rows = con.execute(query.order_by(model_versions.c.model, model_versions.c.id)).mappings().all()
        return [_record(r) for r in rows]

    def in_stage(self, model: str, stage: Stage) -> ModelVersion | None:
        """The newest version of ``model`` in ``stage`` (production and the challenger stages hold one)."""
        found = self.versions(model, stages=[stage])
        return found[-1] if found else None
