"""Feature ablation on the simulator: an expensive feature built to be redundant is found removable."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from loopwatch.cli.main import app
from loopwatch.core.spec import Spec
from loopwatch.core.window import Window
from loopwatch.errors import InputError, SpecError
from loopwatch.learning.ablation import ablate
from loopwatch.simulate.redundant import REDUNDANT_FEATURE

TRAIN = Window.of("2026-01-01", "2026-01-15")
HELD_OUT = Window.of("2026-01-15", "2026-02-05")


@pytest.mark.slow
def test_the_redundant_expensive_feature_is_removable_and_its_original_with_it_is_not(
        simulated: Spec) -> None:
    spec_path = str(simulated.base_dir / "loopwatch.yaml")
    result = CliRunner().invoke(app, ["ablate", "--spec", spec_path, "--feature", REDUNDANT_FEATURE,
                                      "--train-from", "2026-01-01", "--train-to", "2026-01-15",
                                      "--from", "2026-01-15", "--to", "2026-02-05", "--format", "json"])
    assert result.exit_code == 0, result.output
    redundant = json.loads(result.stdout)
    print(redundant)
    assert redundant["recommendation"] == "remove" and redundant["removed"] == [REDUNDANT_FEATURE]
    auc = redundant["roc_auc"]
    assert auc["low"] < 0 < auc["high"]  # no significant loss
    assert redundant["saved"]["latency_ms"] == 45.0 and redundant["saved"]["price_per_decision"] == 0.004
    assert "saves 45 ms and 0.004 USD per decision" in redundant["reason"]
    # without both vendors' scores the model loses the signal: the same test must not say remove
    both = ablate(simulated, features=[REDUNDANT_FEATURE, "ip_risk_score"], train=TRAIN, held_out=HELD_OUT)
    print(both.report())
    assert both.recommendation != "remove"
    assert both.auc is not None and both.auc.difference < auc["difference"]


def test_unknown_features_groups_and_a_missing_hook_are_named(simulated: Spec) -> None:
    with pytest.raises(InputError, match="no stored feature 'ip_risk'"):
        ablate(simulated, features=["ip_risk"], train=TRAIN, held_out=HELD_OUT)
    with pytest.raises(InputError, match="no feature group 'vendors'"):
        ablate(simulated, group="vendors", train=TRAIN, held_out=HELD_OUT)
    with pytest.raises(InputError, match="must start after the training window"):
        ablate(simulated, features=["amount"], train=TRAIN,
               held_out=Window.of("2026-01-10", "2026-01-20"))
    learning = simulated.learning.model_copy(update={"train": None})
    unhooked = simulated.model_copy(update={"learning": learning})
    with pytest.raises(SpecError, match=r"learning\.train: not set"):
        ablate(unhooked, features=["amount"], train=TRAIN, held_out=HELD_OUT)


def test_a_group_from_the_spec_is_removed_together(simulated: Spec) -> None:
    grouped = simulated.model_copy(update={"learning": simulated.learning.model_copy(
        update={"feature_groups": {"vendors": ("ip_risk_score", REDUNDANT_FEATURE)}})})
    seen: list[tuple[str, ...]] = []

    def hook(rows: pa.Table, features: list[str], label: str):  # type: ignore[no-untyped-def]
        seen.append(tuple(features))
        return lambda table: [0.5] * table.num_rows

    result = ablate(grouped, group="vendors", train=TRAIN, held_out=HELD_OUT, hook=hook)
    assert result.removed == ("ip_risk_score", REDUNDANT_FEATURE)
    assert REDUNDANT_FEATURE in seen[0] and not {"ip_risk_score", REDUNDANT_FEATURE} & set(seen[1])


def test_the_command_needs_something_to_remove(simulated: Spec) -> None:
    bad = CliRunner().invoke(app, ["ablate", "--spec", str(simulated.base_dir / "loopwatch.yaml")])
    assert bad.exit_code == 2 and "--feature or --group" in bad.stderr
