"""What the dashboard reads from a control plane: the latest run with its findings, and the models known."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from loopwatch.core.alerts import AlertDraft
from loopwatch.core.registry import NewVersion
from loopwatch.storage.control import ControlPlane
from loopwatch.storage.control.registry import ModelRegistry
from loopwatch.storage.control.runs import latest_run, models


def day(n: int) -> datetime:
    return datetime(2026, 3, 1, tzinfo=UTC) + timedelta(days=n)


def test_the_latest_run_holds_only_its_own_findings_and_the_models_are_all_known(
        database: str, make_draft: Callable[..., AlertDraft]) -> None:
    with ControlPlane(url=database, resolve_after=3) as plane:
        assert latest_run(plane.engine, "fraud") is None and models(plane.engine) == []
        first = make_draft(entity="merchant_category=crypto", findings=3)
        second = make_draft("volume", entity="source=pos", findings=1)
        plane.apply(model="fraud", run_time=day(1), drafts=[first, second])
        plane.apply(model="fraud", run_time=day(2), drafts=[first], kinds=["coverage"])
        plane.apply(model="churn", run_time=day(1), drafts=[])
        ModelRegistry(plane.engine).register(NewVersion(model="credit", version="1", artifact="m.joblib"),
                                             actor="ana")
        run = latest_run(plane.engine, "fraud")
        assert run is not None and run.run_time == day(2) and run.kinds == ("coverage",) and run.drafts == 1
        assert len(run.findings) == 3  # the day-1 findings of the volume alert are not this run's
        assert {f["alert_state"] for f in run.findings} == {"open"}
        assert {f["entity"] for f in run.findings} == {"merchant_category=crypto"}
        known = {m.model: m for m in models(plane.engine)}
        assert sorted(known) == ["churn", "credit", "fraud"]
        assert known["fraud"].alerts == {"open": 2} and known["fraud"].last_run == day(2)
        assert known["churn"].alerts == {} and known["credit"].last_run is None
