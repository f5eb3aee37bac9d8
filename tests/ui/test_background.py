"""Slow pages never block a request: an evaluation runs in a worker thread while the page says so."""

from __future__ import annotations

import threading

from loopwatch.errors import InputError
from loopwatch.ui.views import Background


def test_a_value_is_computed_once_in_the_background_then_served_and_refreshed_when_stale() -> None:
    now = [0.0]
    calls: list[int] = []
    release = threading.Event()

    def compute() -> int:
        release.wait(5)
        calls.append(1)
        return len(calls)

    cache = Background(ttl=60, clock=lambda: now[0])
    first = cache.get("w", compute)
    assert not first.ready and first.running_since == 0.0
    assert cache.get("w", compute).running_since == 0.0  # still one computation, not two
    release.set()
    assert cache.wait("w", timeout=5).value == 1
    now[0] = 30.0
    assert cache.get("w", compute).value == 1 and calls == [1]  # fresh: served as it is
    now[0] = 61.0
    stale = cache.get("w", compute)
    assert stale.value == 1 and stale.running_since == 61.0  # stale: served while it is refreshed
    assert cache.wait("w", timeout=5).value == 2


def test_an_input_error_is_kept_for_the_page_and_an_unexpected_one_is_named_as_a_bug() -> None:
    def no_profiles() -> None:
        raise InputError("the store at /x holds no profiled days")

    def broken() -> None:
        raise ZeroDivisionError("division by zero")

    cache = Background(ttl=60)
    cache.get("a", no_profiles)
    cache.get("b", broken)
    assert cache.wait("a", timeout=5).error == "the store at /x holds no profiled days"
    error = cache.wait("b", timeout=5).error or ""
    assert error.startswith("unexpected ZeroDivisionError (a bug in loopwatch")
