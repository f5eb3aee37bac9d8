"""Importing a model version from an MLflow model registry (the optional ``mlflow`` extra).

``models:/NAME/3`` names a version, ``models:/NAME@champion`` the version an alias points
to (MLflow deprecated its stages for aliases). The version's source becomes the
artifact, its run's metrics the metrics at registration (cohort ``all``), and its tags
``owner``, ``features`` (comma-separated), ``data_fingerprint``, ``training_start``,
``training_end`` and ``spec_version`` the lineage when present. It is registered as a
``candidate``; with ``follow_alias`` it then moves to the stage its alias maps to
(:data:`~loopwatch.core.registry.MLFLOW_ALIASES`: ``champion`` → production), audited
like any stage change.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from loopwatch.core.registry import MLFLOW_ALIASES, ModelVersion, stage_of_alias
from loopwatch.errors import InputError
from loopwatch.learning.artifacts import file_sha256
from loopwatch.storage.control.registry import ModelRegistry, new_version

__all__ = ["import_version", "mlflow_client", "parse_model_uri"]

_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[A-Za-z0-9_-]+))$")


def parse_model_uri(uri: str) -> tuple[str, str | None, str | None]:
    """``(name, version, alias)`` of ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS``.

    Examples
    --------
    >>> parse_model_uri("models:/fraud@champion"), parse_model_uri("models:/fraud/3")
    (('fraud', None, 'champion'), ('fraud', '3', None))
    """
    found = _URI.match(uri)
    if found is None:
        raise InputError(f"expected models:/NAME/VERSION or models:/NAME@ALIAS; got {uri!r}")
    return found["name"], found["version"], found["alias"]


def mlflow_client(uri: str | None) -> Any:
    """An ``MlflowClient`` of the tracking and registry ``uri`` (default: MLflow's environment)."""
    try:
        from mlflow import MlflowClient
    except ImportError:
        raise InputError("importing from MLflow needs the mlflow extra: pip install 'loopwatch[mlflow]'") \
            from None
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _artifact(source: str) -> str:
    parsed = urlparse(source)
    return unquote(parsed.path) if parsed.scheme == "file" else source


def _time(tags: dict[str, str], key: str) -> datetime | None:
    text = tags.get(key)
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"MLflow tag {key}: expected an ISO 8601 time; got {text!r}") from None


def import_version(registry: ModelRegistry, uri: str, *, model: str, version: str | None = None,
                   tracking_uri: str | None = None, actor: str, follow_alias: bool = False,
                   default_features: tuple[str, ...] = ()) -> ModelVersion:
    """Register the MLflow model version ``uri`` as version ``version`` (default ``mlflow-N``) of
    ``model``."""
    name, number, alias = parse_model_uri(uri)
    client = mlflow_client(tracking_uri)
    try:
        found = (client.get_model_version(name, number) if number is not None
                 else client.get_model_version_by_alias(name, alias))
    except Exception as exc:  # MlflowException: no such model, version or alias
        raise InputError(f"MLflow {uri}: {exc}") from None
    tags: dict[str, str] = dict(found.tags or {})
    metrics: dict[str, float] = {}
    if found.run_id:
        metrics = {k: float(v) for k, v in client.get_run(found.run_id).data.metrics.items()}
    features = tuple(f.strip() for f in tags.get("features", "").split(",") if f.strip()) or default_features
    artifact = _artifact(found.source)
    local = "://" not in artifact and Path(artifact).is_file()
    ours = registry.register(new_version(
        model=model, version=version or f"mlflow-{found.version}", artifact=artifact,
        artifact_sha256=file_sha256(artifact) if local else None,
        owner=tags.get("owner"), training_start=_time(tags, "training_start"),
        training_end=_time(tags, "training_end"), data_fingerprint=tags.get("data_fingerprint"),
        features=features, spec_version=tags.get("spec_version"),
        metrics={"all": metrics} if metrics else {},
        description=found.description or None, source=f"mlflow:models:/{name}/{found.version}"),
        actor=actor, reason=f"imported from MLflow {uri}")
    if follow_alias:
        stages = [s for s in (stage_of_alias(a) for a in (found.aliases or ()))
                  if s in ("shadow", "canary", "production")]
        if stages:
            order = list(MLFLOW_ALIASES)
            target = max(stages, key=order.index)
            return registry.move(model, ours.version, target, actor=actor,
                                 reason=f"MLflow alias @{MLFLOW_ALIASES[target]} of {name} "
                                        f"version {found.version}")
    return ours
