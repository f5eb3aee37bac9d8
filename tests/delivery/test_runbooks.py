"""Every check kind has a shipped runbook; every alert links one and states its downstream risk."""

from __future__ import annotations

import re
import typing
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer

from loopwatch.cli.main import app
from loopwatch.core.findings import Finding, Kind, Severity
from loopwatch.core.runbooks import RUNBOOKS
from loopwatch.core.spec import spec_from_mapping
from loopwatch.monitoring.alert_policy import group_findings

KINDS = typing.get_args(Kind)
COMMANDS = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
SECTIONS = ("**What it means.**", "**Downstream risk.**", "**Confirm.**", "**What to do.**",
            "**Who owns it.**")


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_has_a_runbook_with_every_section_and_real_commands(kind: str) -> None:
    text = (RUNBOOKS / f"{kind}.md").read_text()
    assert [s for s in SECTIONS if s not in text] == []
    confirm = text.split("**Confirm.**")[1].split("**What to do.**")[0]
    named = set(re.findall(r"`loopwatch ([a-z]+)", text))
    assert re.search(r"`loopwatch [a-z]+", confirm), "confirming names a loopwatch command"
    assert named <= COMMANDS, f"runbook names commands that do not exist: {named - COMMANDS}"


def finding(entity: str) -> Finding:
    day = datetime(2026, 2, 2, tzinfo=UTC)
    return Finding(kind="coverage", check="coverage", statistic="unscored_share", start=day,
                   end=day.replace(day=3), value=0.03, severity=Severity.PAGE, message="unscored",
                   entity=entity)


def spec(**alerts: object) -> typing.Any:
    return spec_from_mapping({"model": "card-fraud", "owner": "risk",
                              "features": [{"name": "merchant_category", "dtype": "categorical"}],
                              "entities": ["merchant_category"], "alerts": alerts})


def test_an_alert_links_the_shipped_runbook_and_names_its_risk() -> None:
    (draft,) = group_findings([finding("merchant_category=crypto_exchange")], spec=spec())
    assert draft.runbook is not None and draft.runbook.startswith("file://")
    assert Path(draft.runbook.removeprefix("file://")).read_text().startswith("# Runbook: coverage")
    assert draft.risk is not None
    assert "unscored merchant_category=crypto_exchange decisions" in draft.risk and "card-fraud" in draft.risk


def test_the_spec_overrides_a_runbook_per_kind_and_per_feature() -> None:
    by_kind = spec(runbooks={"coverage": "https://wiki.example.com/coverage"})
    (draft,) = group_findings([finding("merchant_category=crypto_exchange")], spec=by_kind)
    assert draft.runbook == "https://wiki.example.com/coverage"
    both = spec(runbooks={"coverage": "https://wiki.example.com/coverage",
                          "coverage:merchant_category": "https://wiki.example.com/mcc"})
    (draft,) = group_findings([finding("merchant_category=crypto_exchange")], spec=both)
    assert draft.runbook == "https://wiki.example.com/mcc"
