"""Writing a version's stage back to the MLflow registry it came from, as an alias.

MLflow deprecated its registry stages for aliases; :data:`~loopwatch.core.registry.MLFLOW_ALIASES`
maps ours onto them (production → ``champion``, so ``models:/fraud@champion`` loads the version
in production). After a stage change of a version imported from MLflow (its source
``mlflow:models:/NAME/N``), :func:`write_alias` points the alias of its new stage at version
``N`` of ``NAME`` (an MLflow alias names one version, so it leaves the version that held it)
and removes the aliases of our other stages that still point at it: a version promoted from
canary to production is ``@champion`` and no longer ``@canary``.

Our registry is the record: the stage change is committed and audited before the alias is
written, and a failed write is reported, not rolled back.
"""

from __future__ import annotations

import os
import re

from loopwatch.core.registry import MLFLOW_ALIASES, ModelVersion
from loopwatch.errors import InputError
from loopwatch.learning.mlflow_import import mlflow_client

__all__ = ["mlflow_origin", "write_alias"]

_SOURCE = re.compile(r"^mlflow:models:/(?P<name>[^/@]+)/(?P<number>\d+)$")


def mlflow_origin(source: str | None) -> tuple[str, str] | None:
    """``(name, number)`` of the MLflow version a registered version's ``source`` names, or None.

    Examples
    --------
    >>> mlflow_origin("mlflow:models:/fraud/7"), mlflow_origin("cli")
    (('fraud', '7'), None)
    """
    found = _SOURCE.match(source or "")
    return None if found is None else (found["name"], found["number"])


def write_alias(version: ModelVersion, *, tracking_uri: str | None = None) -> str | None:
    """Point the MLflow alias of ``version``'s stage at the MLflow version it came from (module docstring).

    ``tracking_uri`` defaults to ``MLFLOW_TRACKING_URI``. Returns what was done, in one line, or
    None when the version did not come from MLflow.

    Raises
    ------
    InputError
        The version came from MLflow but no URI is configured, the mlflow extra is not
        installed, or the registry refused the change (the stage change stands).
    """
    origin = mlflow_origin(version.source)
    if origin is None:
        return None
    name, number = origin
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise InputError(f"version {version.version} came from MLflow models:/{name}/{number}, but no MLflow "
                         "URI is configured (--mlflow-uri or MLFLOW_TRACKING_URI): its alias was not "
                         "written; "
                         "the stage change stands")
    client = mlflow_client(uri)
    alias = MLFLOW_ALIASES[version.stage]
    try:
        held = dict(client.get_registered_model(name).aliases or {})
        for stale in sorted(set(MLFLOW_ALIASES.values()) - {alias}):
            if str(held.get(stale)) == number:
                client.delete_registered_model_alias(name, stale)
        client.set_registered_model_alias(name, alias, number)
    except Exception as exc:  # MlflowException, or the tracking server unreachable
        raise InputError(f"MLflow {uri}: alias @{alias} of {name} version {number} not written ({exc}); "
                         f"the stage change of version {version.version} stands") from None
    return f"MLflow: models:/{name}@{alias} is version {number}"
