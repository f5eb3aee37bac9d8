"""Loading a registered model version's artifact, and writing one.

An artifact is a file made by :func:`save_model` (or ``joblib.dump``/``pickle.dump``)
of a :class:`~loopwatch.prediction.models.Model` (predictor, version, features,
categories), or of a bare predictor (``predict_proba`` or a callable), which then
takes the features registered with the version and, for categorical features, the
categories given here.

**Trust.** Unpickling runs code chosen by whoever wrote the file: loading an
artifact is executing it, with the rights of the process that loads it. Only
register artifacts from a place only the model's owners can write to (the
training job's output bucket, not a shared upload directory); the registry
records the path, not the bytes, so the file must not change after registration
(``loopwatch models register`` records its SHA-256, and a file that no longer matches is
refused before it is unpickled). This is the same trust as
``joblib.load`` and MLflow's pickle flavours ask for.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import joblib

from loopwatch.core.registry import ModelVersion
from loopwatch.errors import InputError
from loopwatch.prediction.models import Model

__all__ = ["file_sha256", "load_model", "save_model"]


def file_sha256(path: str | Path) -> str:
    """``sha256:`` and the hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def save_model(model: Model, path: str | Path) -> str:
    """Write ``model`` to ``path`` with joblib (atomically: a reader never sees half a file);
    returns the file's SHA-256."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    joblib.dump(model, partial)
    partial.replace(target)
    return file_sha256(target)


def load_model(version: ModelVersion, *, categories: Mapping[str, Sequence[str]] | None = None,
               sha256: str | None = None) -> Model:
    """The :class:`Model` of a registered version, unpickled from its artifact (see the module's note
    on trust), after checking its SHA-256 against ``sha256`` (default: the one recorded at
    registration). Raises :class:`InputError` naming the version and file when it cannot be loaded."""
    where = f"model {version.model} version {version.version}: artifact {version.artifact}"
    if "://" in version.artifact:
        raise InputError(f"{where}: only a local file can be loaded (download it first)")
    path = Path(version.artifact)
    if not path.is_file():
        raise InputError(f"{where}: no such file")
    sha256 = sha256 or version.artifact_sha256
    if sha256 is not None and file_sha256(path) != sha256:
        raise InputError(f"{where}: the file changed since it was registered (SHA-256 differs)")
    try:
        loaded: Any = joblib.load(path)
    except (pickle.UnpicklingError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise InputError(f"{where}: not a joblib or pickle file ({type(exc).__name__}: {exc})") from None
    except (ModuleNotFoundError, AttributeError) as exc:  # pickled against code this process lacks
        raise InputError(f"{where}: it needs code this installation lacks ({exc})") from None
    if isinstance(loaded, Model):
        return loaded
    if not (callable(getattr(loaded, "predict_proba", None)) or callable(loaded)):
        raise InputError(f"{where}: holds a {type(loaded).__name__}, not a model (a loopwatch Model, "
                         "an object with predict_proba, or a callable)")
    if not version.features:
        raise InputError(f"{where}: a bare predictor needs the version's features (register them)")
    try:
        return Model(predictor=loaded, version=version.version, features=version.features,
                     categories=categories)
    except ValueError as exc:
        raise InputError(f"{where}: {exc}") from None
