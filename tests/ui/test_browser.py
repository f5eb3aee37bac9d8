"""The dashboard in a real browser: Debian's headless chromium driven by Playwright, `loopwatch ui` in its
own process. An operator signs in, sees the open alerts, acknowledges one, and both the page and the
control plane show it; a read-only user sees the alerts with no button to act on them. Screenshots go
to test-output/ui/ (git-ignored)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from loopwatch.core.alerts import AlertState

if TYPE_CHECKING:
    from tests.ui.conftest import Served

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).parents[2] / "test-output" / "ui"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the browser tests must run, not skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless chromium from Debian's package (never a downloaded browser build)."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        _unavailable(f"no chromium at {CHROMIUM}: apt-get install --no-install-recommends chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _unavailable(f"playwright is not installed ({exc}); install with `pip install -e '.[dev]'`")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
        chromium = p.chromium.launch(executable_path=path,
                                     args=["--no-sandbox", "--disable-background-networking"])
        (SCREENSHOTS / "browser.txt").write_text(f"chromium {chromium.version}\n")
        try:
            yield chromium
        finally:
            chromium.close()


def _sign_in(browser: Any, served: Served, token: str) -> tuple[Any, Any, list[str]]:
    """A fresh browser context signed in with ``token``; its page and the console errors it logs."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{served.url}/")
    assert page.url.endswith("/login?next=/"), "a page asks for a sign-in first"
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{served.url}/")
    return context, page, errors


def test_an_operator_sees_the_open_alerts_and_acknowledges_one(browser: Any, served: Served) -> None:
    context, page, errors = _sign_in(browser, served, served.operator)
    try:
        alert_id = served.alerts["real_page"]
        card = page.get_by_test_id(f"alert-{alert_id}")
        with served.plane() as plane:
            live = plane.alerts(model=served.spec.model)
        # every live alert of the control plane is on the page, most severe first
        shown = page.locator("[data-testid=incidents] > li").evaluate_all(
            "els => els.map(e => e.dataset.testid)")
        assert shown == [f"alert-{a.id}" for a in live]
        assert card.get_by_test_id(f"state-{alert_id}").inner_text() == "open"
        assert "owner" in card.inner_text() and "runbook" in card.inner_text()
        page.screenshot(path=str(SCREENSHOTS / "operator-before-ack.png"), full_page=True)

        card.locator("input[name=reason]").fill("looking at the velocity service")
        card.get_by_test_id(f"ack-{alert_id}").click()
        page.wait_for_url(f"{served.url}/")
        state = page.get_by_test_id(f"state-{alert_id}")
        assert state.inner_text() == "acknowledged by ana"
        assert page.get_by_test_id(f"ack-{alert_id}").count() == 0  # nothing left to acknowledge
        page.screenshot(path=str(SCREENSHOTS / "operator-after-ack.png"), full_page=True)

        with served.plane() as plane:
            alert = plane.alert(alert_id)
            assert alert.state is AlertState.ACKNOWLEDGED and alert.acknowledged_by == "ana"
            (entry,) = [e for e in plane.audit(alert_id=alert_id) if e.action == "acknowledged"]
            assert (entry.actor, entry.reason) == ("ana", "looking at the velocity service")
        page.goto(f"{served.url}/audit")
        assert "looking at the velocity service" in page.get_by_test_id("audit").inner_text()
        assert errors == []
    finally:
        context.close()


def test_a_reader_sees_the_alerts_but_no_button_to_act(browser: Any, served: Served) -> None:
    context, page, errors = _sign_in(browser, served, served.reader)
    try:
        assert page.get_by_test_id("user").inner_text().startswith("ben")
        assert page.locator("[data-testid=incidents] > li").count() >= 3
        assert page.locator("button", has_text="acknowledge").count() == 0
        assert page.locator("form[action^='/alerts/']").count() == 0
        page.screenshot(path=str(SCREENSHOTS / "reader-home.png"), full_page=True)
        page.goto(f"{served.url}/alerts/{served.alerts['real_page']}")
        assert "History" in page.inner_text("main")
        page.screenshot(path=str(SCREENSHOTS / "reader-alert.png"), full_page=True)
        page.goto(f"{served.url}/flags")
        assert page.locator("button", has_text="revert").count() == 0
        # a forged form posted from the reader's own session is refused, and nothing changes
        alert_id = served.alerts["real_other"]
        answer = page.request.post(f"{served.url}/alerts/{alert_id}/ack", form={"csrf": "x"})
        assert answer.status == 403
        with served.plane() as plane:
            assert plane.alert(alert_id).state is AlertState.OPEN
        assert errors == []
    finally:
        context.close()


def test_the_cohort_page_shows_not_enough_data_unlike_a_value_with_its_interval(browser: Any,
                                                                                  served: Served) -> None:
    context, page, errors = _sign_in(browser, served, served.reader)
    try:
        # the reference's days, whose labels have matured: small cohorts have too few positives for an
        # interval of ROC AUC, larger ones have one
        start, end = served.first_day + timedelta(days=4), served.first_day + timedelta(days=28)
        page.goto(f"{served.url}/cohorts?from={start:%Y-%m-%d}&to={end:%Y-%m-%d}")
        assert page.input_value("input[name=from]") == f"{start:%Y-%m-%d}"
        table = page.get_by_test_id("cohorts")
        table.wait_for(timeout=120_000)  # the page reloads itself while the evaluation runs
        ok, thin = table.locator("td.cell.ok"), table.locator("td.cell.not_enough_data")
        assert ok.count() > 0 and thin.count() > 0
        assert "–" in ok.first.inner_text() and "n=" in ok.first.inner_text()  # value, interval, n
        assert "not enough data" in thin.first.inner_text() and "n=" in thin.first.inner_text()

        def background(cell: Any) -> str:
            return str(cell.evaluate("e => getComputedStyle(e).backgroundImage + getComputedStyle(e).color"))

        assert background(ok.first) != background(thin.first), "not enough data must look different"
        page.screenshot(path=str(SCREENSHOTS / "cohorts.png"), full_page=True)
        for path, shot in (("/health", "health.png"), ("/models", "models.png"), ("/audit", "audit.png")):
            page.goto(f"{served.url}{path}")
            page.screenshot(path=str(SCREENSHOTS / shot), full_page=True)
        assert errors == []
    finally:
        context.close()
