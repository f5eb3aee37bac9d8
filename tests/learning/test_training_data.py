"""Training rows from the logs: point-in-time correct, so no outcome observed after the cut-off leaks in."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from loopwatch.cli.main import app
from loopwatch.core.spec import Spec, spec_from_mapping
from loopwatch.core.window import Window
from loopwatch.errors import InputError
from loopwatch.learning.training_data import export_training, rows_as_of
from loopwatch.storage.parquet_store import ParquetStore

START = datetime(2026, 3, 1, tzinfo=UTC)


def _spec(tmp_path: Path) -> Spec:
    return spec_from_mapping({"model": "m", "features": [{"name": "x", "dtype": "numeric"}],
                              "store": str(tmp_path / "store")})


def _late_outcomes(spec: Spec, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """300 decisions over 10 days; each gets 0-3 outcomes observed 0-40 days later, later ones
    correcting earlier ones (the label flips), so the label depends on when one looks."""
    rng = np.random.default_rng(seed)
    decisions, outcomes = [], []
    for i in range(300):
        at = START + timedelta(hours=float(rng.uniform(0, 240)))
        decisions.append({"decision_id": f"d{i}", "timestamp": at, "score": float(rng.random()),
                          "x": float(i)})
        label = bool(rng.random() < 0.3)
        for _ in range(int(rng.integers(0, 4))):
            observed = at + timedelta(hours=float(rng.uniform(0, 960)))
            outcomes.append({"decision_id": f"d{i}", "observed_at": observed, "label": label,
                             "value": float(rng.integers(1, 500))})
            label = not label
    store = ParquetStore.for_spec(spec)
    store.ingest("decisions", pa.Table.from_pylist(decisions), source="test")
    store.ingest("outcomes", pa.Table.from_pylist(outcomes), source="test")
    return decisions, outcomes


def _expected(decisions: list[dict], outcomes: list[dict], window: Window,
              as_of: datetime) -> dict[str, bool]:
    """By hand: the label of each decision of the window as it stood at the cut-off."""
    out: dict[str, bool] = {}
    for d in decisions:
        if not window.start <= d["timestamp"] < window.end:
            continue
        known = [o for o in outcomes if o["decision_id"] == d["decision_id"] and o["observed_at"] < as_of]
        if known:
            out[d["decision_id"]] = max(known, key=lambda o: o["observed_at"])["label"]
    return out


@pytest.mark.parametrize("days", [3, 11, 20, 60])
def test_labels_are_those_known_at_the_cut_off_never_a_later_one(tmp_path: Path, days: int) -> None:
    spec = _spec(tmp_path)
    decisions, outcomes = _late_outcomes(spec)
    window = Window.of("2026-03-01", "2026-03-04")
    as_of = START + timedelta(days=days)
    rows = rows_as_of(ParquetStore.for_spec(spec), window, as_of=as_of, labelled_only=True)
    got = dict(zip(rows.column("decision_id").to_pylist(), rows.column("label").to_pylist(), strict=True))
    assert got == _expected(decisions, outcomes, window, as_of)
    assert all(t < as_of for t in rows.column("observed_at").to_pylist())


def test_an_outcome_observed_at_the_cut_off_and_a_later_correction_are_left_out(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    store = ParquetStore.for_spec(spec)
    store.ingest("decisions", pa.Table.from_pylist([
        {"decision_id": "a", "timestamp": "2026-03-01T10:00:00Z", "score": 0.2, "x": 1.0},
        {"decision_id": "b", "timestamp": "2026-03-01T11:00:00Z", "score": 0.9, "x": 2.0},
        {"decision_id": "c", "timestamp": "2026-03-02T09:00:00Z", "score": 0.9, "x": 3.0}]), source="t")
    store.ingest("outcomes", pa.Table.from_pylist([
        {"decision_id": "a", "observed_at": "2026-03-03T00:00:00Z", "label": False},
        {"decision_id": "a", "observed_at": "2026-03-20T00:00:00Z", "label": True},  # chargeback, later
        {"decision_id": "b", "observed_at": "2026-03-10T00:00:00Z", "label": True}]), source="t")
    cut = datetime(2026, 3, 10, tzinfo=UTC)
    rows = rows_as_of(store, Window.of("2026-03-01", "2026-03-03"), as_of=cut)
    assert rows.column("decision_id").to_pylist() == ["a", "b", "c"]
    assert rows.column("label").to_pylist() == [False, None, None]
    young = rows_as_of(store, Window.of("2026-03-01", "2026-03-03"), as_of=cut, min_age=timedelta(days=8))
    assert young.column("decision_id").to_pylist() == ["a", "b"]  # c is 7 days 15 hours old at the cut
    with pytest.raises(InputError, match="after the cut-off"):
        rows_as_of(store, Window.of("2026-03-01", "2026-03-12"), as_of=cut)


def test_export_writes_labelled_rows_atomically_and_refuses_to_overwrite(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    decisions, outcomes = _late_outcomes(spec, seed=3)
    window, as_of = Window.of("2026-03-01", "2026-03-11"), START + timedelta(days=15)
    out = tmp_path / "train.parquet"
    written = export_training(ParquetStore.for_spec(spec), window, as_of=as_of, out=out)
    table = pq.read_table(out)
    expected = _expected(decisions, outcomes, window, as_of)
    assert written.rows == table.num_rows == len(expected) == written.labelled
    assert written.positives == sum(expected.values())
    assert {"x", "score", "label", "value", "observed_at"} <= set(table.column_names)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(InputError, match="exists"):
        export_training(ParquetStore.for_spec(spec), window, as_of=as_of, out=out)


def test_the_command_exports_and_rejects_a_window_past_the_cut_off(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    _late_outcomes(spec, seed=4)
    path = tmp_path / "loopwatch.yaml"
    path.write_text(spec.to_yaml())
    out = tmp_path / "rows.parquet"
    common = ["export-training", "--spec", str(path), "--from", "2026-03-01", "--out", str(out)]
    result = CliRunner().invoke(app, [*common, "--to", "2026-03-05", "--as-of", "2026-03-20",
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["rows"] == pq.read_table(out).num_rows > 0
    late = CliRunner().invoke(app, [*common, "--to", "2026-03-25", "--as-of", "2026-03-20", "--overwrite"])
    assert late.exit_code == 2
    assert "--to" in late.stderr and "after the cut-off" in late.stderr and "Traceback" not in late.output


@pytest.mark.slow
def test_on_the_simulator_late_chargebacks_after_the_cut_off_stay_out(simulated: Spec) -> None:
    store = ParquetStore.for_spec(simulated)
    window = Window.of("2026-01-15", "2026-01-22")
    early = rows_as_of(store, window, as_of=datetime(2026, 1, 29, tzinfo=UTC), labelled_only=True,
                       columns=["score"])
    late = rows_as_of(store, window, as_of=datetime(2026, 2, 26, tzinfo=UTC), labelled_only=True,
                      columns=["score"])
    cut = datetime(2026, 1, 29, tzinfo=UTC)
    assert max(early.column("observed_at").to_pylist()) < cut
    # chargebacks take weeks: four weeks later more frauds of the same decisions are known
    assert sum(early.column("label").to_pylist()) < sum(late.column("label").to_pylist())
