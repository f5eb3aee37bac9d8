"""One process of the control-plane concurrency tests (``test_plane_processes.py``).

Run as ``python plane_worker.py ROLE URL READY_DIR``: it writes ``READY_DIR/ready-ROLE-<pid>``,
waits until ``READY_DIR/go`` exists, then works on the control plane at URL and prints what it
did as one JSON object.

``watch``  applies runs 0..RUNS-1 of model ``fraud``: the cause is seen on days 0-9 and 20-29
           and absent on days 10-19 and 30-39 (resolve after 2 runs, no reopening).
``person`` acknowledges, snoozes and resolves alert 1 by hand, over and over, until it has made
           ACTS attempts; an alert that is resolved at that moment is an expected refusal.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from loopwatch.core.alerts import AlertDraft, fingerprint_of
from loopwatch.core.findings import Finding, Severity
from loopwatch.errors import InputError
from loopwatch.storage.control import ControlPlane

DAY0 = datetime(2026, 3, 1, tzinfo=UTC)
RUNS = 40
ACTS = 60
ENTITY = "merchant_category=crypto"


def seen(n: int) -> bool:
    return n % 20 < 10


def drafts(n: int) -> list[AlertDraft]:
    if not seen(n):
        return []
    when = DAY0 + timedelta(days=n)
    finding = Finding(kind="coverage", check="coverage", statistic="share", start=when,
                      end=when + timedelta(days=1), value=1.0, severity=Severity.PAGE,
                      message="one score for every decision", entity=ENTITY)
    return [AlertDraft(fingerprint=fingerprint_of(model="fraud", kind="coverage", entity=ENTITY),
                       model="fraud", kind="coverage", severity=Severity.PAGE, onset=when,
                       headline=f"{ENTITY} is not scored", findings=(finding,), entity=ENTITY)]


def plane(url: str) -> ControlPlane:
    return ControlPlane(url=url, resolve_after=2, reopen_within=timedelta(0))


def watch(url: str) -> dict[str, Any]:
    applied = 0
    with plane(url) as p:
        for n in range(RUNS):
            result = p.apply(model="fraud", run_time=DAY0 + timedelta(days=n), drafts=drafts(n))
            applied += result.applied
    return {"applied": applied}


def person(url: str) -> dict[str, Any]:
    done: dict[str, int] = {"acknowledged": 0, "snoozed": 0, "resolved": 0, "refused": 0}
    with plane(url) as p:
        attempts = 0
        while attempts < ACTS:
            try:
                live = p.open_alerts("fraud")
            except InputError:
                live = []
            if not live:
                time.sleep(0.005)
                attempts += 1
                continue
            target = live[0].id
            try:
                match attempts % 3:
                    case 0:
                        p.acknowledge(target, actor="ana", reason="on it")
                        done["acknowledged"] += 1
                    case 1:
                        p.snooze(target, until=datetime(2030, 1, 1, tzinfo=UTC), actor="ana", reason="later")
                        done["snoozed"] += 1
                    case _:
                        p.resolve(target, actor="ben", reason="fixed")
                        done["resolved"] += 1
            except InputError:
                done["refused"] += 1
            attempts += 1
    return done


def main() -> None:
    role, url, ready = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    (ready / f"ready-{role}-{os.getpid()}").touch()
    deadline = time.monotonic() + 120
    while not (ready / "go").exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the test never said go")
        time.sleep(0.01)
    out = watch(url) if role == "watch" else person(url)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
