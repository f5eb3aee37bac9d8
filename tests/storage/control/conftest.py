"""The control-plane tests run on SQLite and on PostgreSQL (127.0.0.1:5432; required under CI=true)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import pytest

from loopwatch.core.alerts import AlertDraft, fingerprint_of
from loopwatch.core.findings import Finding, Kind, Severity

POSTGRES: dict[str, Any] = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def unavailable(reason: str) -> NoReturn:
    """Skip on a developer's machine; fail under ``CI=true`` (as the engine tests do)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: control-plane tests must run on PostgreSQL, not skip)",
                    pytrace=False)
    pytest.skip(reason)

DAY0 = datetime(2026, 3, 1, tzinfo=UTC)


def day(n: int) -> datetime:
    return DAY0 + timedelta(days=n)


def draft(kind: Kind = "coverage", *, entity: str | None = "merchant_category=crypto",
          severity: Severity = Severity.PAGE, onset: int = 0, findings: int = 2,
          model: str = "fraud") -> AlertDraft:
    """A draft as the policy would build it, with ``findings`` findings (one per hour of day)."""
    found = tuple(Finding(kind=kind, check=kind, statistic="share", start=day(onset), end=day(onset + 1),
                          value=0.9, severity=severity, message=f"{entity} hour {h}", entity=entity,
                          cohort=f"hour_of_day={h}") for h in range(findings))
    return AlertDraft(fingerprint=fingerprint_of(model=model, kind=kind, entity=entity), model=model,
                      kind=kind, severity=severity, onset=day(onset), headline=f"{entity} is not scored",
                      findings=found, entity=entity, owner="risk-team",
                      cohorts=tuple(f.cohort or "" for f in found))


def _postgres_url() -> Iterator[str]:
    try:
        import psycopg

        admin = psycopg.connect(host=POSTGRES["host"], port=POSTGRES["port"], user=POSTGRES["user"],
                                dbname="postgres", autocommit=True, connect_timeout=5)
    except Exception as exc:
        unavailable(f"PostgreSQL is not available at {POSTGRES['user']}@{POSTGRES['host']}:"
                    f"{POSTGRES['port']}: {type(exc).__name__}: {exc}")
    name = f"loopwatch_control_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://{POSTGRES['user']}@{POSTGRES['host']}:{POSTGRES['port']}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty control-plane database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'control.sqlite'}"
    else:
        yield from _postgres_url()


@pytest.fixture
def make_draft() -> Callable[..., AlertDraft]:
    return draft


@pytest.fixture
def audit_chain_breaks() -> Callable[[list[Any]], list[str]]:
    return chain_breaks


def chain_breaks(entries: list[Any]) -> list[str]:
    """Audit entries of one alert whose from-state is not the previous entry's to-state."""
    out = []
    previous: dict[str | None, str | None] = {}
    for e in entries:
        if e.alert_id in previous and e.from_state != previous[e.alert_id]:
            out.append(f"alert {e.alert_id}: {e.action} from {e.from_state}, "
                       f"but it was {previous[e.alert_id]}")
        previous[e.alert_id] = e.to_state
    return out
