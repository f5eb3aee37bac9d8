"""Rollout steps that move a stage write it to the MLflow registry the version came from, as
``models promote`` does; on a real MLflow registry (SQLite backend, no server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from loopwatch.core.spec import spec_from_mapping
from loopwatch.learning.rollout import RolloutPlan, apply
from loopwatch.storage.control import ControlPlane
from loopwatch.storage.control.registry import ModelRegistry, new_version

# MLflow's own SQL store uses SQLAlchemy features 2.1 deprecates: its warnings, not ours
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_rollout_steps_move_the_mlflow_alias_and_a_failed_write_leaves_the_step(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow: Any) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("fraud")
    artifact = tmp_path / "fraud.joblib"
    artifact.write_bytes(b"x")
    number = str(client.create_model_version("fraud", source=artifact.as_uri()).version)
    spec = spec_from_mapping({"model": "fraud", "store": str(tmp_path / "store"),
                              "features": [{"name": "amount", "dtype": "numeric"}],
                              "serving": {"salt": "t"}, "rollout": {"shares": [0.2]}})

    def aliases() -> dict[str, str]:
        return {k: str(v) for k, v in client.get_registered_model("fraud").aliases.items()}

    def step(stage: str, verdict: str = "advance", next_share: float | None = 0.2,
             version: str = "v3") -> RolloutPlan:
        return RolloutPlan("fraud", verdict, ("test",), challenger=version,  # type: ignore[arg-type]
                           stage=stage, share=0.0 if stage == "shadow" else 0.2, next_share=next_share)

    with ControlPlane.for_spec(spec) as plane:
        registry = ModelRegistry(plane.engine)
        registry.register(new_version(model="fraud", version="v3", artifact=str(artifact),
                                      source=f"mlflow:models:/fraud/{number}"), actor="ana")
        registry.move("fraud", "v3", "shadow", actor="ana", reason="gate passed")
        done = apply(spec, plane, step("shadow"), actor="watch", mlflow_uri=uri)
        assert registry.get("fraud", "v3").stage == "canary"
        assert done.alias == f"MLflow: models:/fraud@canary is version {number}"
        assert aliases() == {"canary": number}
        # the last share: production, which MLflow calls champion; the canary alias leaves it
        done = apply(spec, plane, step("canary", next_share=None), actor="watch", mlflow_uri=uri)
        assert registry.get("fraud", "v3").stage == "production" and aliases() == {"champion": number}
        # a rolled-back challenger is archived; without a URI the step still stands and says why
        # MLflow was not told
        second = str(client.create_model_version("fraud", source=artifact.as_uri()).version)
        registry.register(new_version(model="fraud", version="v4", artifact=str(artifact),
                                      source=f"mlflow:models:/fraud/{second}"), actor="ana")
        registry.move("fraud", "v4", "shadow", actor="ana", reason="gate passed")
        done = apply(spec, plane, step("shadow", verdict="rollback", version="v4"), actor="watch")
        assert registry.get("fraud", "v4").stage == "archived"
        assert "no MLflow URI is configured" in done.alias and aliases() == {"champion": number}
        done = apply(spec, plane, step("canary", verdict="rollback", next_share=None), actor="watch",
                     mlflow_uri=uri)
        assert registry.get("fraud", "v3").stage == "archived" and aliases() == {"archived": number}
