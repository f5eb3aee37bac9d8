"""The monitoring job on a simulated production system: incidents page, naming what broke;
healthy days stay quiet; the CLI speaks JSON and exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from loopwatch.cli.main import app
from loopwatch.core.findings import Severity
from loopwatch.core.spec import Spec, load_spec
from loopwatch.monitoring.checks import CHECKS
from loopwatch.monitoring.job import run_checks
from loopwatch.simulate.fraud import SimulationConfig, simulate, write_simulation
from loopwatch.simulate.scoring import matches

pytestmark = pytest.mark.slow

LABEL_FREE = ("unit_change", "flaky_source", "dropped_category", "stale_feature", "volume_drop",
              "gradual_drift")


@pytest.fixture(scope="module")
def incidents(tmp_path_factory: pytest.TempPathFactory) -> tuple[Spec, dict[str, Any]]:
    out = tmp_path_factory.mktemp("incidents")
    result = simulate(SimulationConfig(days=60, decisions_per_day=4000, incidents=("all",), seed=5))
    write_simulation(result, out)
    return load_spec(out / "loopwatch.yaml"), result.ground_truth


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Spec, dict[str, Any]]:
    out = tmp_path_factory.mktemp("healthy")
    result = simulate(SimulationConfig(days=60, decisions_per_day=4000, incidents=(), seed=6))
    write_simulation(result, out)
    return load_spec(out / "loopwatch.yaml"), result.ground_truth


def _midnight(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(hour=0, minute=0)


@pytest.mark.parametrize("kind", LABEL_FREE)
def test_each_incident_pages_naming_what_it_touched(incidents: tuple[Spec, dict[str, Any]],
                                                    kind: str) -> None:
    spec, truth = incidents
    incident = next(i for i in truth["incidents"] if i["kind"] == kind)
    onset = _midnight(incident["onset"])
    # the first whole day affected is the onset's (or the next, for an onset at noon);
    # a gradual drift is allowed three days
    days = 4 if kind == "gradual_drift" else 2
    found = []
    for k in range(1, days + 1):
        run = run_checks(spec, as_of=onset + timedelta(days=k))
        found = [f for f in run.pages if matches(f, incident)]
        if found:
            break
    assert found, f"{kind} was not paged within {days} days of its onset"


def test_the_dropped_category_is_named(incidents: tuple[Spec, dict[str, Any]]) -> None:
    spec, truth = incidents
    incident = next(i for i in truth["incidents"] if i["kind"] == "dropped_category")
    run = run_checks(spec, as_of=_midnight(incident["onset"]) + timedelta(days=1))
    assert "merchant_category=crypto_exchange" in {f.entity for f in run.pages}


def test_healthy_days_page_nothing(healthy: tuple[Spec, dict[str, Any]]) -> None:
    spec, truth = healthy
    start = datetime.fromisoformat(truth["reference"]["end"]) + timedelta(days=1)
    pages = []
    for k in range(0, 28, 4):
        pages += run_checks(spec, as_of=start + timedelta(days=k)).pages
    assert not pages, [f.message for f in pages]


def test_every_finding_carries_the_keys_scripts_rely_on(incidents: tuple[Spec, dict[str, Any]]
                                                        ) -> None:
    spec, truth = incidents
    run = run_checks(spec, as_of=_midnight(truth["incidents"][1]["onset"]) + timedelta(days=1),
                     update=False)
    assert run.findings
    for finding in run.to_dict()["findings"]:
        assert {"kind", "feature", "cohort", "window", "statistic", "value", "interval",
                "threshold", "severity", "impact", "message"} <= set(finding)
        assert finding["severity"] in ("info", "warning", "page")


def test_cli_check_prints_json_and_exits_1_on_a_page(incidents: tuple[Spec, dict[str, Any]]) -> None:
    spec, truth = incidents
    onset = next(i for i in truth["incidents"] if i["kind"] == "volume_drop")["onset"]
    as_of = (_midnight(onset) + timedelta(days=2)).date().isoformat()
    result = CliRunner().invoke(app, ["check", "--spec", str(spec.base_dir / "loopwatch.yaml"),
                                      "--as-of", as_of, "--format", "json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert any(f["severity"] == "page" and f["cohort"] == "source=pos" for f in data["findings"])


def test_cli_check_exits_0_when_healthy_and_2_on_an_unknown_check(
        healthy: tuple[Spec, dict[str, Any]]) -> None:
    spec, truth = healthy
    path = str(spec.base_dir / "loopwatch.yaml")
    as_of = (datetime.fromisoformat(truth["reference"]["end"]) + timedelta(days=3)).date().isoformat()
    ok = CliRunner().invoke(app, ["check", "--spec", path, "--as-of", as_of])
    assert ok.exit_code == 0, ok.output
    typo = CliRunner().invoke(app, ["check", "--spec", path, "--as-of", as_of, "--checks", "drfit"])
    assert typo.exit_code == 2
    assert "did you mean 'drift'" in typo.stderr


def test_built_in_checks_register_like_plugins() -> None:
    import loopwatch.monitoring.job  # noqa: F401  (registers the built-ins)

    assert {"schema", "health", "drift", "coverage", "volume", "system"} <= set(CHECKS.names())
    for name in CHECKS.names():
        check = CHECKS.get(name)()
        assert check.name == name and callable(check.run)


@pytest.fixture
def always() -> Iterator[str]:
    """A plugin check registered for one test, and removed after it."""
    from loopwatch.core.findings import Finding
    from loopwatch.monitoring.checks import CheckContext, register_check

    @register_check("test-always")
    class Always:
        name = "test-always"

        def run(self, context: CheckContext) -> list[Finding]:
            return [Finding(kind="schema", check=self.name, statistic="x",
                            start=context.current.start, end=context.current.end, value=1.0,
                            severity=Severity.WARNING, message="always")]

    yield Always.name
    CHECKS.unregister(Always.name)


def test_a_plugin_check_runs_in_the_job(incidents: tuple[Spec, dict[str, Any]], always: str) -> None:
    spec, truth = incidents
    run = run_checks(spec, as_of=datetime.fromisoformat(truth["reference"]["end"]) + timedelta(days=2),
                     checks=[always], update=False)
    assert [f.message for f in run.findings] == ["always"]


def test_as_of_before_the_reference_is_an_input_error(incidents: tuple[Spec, dict[str, Any]],
                                                      tmp_path: Path) -> None:
    from loopwatch.errors import InputError

    spec, truth = incidents
    with pytest.raises(InputError, match="before the reference"):
        run_checks(spec, as_of=datetime.fromisoformat(truth["reference"]["start"]), update=False)
