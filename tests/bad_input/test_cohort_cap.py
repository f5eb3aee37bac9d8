"""A cohort column with many values is capped: the reference's K most frequent values keep
their cohorts, the rest count as '(other)', a warning names the column, and nothing is lost."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest

from loopwatch.core.profile import ALL, Cohort
from loopwatch.core.spec import spec_from_mapping
from loopwatch.storage.cohort_cap import OTHER
from loopwatch.storage.ingest import ingest_table
from loopwatch.storage.parquet_store import ParquetStore
from loopwatch.storage.profile_history import ProfileHistory

K = 20


def _with_users(churn: Any, users: int, seed: int = 5) -> list[dict[str, Any]]:
    """The churn decisions with a ``user`` column of ``users`` values, a few much more frequent."""
    rng = np.random.default_rng(seed)
    rows = churn.decisions()
    weights = 1 / np.arange(1, users + 1)  # Zipf: the head is clear, the tail long
    picks = rng.choice(users, size=len(rows), p=weights / weights.sum())
    for row, pick in zip(rows, picks, strict=True):
        row["user"] = f"u{pick:05d}"
    return rows


def _store(project: Any, churn: Any, limit: int) -> ParquetStore:
    spec = spec_from_mapping({**churn.spec, "cohorts": ["region", "user"],
                              "inputs": {"cohort_values": limit}}, base_dir=project.root)
    return ParquetStore(project.store, spec=spec)


def test_a_cohort_column_over_the_cap_keeps_the_references_most_frequent_values(
        project: Any, churn: Any, caplog: pytest.LogCaptureFixture) -> None:
    rows = _with_users(churn, users=400)
    store = _store(project, churn, K)
    ingest_table(store, "decisions", rows)
    with caplog.at_level(logging.WARNING, logger="loopwatch.profile"):
        ProfileHistory(store).update()
    [warning] = [r.getMessage() for r in caplog.records]
    assert "cohort column 'user' has" in warning and f"its {K} most frequent" in warning
    assert "'region'" not in warning  # three regions: under the cap, not capped
    history = ProfileHistory(store)
    ref_end = history.reference_window().end
    in_reference = [r for r in rows if r["timestamp"] < ref_end.isoformat()]
    counts: dict[str, int] = {}
    for r in in_reference:
        counts[r["user"]] = counts.get(r["user"], 0) + 1
    expected = sorted(sorted(counts, key=lambda u: (-counts[u], u))[:K])
    profiles = history.profiles()
    users = sorted(c.value for c in profiles if c.column == "user" and c.value is not None)
    assert [u for u in users if u != OTHER] == expected
    assert OTHER in users
    # nothing is lost: the user cohorts add up to every decision, '(other)' to the rest
    total = sum(p.n for c, p in profiles.items() if c.column == "user")
    assert total == profiles[ALL].n == len(rows)
    assert profiles[Cohort("user", OTHER)].n == sum(1 for r in rows if r["user"] not in expected)
    assert {c.value for c in profiles if c.column == "region"} == {"EU", "US", "APAC"}


def test_the_kept_values_come_from_the_reference_so_a_value_stays_in_or_out(
        project: Any, churn: Any) -> None:
    rows = _with_users(churn, users=400)
    store = _store(project, churn, K)
    ingest_table(store, "decisions", rows)
    history = ProfileHistory(store)
    history.update()
    first = {c for c in history.profiles() if c.column == "user"}
    # a day later a new user floods in: it is not in the reference, so it counts as (other)
    late = [{**r, "decision_id": f"late{i}", "user": "u99999",
             "timestamp": "2026-04-11T00:00:00+00:00"} for i, r in enumerate(rows[:300])]
    ingest_table(store, "decisions", late)
    history.update()
    assert {c for c in history.profiles() if c.column == "user"} == first
    assert history.profile(cohort=Cohort("user", "u99999")).n == 0


def test_a_changed_cap_profiles_again(project: Any, churn: Any) -> None:
    rows = _with_users(churn, users=400)
    ingest_table(_store(project, churn, K), "decisions", rows)
    ProfileHistory(_store(project, churn, K)).update()
    wider = ProfileHistory(_store(project, churn, 50))
    result = wider.update()
    assert result.days_profiled == churn.days
    assert len([c for c in wider.profiles() if c.column == "user" and c.value != OTHER]) == 50


def test_a_column_under_the_cap_is_not_capped(project: Any, churn: Any,
                                              caplog: pytest.LogCaptureFixture) -> None:
    rows = _with_users(churn, users=15)
    store = _store(project, churn, K)
    ingest_table(store, "decisions", rows)
    with caplog.at_level(logging.WARNING, logger="loopwatch.profile"):
        ProfileHistory(store).update()
    assert not caplog.records
    users = {c.value for c in ProfileHistory(store).profiles() if c.column == "user"}
    assert OTHER not in users and len(users) == len({r["user"] for r in rows})
