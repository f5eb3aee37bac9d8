"""What every competitor runner shares: arguments, loading, measuring, one JSON line.

Runs inside each tool's own virtualenv, so it uses only the standard library,
pandas, pyarrow and psutil.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pandas as pd
import psutil


def _mb(n_bytes: float) -> float:
    return round(n_bytes / 2**20, 1)


class _PeakRss:
    """Poll this process's resident set size while a block of work runs."""

    def __init__(self, interval: float = 0.02) -> None:
        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.peak = 0
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            self._stop.wait(self._interval)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)


def main(
    tool: str,
    version: str,
    drift_job: Callable[[pd.DataFrame, pd.DataFrame, list[str], list[str]], dict[str, Any]],
) -> None:
    """Load the two Parquet files, run ``drift_job`` and print one JSON line.

    ``drift_job(reference, current, numeric, categorical)`` returns a dict with
    ``flagged`` (names of the features the tool calls drifted) and
    ``per_feature`` (anything worth keeping per feature).
    """
    parser = argparse.ArgumentParser(description=f"{tool} drift job")
    parser.add_argument("--reference", required=True)
    parser.add_argument("--current", required=True)
    parser.add_argument("--numeric", required=True, help="comma-separated numeric features")
    parser.add_argument("--categorical", required=True, help="comma-separated categoricals")
    args = parser.parse_args()
    numeric = args.numeric.split(",")
    categorical = args.categorical.split(",")
    features = numeric + categorical

    # Loading is not timed: only the 20 feature columns, as a user would load them.
    start = time.perf_counter()
    reference = pd.read_parquet(args.reference, columns=features)
    current = pd.read_parquet(args.current, columns=features)
    load_seconds = time.perf_counter() - start
    rss_after_load = psutil.Process().memory_info().rss

    with _PeakRss() as peak:
        start, cpu_start = time.perf_counter(), time.process_time()
        result = drift_job(reference, current, numeric, categorical)
        compute_seconds = time.perf_counter() - start
        compute_cpu_seconds = time.process_time() - cpu_start

    # ru_maxrss is in KiB on Linux and covers the whole process, loading included.
    peak_rss_total = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    record = {
        "tool": tool,
        "version": version,
        "pandas": pd.__version__,
        "rows_reference": len(reference),
        "rows_current": len(current),
        "load_seconds": round(load_seconds, 2),
        "compute_seconds": round(compute_seconds, 2),
        "compute_cpu_seconds": round(compute_cpu_seconds, 2),
        "rss_after_load_mb": _mb(rss_after_load),
        "peak_rss_compute_mb": _mb(peak.peak),
        "peak_rss_mb": _mb(peak_rss_total),
        "flagged": sorted(result["flagged"]),
        "per_feature": result.get("per_feature", {}),
        "notes": result.get("notes", ""),
    }
    sys.stdout.write(json.dumps(record, default=str) + "\n")
    sys.stdout.flush()
