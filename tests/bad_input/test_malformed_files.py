"""Hypothesis-generated files of good and malformed lines: every good row lands once, every bad
one is quarantined with its position, the exit code says which happened, nothing crashes."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from loopwatch.cli.main import app

SPEC = {"model": "m", "store": "store", "features": [{"name": "x", "dtype": "numeric"}],
        "columns": {"action": None, "threshold": None, "latency": None, "cost": None,
                    "error": None, "source": None, "model_version": None}}
HEADER = ["decision_id", "timestamp", "score", "x"]

#: A malformed value per column, and the word its reason names.
BAD_VALUES = st.sampled_from([
    ("score", "1.5", "outside the score range"), ("score", "-0.01", "outside the score range"),
    ("score", "inf", "finite"), ("score", "abc", "expected a number"),
    ("x", "inf", "finite"), ("x", "-Infinity", "finite"), ("x", "1e999", "finite"),
    ("x", "twelve", "expected a number"),
    ("timestamp", "yesterday", "ISO 8601"), ("timestamp", "", "missing"),
    ("decision_id", "", "missing"), ("score", "", "missing"),
])

line_kind = st.sampled_from(["good", "good", "good", "bad_value", "short", "long"])


@st.composite
def files(draw: Any) -> tuple[str, list[str], int, int, bool]:
    """(format, lines, good rows, bad rows, whether a required column is absent from the file)."""
    fmt = draw(st.sampled_from(["csv", "jsonl"]))
    kinds = draw(st.lists(line_kind, min_size=1, max_size=25))
    lines, good, bad = [], 0, 0
    keys: set[str] = set()
    objects = 0
    for i, kind in enumerate(kinds):
        row = {"decision_id": f"r{i}", "timestamp": f"2026-03-0{1 + i % 3}T10:{i % 60:02d}:00Z",
               "score": f"{draw(st.floats(0, 1)):.6f}", "x": str(draw(st.integers(-5, 5)))}
        if kind == "bad_value":
            column, value, _ = draw(BAD_VALUES)
            row[column] = value
        if fmt == "csv":
            fields = [row[c] for c in HEADER]
            if kind == "short":
                fields = fields[:2]
            elif kind == "long":
                fields = [*fields, "extra"]
            lines.append(",".join(fields))
        else:
            if kind == "short":
                lines.append(json.dumps(row)[: draw(st.integers(1, 10))])  # cut: not JSON
            elif kind == "long":
                lines.append(json.dumps([row]))  # JSON, but not an object
            else:  # an empty value is a key left out
                present = {k: v for k, v in row.items() if v != ""}
                keys.update(present)
                objects += 1
                lines.append(json.dumps(present))
        good += kind == "good"
        bad += kind != "good"
    # a JSON Lines file none of whose objects has a required key lacks that column: the file
    # is refused as a whole, as a CSV file without the column in its header would be
    absent = objects > 0 and not {"decision_id", "timestamp", "score"} <= keys
    return fmt, lines, good, bad, absent


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=files())
def test_a_file_of_good_and_malformed_lines_lands_its_good_rows_and_quarantines_the_rest(
        case: tuple[str, list[str], int, int, bool]) -> None:
    fmt, lines, good, bad, absent = case
    with tempfile.TemporaryDirectory() as root:
        spec = Path(root) / "loopwatch.yaml"
        spec.write_text(yaml.safe_dump(SPEC))
        path = Path(root) / f"d.{fmt}"
        header = [",".join(HEADER)] if fmt == "csv" else []
        path.write_text("\n".join(header + lines) + "\n")
        result = CliRunner().invoke(app, ["ingest", "decisions", str(path), "--spec", str(spec),
                                          "--format", "json"])
        text = result.stdout + result.stderr
        assert "Traceback" not in text and "Exception ignored" not in text, text
        if absent:
            assert result.exit_code == 2, text
            assert "error:" in result.stderr and "which every decision needs" in result.stderr
            assert not (Path(root) / "store").exists() or not list(Path(root).rglob("*.parquet"))
            return
        assert result.exit_code == (1 if bad else 0), text
        [report] = json.loads(result.stdout)["files"]
        assert (report["written"], report["quarantined"]) == (good, bad), (lines, report)
        listed = CliRunner().invoke(app, ["quarantine", "--spec", str(spec), "--format", "json",
                                          "--limit", "100"])
        rows = json.loads(listed.stdout)["rows"]
        assert len(rows) == bad
        assert all(r["source"] == str(path) and r["position"] for r in rows)
        # a second ingest of the same file changes nothing stored: resends are duplicates
        again = CliRunner().invoke(app, ["ingest", "decisions", str(path), "--spec", str(spec),
                                         "--format", "json"])
        [second] = json.loads(again.stdout)["files"]
        assert (second["written"], second["duplicates"]) == (0, good)
