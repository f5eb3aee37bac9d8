"""Flags in a JSON file: seen within the TTL, atomic writes, a broken file keeps the last good flags."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from loopwatch.core.flags import DisableFeature, FlagSet, ReviewThreshold, UseBaseline, parse_mitigations
from loopwatch.errors import InputError
from loopwatch.prediction.flag_file import FileFlags

T0 = datetime(2026, 3, 1, tzinfo=UTC)
WHO = {"model": "fraud", "who": "ana", "why": "incident", "when": T0}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_change_is_seen_after_the_ttl_and_not_before(tmp_path: Path) -> None:
    clock = Clock()
    reader = FileFlags(tmp_path / "flags.json", ttl=1.0, clock=clock)
    assert not reader.current("fraud")
    # another process sets a flag
    writer = FileFlags(tmp_path / "flags.json")
    writer.set(UseBaseline(id="b", **WHO))
    clock.now = 0.5
    assert not reader.current("fraud")  # cached
    clock.now = 1.01
    assert reader.current("fraud").baseline is not None
    assert not reader.current("other-model")


def test_a_broken_file_keeps_the_last_good_flags_and_says_why(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    flags = FileFlags(path, ttl=0)
    flags.set(DisableFeature(id="f", feature="ip_risk", **WHO))
    assert flags.current("fraud").disabled("ip_risk") is not None
    path.write_text('{"flags": [{"kind": "baseline", "id": "x"', encoding="utf-8")
    assert flags.current("fraud").disabled("ip_risk") is not None
    assert flags.errors() == 1 and "not JSON" in str(flags.last_error)
    rollback = {"kind": "rollback", "id": "r", **WHO, "when": "2026-03-01T00:00:00Z"}  # no version
    path.write_text(json.dumps({"flags": [rollback]}))
    assert flags.current("fraud").disabled("ip_risk") is not None  # still the last good ones
    assert "[0].version: Field required" in str(flags.last_error)


def test_revert_ends_a_mitigation_and_keeps_its_record(tmp_path: Path) -> None:
    flags = FileFlags(tmp_path / "flags.json", ttl=0)
    flags.set(ReviewThreshold(id="rv", threshold=0.2, cohort="region=EU", **WHO))
    assert flags.revert("rv") and not flags.revert("rv") and not flags.revert("nope")
    assert not flags.current("fraud")
    [kept] = json.loads((tmp_path / "flags.json").read_text())["flags"]
    assert kept["id"] == "rv" and kept["expires"] is not None


def test_concurrent_writers_lose_no_flag(tmp_path: Path) -> None:
    code = (
        "import sys; from datetime import UTC, datetime; "
        "from loopwatch.core.flags import DisableFeature; "
        "from loopwatch.prediction.flag_file import FileFlags; "
        "f = FileFlags(sys.argv[1]); "
        "[f.set(DisableFeature(id=f'{sys.argv[2]}-{i}', feature='x', model='fraud', who='a', why='b', "
        "when=datetime(2026, 3, 1, tzinfo=UTC))) for i in range(15)]"
    )
    env = {**os.environ}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "flags.json"), name], env=env)
             for name in ("a", "b")]
    assert all(p.wait(60) == 0 for p in procs)
    assert len(FileFlags(tmp_path / "flags.json", ttl=0).current("fraud").mitigations) == 30


def test_mitigations_are_validated_with_the_place_of_each_error() -> None:
    with pytest.raises(InputError) as info:
        parse_mitigations([{"kind": "review_threshold", "id": "r", **WHO, "threshold": 2,
                            "cohort": "EU"}], source="flags.json")
    message = str(info.value)
    assert "[0].threshold: Input should be less than or equal to 1; got 2" in message
    assert "[0].cohort: Value error, expected 'column=value'" in message
    flags = FlagSet.of("fraud", [{"kind": "review_threshold", "id": "r", **WHO, "threshold": 0.3,
                                  "cohort": "new_user=true"}])
    assert flags.review_thresholds[0].applies({"new_user": True})
    assert not flags.review_thresholds[0].applies({"new_user": False})
