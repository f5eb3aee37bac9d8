"""The spec's ``checks:`` block: defaults are the checks' own, errors name the key, the job uses it."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from loopwatch.core.checks_spec import Checks
from loopwatch.core.spec import spec_from_mapping
from loopwatch.errors import SpecError
from loopwatch.monitoring.checks import CHECKS
from loopwatch.monitoring.job import build_checks

BASE: dict[str, Any] = {"model": "m", "features": [{"name": "amount", "dtype": "numeric"}]}
BUILT_IN = ("health", "drift", "coverage", "volume", "system", "performance")


@pytest.mark.parametrize("name", BUILT_IN)
def test_the_blocks_defaults_are_the_checks_own(name: str) -> None:
    signature = inspect.signature(CHECKS.get(name).__init__)
    own = {k: p.default for k, p in signature.parameters.items()
           if p.kind is inspect.Parameter.KEYWORD_ONLY and k != "min_effects"}
    assert Checks().arguments(name) == own


def test_parameters_set_in_the_spec_reach_the_checks() -> None:
    spec = spec_from_mapping({**BASE, "checks": {
        "volume": {"page_ratio": 0.3}, "coverage": {"collapse": 0.2},
        "system": {"latency_factor": 3.0}, "drift": {"min_effect": 0.05},
        "performance": {"window": "14d"}, "disabled": ["schema"]}})
    built = {c.name: c for c in build_checks(spec, spec.checks.enabled(CHECKS.names()))}
    assert "schema" not in built
    assert vars(built["volume"])["page_ratio"] == 0.3
    assert vars(built["volume"])["warning_ratio"] == 0.7
    assert vars(built["coverage"])["collapse"] == 0.2
    assert vars(built["system"])["latency_factor"] == 3.0
    assert vars(built["drift"])["min_effect"] == 0.05
    assert vars(built["performance"])["length"].days == 14


@pytest.mark.parametrize(("checks", "message"), [
    ({"volume": {"page_ratoi": 0.3}}, "checks.volume.page_ratoi: unknown key; did you mean 'page_ratio'?"),
    ({"volum": {}}, "checks.volum: unknown key; did you mean 'volume'?"),
    ({"coverage": {"collapse": 1.5}}, "checks.coverage.collapse: "),
    ({"volume": {"page_ratio": 0.8}}, "page_ratio (0.8) must not exceed warning_ratio (0.7)"),
    ({"system": {"warning_error_rise": 0.2}}, "warning_error_rise (0.2) must not exceed"),
    ({"performance": {"window": "12h"}}, "checks.performance.window: expected whole days"),
    ({"drift": {"min_effect": "large"}}, "checks.drift.min_effect: expected a number; got 'large'"),
])
def test_a_bad_block_is_a_spec_error_naming_the_key(checks: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError) as caught:
        spec_from_mapping({**BASE, "checks": checks})
    assert message in str(caught.value)


def test_an_unknown_check_under_disabled_or_plugins_is_named() -> None:
    spec = spec_from_mapping({**BASE, "checks": {"disabled": ["drfit"]}})
    with pytest.raises(SpecError, match=r"checks.disabled: unknown check 'drfit'; did you mean 'drift'\?"):
        build_checks(spec, ["health"])
    with pytest.raises(SpecError, match="'health' is a built-in check; set its parameters under"):
        spec_from_mapping({**BASE, "checks": {"plugins": {"health": {"min_change": 0.1}}}})


def test_a_plugin_check_gets_its_arguments_and_a_refusal_names_its_key(
        monkeypatch: pytest.MonkeyPatch) -> None:
    class Quiet:
        name = "quiet"

        def __init__(self, *, level: int = 1) -> None:
            self.level = level

        def run(self, context: object) -> list[object]:
            return []

    monkeypatch.setitem(CHECKS._items, "quiet", Quiet)
    spec = spec_from_mapping({**BASE, "checks": {"plugins": {"quiet": {"level": 3}}}})
    [built] = build_checks(spec, ["quiet"])
    assert vars(built)["level"] == 3
    spec = spec_from_mapping({**BASE, "checks": {"plugins": {"quiet": {"levle": 3}}}})
    with pytest.raises(SpecError, match=r"checks.plugins.quiet: .*levle"):
        build_checks(spec, ["quiet"])
