"""A burst of a million ``log()`` calls: the default logger loses nothing; a dropping one says so."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.compute as pc
import pytest

from loopwatch.core.spec import Spec, spec_from_mapping
from loopwatch.prediction.logger import DecisionLogger
from loopwatch.storage.parquet_store import ParquetStore

BURST = 1_000_000
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def make_spec(root: Path) -> Spec:
    return spec_from_mapping({"model": "burst", "store": str(root), "features": [
        {"name": "amount", "dtype": "numeric"}, {"name": "country", "dtype": "categorical"}]})


def burst(logger: DecisionLogger, n: int) -> int:
    """``n`` calls in a tight loop, reusing one dict as serving code would; the accepted count."""
    row = {"decision_id": "", "timestamp": T0, "amount": 12.5, "country": "fr", "score": 0.5}
    log = logger.log
    accepted = 0
    for i in range(n):
        row["decision_id"] = f"d-{i}"
        accepted += log(row)
    return accepted


def test_a_burst_of_a_million_calls_with_default_settings_loses_nothing(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    with DecisionLogger(spec) as logger:
        accepted = burst(logger, BURST)
    stats = logger.stats()
    assert accepted == BURST
    assert (stats.accepted, stats.written, stats.dropped, stats.pending) == (BURST, BURST, 0, 0)
    ids = ParquetStore.for_spec(spec).read("decisions").column("decision_id")
    assert len(ids) == BURST and pc.count_distinct(ids).as_py() == BURST


def test_a_burst_into_a_dropping_logger_reports_every_drop_at_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = make_spec(tmp_path)
    caplog.set_level(logging.WARNING, logger="loopwatch.prediction.logger")
    n = BURST // 5
    with DecisionLogger(spec, on_full="drop", queue_size=1_000, batch_size=1_000) as logger:
        accepted = burst(logger, n)
    stats = logger.stats()
    assert stats.dropped > 0, "the burst never filled a queue of 1,000: the test shows nothing"
    assert (stats.accepted, stats.accepted + stats.dropped, stats.written) == (accepted, n, accepted)
    warnings = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert warnings and all(r.levelno == logging.WARNING for r in warnings)
    # the counts in the warnings add up to every drop, and the last gives the total
    counts = [int(re.search(r"dropped ([\d,]+) decisions", r.getMessage())[1].replace(",", ""))
              for r in warnings]
    assert sum(counts) == stats.dropped
    assert f"({stats.dropped:,} since start)" in warnings[-1].getMessage()
    # rate-limited: a first warning, then at most one per 10 s, then the rest at close
    assert len(warnings) <= 2 + int(max(1.0, warnings[-1].created - warnings[0].created) / 10)
