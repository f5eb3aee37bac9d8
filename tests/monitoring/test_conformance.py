"""Every built-in check passes the conformance suite that plugins are held to (loopwatch.testing)."""

from __future__ import annotations

import random

import pytest

from loopwatch.core.findings import Finding, Severity
from loopwatch.monitoring.checks import CHECKS, CheckContext
from loopwatch.monitoring.job import build_checks
from loopwatch.testing import check_check, example_context

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def context() -> CheckContext:
    return example_context()


@pytest.mark.parametrize("name", CHECKS.names())
def test_each_built_in_check_conforms(name: str, context: CheckContext) -> None:
    (check,) = build_checks(context.spec, [name])
    findings = check_check(check, context)
    assert all(isinstance(f, Finding) for f in findings)


def test_the_example_context_holds_incidents_the_checks_find(context: CheckContext) -> None:
    pages = [f for name in ("health", "drift", "volume", "schema")
             for f in check_check(CHECKS.get(name)(), context) if f.severity == Severity.PAGE]
    assert pages, "the example context should make the built-in checks page"


def _finding(context: CheckContext, **change: object) -> Finding:
    fields: dict[str, object] = dict(kind="schema", check="bad", statistic="x", start=context.current.start,
                                     end=context.current.end, value=1.0, severity=Severity.WARNING,
                                     message="something")
    fields.update(change)
    return Finding(**fields)  # type: ignore[arg-type]  # fields of every type on purpose


class _Bad:
    name = "bad"

    def __init__(self, make: object) -> None:
        self.make = make

    def run(self, context: CheckContext) -> list[Finding]:
        return self.make(context)  # type: ignore[operator, no-any-return]


@pytest.mark.parametrize(("make", "rule"), [
    (lambda c: [_finding(c, message="")], "non-empty message"),
    (lambda c: [_finding(c, kind="weather")], "a kind among"),
    (lambda c: [_finding(c, end=c.as_of.replace(year=c.as_of.year + 1))], "ends by the run's as_of"),
    (lambda c: [_finding(c, interval=(0.5, 0.1))], "low <= high"),
    (lambda c: [_finding(c, evidence={"p_value": 3.0})], "p_value in [0, 1]"),
    (lambda c: [_finding(c, evidence={"when": object()})], "JSON-serialisable"),
    (lambda c: [_finding(c, value=random.random())], "deterministic"),
    (lambda c: c.spec, "returns a list of Finding"),
])
def test_a_check_that_breaks_a_rule_fails_naming_it(make: object, rule: str, context: CheckContext) -> None:
    with pytest.raises(AssertionError, match=rule.replace("[", r"\[").replace("]", r"\]")):
        check_check(_Bad(make), context)  # type: ignore[arg-type]


def test_a_check_with_hidden_state_fails() -> None:
    context = example_context()
    seen: list[CheckContext] = []

    def remember(c: CheckContext) -> list[Finding]:
        seen.append(c)
        return [_finding(c)] if c is seen[0] else []

    with pytest.raises(AssertionError, match="pure function of its context"):
        check_check(_Bad(remember), context)  # type: ignore[arg-type]


def test_a_check_that_changes_its_context_fails(context: CheckContext) -> None:
    def shift(c: CheckContext) -> list[Finding]:
        c.quarantined = {**c.quarantined, (c.as_of, "x"): 1}  # type: ignore[misc]
        return []

    original = context.quarantined
    try:
        with pytest.raises(AssertionError, match="leaves its context as it was"):
            check_check(_Bad(shift), context)  # type: ignore[arg-type]
    finally:
        context.quarantined = original
