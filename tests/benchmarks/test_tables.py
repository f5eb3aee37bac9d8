"""Every table in benchmarks/*RESULTS.md is what its raw records render to."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"
MARKER = re.compile(r"<!-- table: (?P<name>[\w.-]+) -->\n(?P<body>.*?)<!-- /table -->", re.S)


def _check(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(directory / "tables.py"), "--check"],
                          capture_output=True, text=True, check=False, cwd=directory)


def test_every_generated_table_matches_its_records() -> None:
    done = _check(BENCHMARKS)
    assert done.returncode == 0, done.stderr + done.stdout


def test_every_table_comes_from_a_bench_module_with_records() -> None:
    names = [m.group("name") for path in BENCHMARKS.glob("*RESULTS.md")
             for m in MARKER.finditer(path.read_text(encoding="utf-8"))]
    assert {"detection.incidents", "detection.alarms", "profile_bench.profile",
            "check_bench.check", "compare_anchors.tools"} <= set(names)
    for name in names:
        bench = name.partition(".")[0]
        assert (BENCHMARKS / f"{bench}.py").exists(), name


def test_a_table_edited_by_hand_is_reported_stale(tmp_path: Path) -> None:
    copy = tmp_path / "benchmarks"
    shutil.copytree(BENCHMARKS, copy, ignore=shutil.ignore_patterns(".data", "competitors",
                                                                   "__pycache__"))
    results = copy / "RESULTS.md"
    text = results.read_text(encoding="utf-8")
    first = MARKER.search(text)
    assert first is not None
    edited = text[:first.start("body")] + "| a better figure |\n" + text[first.end("body"):]
    results.write_text(edited, encoding="utf-8")
    stale = _check(copy)
    assert stale.returncode == 1 and "RESULTS.md" in stale.stderr
    # regenerating restores exactly what the records render
    subprocess.run([sys.executable, str(copy / "tables.py")], check=True, capture_output=True)
    assert results.read_text(encoding="utf-8") == text
