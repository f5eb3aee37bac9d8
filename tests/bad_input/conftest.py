"""A small churn-like model of a new user's (5 features, 40 days), and a helper to run the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from loopwatch.cli.main import app

START = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 40
PER_DAY = 35

SPEC: dict[str, Any] = {
    "model": "churn",
    "store": "store",
    "features": [
        {"name": "tenure", "dtype": "numeric"},
        {"name": "spend", "dtype": "numeric"},
        {"name": "tickets", "dtype": "numeric"},
        {"name": "plan", "dtype": "categorical"},
        {"name": "mobile", "dtype": "boolean"},
    ],
    "cohorts": ["region"],
    "columns": {"threshold": None, "latency": None, "cost": None, "error": None,
                "source": None, "model_version": None},
    "positive_actions": ["retain"],
    "reference": {"trailing": "14d"},
}


def decisions(seed: int = 7, days: int = DAYS) -> list[dict[str, Any]]:
    """``days`` days of decisions whose score is a calibrated churn probability."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for day in range(days):
        for k in range(PER_DAY):
            tenure, spend, tickets = rng.gamma(2, 12), rng.lognormal(3, 0.5), rng.poisson(1.5)
            logit = -1.0 - 0.04 * tenure + 0.6 * tickets + rng.normal(0, 0.5)
            score = float(1 / (1 + np.exp(-logit)))
            rows.append({
                "decision_id": f"d{day:02d}-{k:03d}",
                "timestamp": (START + timedelta(days=day, minutes=30 * k)).isoformat(),
                "tenure": round(float(tenure), 3), "spend": round(float(spend), 2),
                "tickets": int(tickets), "plan": str(rng.choice(["basic", "plus", "pro"])),
                "mobile": bool(rng.random() < 0.6), "region": str(rng.choice(["EU", "US", "APAC"])),
                "score": round(score, 4), "action": "retain" if score >= 0.5 else "none",
            })
    return rows


def outcomes(rows: list[dict[str, Any]], seed: int = 11) -> list[dict[str, Any]]:
    """A label for every decision, drawn from its score, observed a week later."""
    rng = np.random.default_rng(seed)
    out = []
    for row in rows:
        when = datetime.fromisoformat(row["timestamp"]) + timedelta(days=7)
        out.append({"decision_id": row["decision_id"], "observed_at": when.isoformat(),
                    "label": bool(rng.random() < row["score"]) if 0 <= row["score"] <= 1 else False})
    return out


@dataclass
class Project:
    """A spec file in a directory of its own, with its store next to it."""

    root: Path

    @property
    def spec(self) -> Path:
        return self.root / "loopwatch.yaml"

    @property
    def store(self) -> Path:
        return self.root / "store"

    def run(self, *args: str, env: dict[str, str] | None = None) -> Any:
        """``loopwatch ARGS --spec <this spec>``; the result has exit_code, stdout, stderr."""
        runner = CliRunner()
        return runner.invoke(app, [*args, "--spec", str(self.spec)], env=env, catch_exceptions=False)


@dataclass(frozen=True)
class Churn:
    """The churn model's spec, decisions and outcomes, for tests to build stores from."""

    spec: dict[str, Any]
    days: int = DAYS

    def decisions(self, seed: int = 7, days: int = DAYS) -> list[dict[str, Any]]:
        return decisions(seed, days)

    def outcomes(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return outcomes(rows)


@pytest.fixture(scope="session")
def churn() -> Churn:
    return Churn(SPEC)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    tmp_path.joinpath("loopwatch.yaml").write_text(yaml.safe_dump(SPEC, sort_keys=False))
    return Project(tmp_path)


def assert_clean_error(result: Any, *words: str) -> None:
    """Exit 2, ``error:`` naming each of ``words``, and no traceback."""
    text = result.stdout + result.stderr
    assert result.exit_code == 2, text
    assert "Traceback" not in text and "Exception ignored" not in text, text
    assert "error:" in result.stderr, text
    for word in words:
        assert word in result.stderr, (word, result.stderr)
