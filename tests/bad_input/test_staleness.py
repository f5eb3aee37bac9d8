"""A dead pipeline is never healthy: no decision where one is expected pages, and a window
that cannot be checked is an error, never "healthy: nothing to report" with exit 0."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest

from loopwatch.core.findings import Severity
from loopwatch.core.spec import spec_from_mapping
from loopwatch.errors import InputError
from loopwatch.monitoring.job import run_checks
from loopwatch.storage.ingest import ingest_table
from loopwatch.storage.parquet_store import ParquetStore


@pytest.fixture
def filled(project: Any, churn: Any) -> Any:
    """The churn store: 40 days of decisions from 2026-03-01, outcomes a week after each."""
    spec = spec_from_mapping(churn.spec, base_dir=project.root)
    store = ParquetStore(project.store, spec=spec)
    rows = churn.decisions()
    ingest_table(store, "decisions", rows)
    ingest_table(store, "outcomes", churn.outcomes(rows))
    return project


def _run(project: Any, spec: Any, *when: int) -> Any:
    return run_checks(spec, as_of=datetime(*when, tzinfo=UTC), store=ParquetStore(project.store, spec=spec))


def _staleness(run: Any) -> list[Any]:
    return [f for f in run.findings if f.check == "staleness"]


def test_a_day_right_after_the_last_decision_is_not_stale(filled: Any, churn: Any) -> None:
    spec = spec_from_mapping(churn.spec, base_dir=filled.root)
    run = _run(filled, spec, 2026, 4, 10)
    assert _staleness(run) == []


def test_a_pipeline_that_stopped_pages_with_the_time_of_its_last_decision(filled: Any, churn: Any) -> None:
    spec = spec_from_mapping(churn.spec, base_dir=filled.root)
    run = _run(filled, spec, 2026, 4, 25, 13)
    [found] = _staleness(run)
    assert found.severity == Severity.PAGE
    assert run.exit_code == 1
    # the last decision: day 39 (2026-04-09), the 35th of the day, at 17:00
    assert found.evidence["last_decision"] == "2026-04-09T17:00:00+00:00"
    assert "no decision since 2026-04-09 17:00 UTC: 15 days before 2026-04-25" in found.message
    assert found.value == pytest.approx(15 * 24 + 7)  # hours from 04-09 17:00 to 04-25 00:00


def test_a_shorter_cadence_pages_sooner(filled: Any, churn: Any) -> None:
    spec = spec_from_mapping({**churn.spec, "inputs": {"cadence": "6h"}}, base_dir=filled.root)
    run = _run(filled, spec, 2026, 4, 10)
    [found] = _staleness(run)  # 7 hours since 17:00
    assert "every 6h (inputs.cadence)" in found.message
    # 35 decisions a day for the 30 days before: 7 silent hours have probability exp(-35/24 * 7)
    assert found.evidence["p_value"] == pytest.approx(math.exp(-35 / 24 * 7))


@pytest.mark.parametrize("as_of", [None, "2026-04-25", "2031-01-01"])
def test_check_without_as_of_or_with_a_future_one_pages_when_data_stopped(
        filled: Any, as_of: str | None) -> None:
    args = ["check", "--format", "json"] + (["--as-of", as_of] if as_of else [])
    result = filled.run(*args)
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    findings = json.loads(result.stdout)["findings"]
    stale = [f for f in findings if f["check"] == "staleness"]
    assert [f["severity"] for f in stale] == ["page"]
    table = filled.run(*args[:1], *args[3:])
    assert table.exit_code == 1
    assert "healthy" not in table.stdout
    assert "no decision since 2026-04-09 17:00 UTC" in " ".join(table.stdout.split())


@pytest.mark.parametrize("as_of", ["2026-03-05", "2026-03-15"])
def test_a_window_inside_the_reference_is_an_error_naming_both_windows(filled: Any, as_of: str) -> None:
    result = filled.run("check", "--as-of", as_of)
    text = result.stdout + result.stderr
    assert result.exit_code == 2, text
    assert "Traceback" not in text and "healthy" not in text
    assert "inside the reference window (2026-03-01 to 2026-03-15)" in " ".join(result.stderr.split())
    assert "nothing to check before 2026-03-16" in " ".join(result.stderr.split())


def test_run_checks_refuses_a_window_inside_the_reference(filled: Any, churn: Any) -> None:
    spec = spec_from_mapping(churn.spec, base_dir=filled.root)
    with pytest.raises(InputError, match="inside the reference window"):
        _run(filled, spec, 2026, 3, 10)
