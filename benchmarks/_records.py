"""Raw records of benchmark runs, and the helpers that turn them into RESULTS.md tables.

Every benchmark appends one JSON object per measurement to
``benchmarks/records/<bench>.jsonl`` (kept in the repository) through
:func:`append`; each object carries the run it belongs to (``run``: id, UTC date,
the exact command, git commit, CPU count and model, load average at start) beside
the measured fields. Tables in ``benchmarks/*RESULTS.md`` are never edited by hand:
a benchmark module exposes ``TABLES = {"name": render}``, where ``render(records)``
returns markdown, and ``benchmarks/tables.py`` (``make bench-tables``) rewrites the
text between ``<!-- table: name -->`` and ``<!-- /table -->`` from the records.

Figures quote the median of the runs and their spread (min–max), never the best run.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: Where records go: ``benchmarks/records`` (kept in the repository), or the directory
#: named by ``LOOPWATCH_BENCH_RECORDS`` (``make bench`` sends its short runs elsewhere, so
#: that they never replace the published figures).
RECORDS_DIR = Path(os.environ.get("LOOPWATCH_BENCH_RECORDS")
                   or Path(__file__).resolve().parent / "records")

__all__ = ["RECORDS_DIR", "append", "fmt_spread", "group_by", "latest_runs", "load", "new_run",
           "spread"]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=Path(__file__).parent, check=False)
    except OSError:
        return None
    return done.stdout.strip() or None


def new_run(bench: str, argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Describe one invocation of a benchmark: call once at start, pass to :func:`append`."""
    args = list(sys.argv[1:] if argv is None else argv)
    now = datetime.now(UTC)
    return {
        "id": f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}",
        "date": now.isoformat(timespec="seconds"),
        "command": shlex.join([".venv/bin/python", f"benchmarks/{bench}.py", *args]),
        "git": _git_commit(),
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "autogroup": _autogroup(),
    }


def _autogroup() -> str | None:
    """The scheduler's group of this process and its nice (Linux with autogroup on): with
    autogroup, CPU is shared between groups (sessions) before a process's nice counts, so a
    process at nice 19 in another session takes as much CPU as one at nice 0."""
    try:
        return Path("/proc/self/autogroup").read_text().strip()
    except OSError:
        return None


def append(bench: str, run: dict[str, Any], record: dict[str, Any]) -> None:
    """Append one measurement of ``run`` to ``records/<bench>.jsonl`` (one line, flushed)."""
    RECORDS_DIR.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"run": run, **record}, sort_keys=True, default=str)
    with open(RECORDS_DIR / f"{bench}.jsonl", "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def load(bench: str) -> list[dict[str, Any]]:
    """Every record of ``bench``, oldest first (an empty list when it never ran)."""
    path = RECORDS_DIR / f"{bench}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def latest_runs(records: Iterable[dict[str, Any]], *, where: dict[str, Any] | None = None,
                count: int = 1) -> list[dict[str, Any]]:
    """Records of the ``count`` most recent runs whose records match every ``where`` key."""
    matching = [r for r in records if all(r.get(k) == v for k, v in (where or {}).items())]
    ids = list(dict.fromkeys(r["run"]["id"] for r in matching))[-count:]
    return [r for r in matching if r["run"]["id"] in ids]


def group_by(records: Iterable[dict[str, Any]], *keys: str) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
    """Records grouped by the values of ``keys``, in first-seen order."""
    out: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in records:
        out.setdefault(tuple(r.get(k) for k in keys), []).append(r)
    return out


def spread(values: Iterable[float]) -> tuple[float, float, float]:
    """(median, min, max) of ``values``."""
    found = [float(v) for v in values]
    if not found:
        raise ValueError("no values")
    return statistics.median(found), min(found), max(found)


def fmt_spread(values: Iterable[float], digits: int = 2, unit: str = "") -> str:
    """``median (min–max, k runs)``, or the single value when there is one run."""
    found = list(values)
    median, low, high = spread(found)
    if len(found) == 1:
        return f"{median:.{digits}f}{unit} (1 run)"
    return f"{median:.{digits}f}{unit} ({low:.{digits}f}–{high:.{digits}f}, {len(found)} runs)"
