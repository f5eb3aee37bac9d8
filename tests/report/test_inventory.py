"""``loopwatch inventory``: every section, with numbers that match the decision log itself, and every
unknown marked as a gap."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from statistics import median

import numpy as np
import pytest
from typer.testing import CliRunner

from loopwatch.cli.main import app
from loopwatch.core.profile import latency_edges
from loopwatch.core.spec import Spec
from loopwatch.core.window import Window
from loopwatch.report.inventory import SECTIONS
from loopwatch.storage.parquet_store import ParquetStore

runner = CliRunner()
DAYS = 3


@pytest.fixture(scope="module")
def found(fraud_store: tuple[Spec, datetime]) -> dict[str, dict[str, object]]:
    spec, _ = fraud_store
    result = runner.invoke(app, ["inventory", "--spec", str(spec.base_dir / "loopwatch.yaml"), "--days",
                                 str(DAYS), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    return {key: {i["label"]: i for i in section["items"]} for key, section in data["sections"].items()} | {
        "_": data}


def test_every_section_is_there_in_order(found: dict[str, dict[str, object]]) -> None:
    data = found["_"]
    assert data["order"] == [key for key, _ in SECTIONS] and set(data["sections"]) == set(data["order"])
    for key, _ in SECTIONS:
        assert found[key], f"section {key} is empty"


def test_the_figures_are_those_of_the_log(fraud_store: tuple[Spec, datetime],
                                          found: dict[str, dict[str, object]]) -> None:
    spec, end = fraud_store
    window = Window(end - timedelta(days=DAYS), end)
    rows = (ParquetStore.for_spec(spec).table("decisions", between=window)
            .select("timestamp", "latency_ms", "error", "model_version", "cost").to_pyarrow().to_pylist())
    assert rows
    per_day: dict[object, int] = {}
    for r in rows:
        per_day[r["timestamp"].date()] = per_day.get(r["timestamp"].date(), 0) + 1
    rate = found["where_it_runs"]["typical rate"]["data"]
    assert rate["median_day"] == median(per_day.values())
    assert rate["qps"] == pytest.approx(median(per_day.values()) / 86400)
    hours: dict[tuple[object, int], int] = {}
    for r in rows:
        key = (r["timestamp"].date(), r["timestamp"].hour)
        hours[key] = hours.get(key, 0) + 1
    assert rate["peak_hour_qps"] == pytest.approx(max(hours.values()) / 3600)

    latency = np.array([r["latency_ms"] for r in rows if r["latency_ms"] is not None])
    edges = latency_edges()
    tail = found["where_it_runs"]["tail latency"]["data"]
    true_p99 = float(np.quantile(latency, 0.99, method="inverted_cdf"))
    upper = tail["p99"]
    below = max((e for e in edges if e < upper), default=-math.inf)
    assert below < true_p99 <= upper, "p99 is the upper edge of the latency bin holding the true p99"

    errors = found["system"]["errors"]["data"]
    assert errors["n"] == len(rows)
    assert errors["errors"] == sum(1 for r in rows if r["error"])
    versions = found["flow"]["model"]["data"]["versions"]
    assert sum(versions.values()) == len(rows)
    cost = found["business"]["cost per decision"]["data"]
    costs = [r["cost"] for r in rows if r["cost"] is not None]
    assert cost["n"] == len(costs) and cost["cost_per_decision"] == pytest.approx(sum(costs) / len(costs))


def test_what_nobody_recorded_is_a_gap_and_the_three_questions_are_answered(
        found: dict[str, dict[str, object]]) -> None:
    assert found["where_it_runs"]["serving"]["gap"], "the simulator's spec has no serving block"
    assert found["business"]["value per decision"]["gap"], "the simulator's spec has no value model"
    assert found["roll_back"]["previous version"]["gap"], "no version is registered in the fixture"
    assert not found["roll_back"]["flags in force"]["gap"]
    assert "review_threshold" in found["roll_back"]["flags in force"]["text"]
    live = found["misbehaving_now"]["open alerts"]["data"]
    assert live and all(a["headline"] for a in live)
    assert not found["misbehaving_now"]["monitoring runs"]["gap"], "the fixture ran the daily job"
    checks = found["misbehaving_now"]["checks"]["data"]
    assert {"drift", "coverage", "volume", "performance"} <= set(checks)
    harmed = found["who_is_harmed"]
    for column in ("region", "device", "customer_type"):
        shares = [d["share"] for d in harmed[f"by {column}"]["data"]]
        assert sum(shares) == pytest.approx(1.0)
    quality = found["quality"]
    if quality["label maturity"]["gap"]:  # an early reading is not passed off as the model's quality
        assert all(quality[m]["gap"] for m in ("roc_auc", "precision", "recall"))
    gaps = found["_"]["gaps"]
    assert len(gaps) == sum(1 for key, _ in SECTIONS for item in found[key].values() if item["gap"])


def test_the_table_marks_gaps(fraud_store: tuple[Spec, datetime]) -> None:
    spec, _ = fraud_store
    result = runner.invoke(app, ["inventory", "--spec", str(spec.base_dir / "loopwatch.yaml"), "--days", "2"],
                           env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    for _, title in SECTIONS:
        assert title in result.output
    assert "GAP: the spec has no serving block" in result.output


def test_an_earlier_registered_version_answers_how_to_roll_back(fraud_store: tuple[Spec, datetime]) -> None:
    from loopwatch.core.registry import ModelVersion, Stage
    from loopwatch.report import gather
    from loopwatch.report.inventory import build_inventory

    spec, end = fraud_store

    def version(name: str, stage: Stage, owner: str | None) -> ModelVersion:
        return ModelVersion(model=spec.model, version=name, stage=stage, artifact=f"models/{name}.joblib",
                            owner=owner, training_start=None, training_end=None, data_fingerprint=None,
                            features=(), spec_version=None, metrics={}, description=None, source=None,
                            registered_at=end, registered_by="ana", stage_changed_at=end)

    inputs = gather(spec, days=DAYS, update=False)
    found = build_inventory(inputs, [version("v1", "archived", None), version("v2", "production", "ml-team")])
    items = {i.label: i for s in found.sections for i in s.items if s.key == "roll_back"}
    back = items["previous version"]
    assert not back.gap and back.source == "registry"
    assert "from v2 to v1" in back.text and "--kind rollback --version v1" in back.text
    flow = {i.label: i for s in found.sections for i in s.items if s.key == "flow"}
    assert flow["model"].data["production"] == "v2"
