"""The decision logger: nothing accepted is lost, the hot path never waits, PII never lands."""

from __future__ import annotations

import gc
import hashlib
import hmac
import logging
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
import weakref
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from loopwatch.core.schema import Conformed
from loopwatch.core.spec import Spec, spec_from_mapping
from loopwatch.core.store import Kind, WriteResult
from loopwatch.errors import InputError, LoggerClosedError, StoreError
from loopwatch.prediction.logger import DecisionLogger, LoggerStats
from loopwatch.storage.parquet_store import ParquetStore

KEY = b"test-secret-key-0123"
T0 = datetime(2026, 3, 1, 23, 59, 58, tzinfo=UTC)


def make_spec(root: Path, **extra: Any) -> Spec:
    data: dict[str, Any] = {
        "model": "fraud",
        "store": str(root),
        "features": [
            {"name": "amount", "dtype": "numeric"},
            {"name": "country", "dtype": "categorical"},
        ],
    }
    data.update(extra)
    return spec_from_mapping(data)


def decision(i: int, **extra: Any) -> dict[str, Any]:
    # timestamps cross midnight so batches span two date partitions
    row = {"decision_id": f"d-{i}", "timestamp": T0 + timedelta(seconds=i % 5),
           "amount": float(i), "country": "fr", "score": 0.5}
    row.update(extra)
    return row


def stored_ids(root: Path, spec: Spec) -> list[str]:
    ids = ParquetStore.for_spec(spec).read("decisions").column("decision_id").to_pylist()
    return [str(i) for i in ids]


class GatedStore(ParquetStore):
    """A real store whose writes wait until the test opens the gate."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.entered = threading.Event()
        self.gate = threading.Event()

    def write(self, kind: Kind, conformed: Conformed) -> WriteResult:
        self.entered.set()
        if not self.gate.wait(timeout=30):
            raise AssertionError("the test never opened the gate")
        return super().write(kind, conformed)


class FlakyStore(ParquetStore):
    """A real store whose first ``failures`` writes fail as a full disk would."""

    def __init__(self, *args: Any, failures: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.failures = failures
        self.attempts = 0

    def write(self, kind: Kind, conformed: Conformed) -> WriteResult:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise StoreError(f"cannot write {self.root}/part.parquet: No space left on device")
        return super().write(kind, conformed)


@pytest.fixture
def loggers() -> Iterator[list[DecisionLogger]]:
    """Loggers to close at the end of a test, whatever happened."""
    made: list[DecisionLogger] = []
    yield made
    for logger in made:
        logger.close(timeout=10)


# --- nothing lost, nothing twice ----------------------------------------------------------


def test_every_accepted_decision_is_stored_exactly_once_after_flush(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    with DecisionLogger(spec, batch_size=300, flush_interval=0.05) as logger:
        for i in range(2_500):
            assert logger.log(decision(i)) is True
        logger.flush()
        assert sorted(stored_ids(tmp_path, spec)) == sorted(f"d-{i}" for i in range(2_500))
        stats = logger.stats()
    assert stats.writer_cpu_s > 0  # the writer's validation and writing are counted
    assert replace(stats, writer_cpu_s=0.0) == LoggerStats(
        accepted=2_500, written=2_500, duplicates=0, quarantined=0, dropped=0, pending=0,
        write_errors=0, unknown_columns=())


def test_close_writes_what_is_queued_without_a_flush(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    logger = DecisionLogger(spec, flush_interval=60)  # neither size nor time would write
    for i in range(100):
        logger.log(decision(i))
    logger.close()
    assert sorted(stored_ids(tmp_path, spec)) == sorted(f"d-{i}" for i in range(100))


def test_a_decision_logged_twice_is_stored_once_and_counted_as_duplicate(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    with DecisionLogger(spec) as logger:
        logger.log(decision(1))
        logger.flush()
        logger.log(decision(1))
        logger.flush()
        stats = logger.stats()
    assert stored_ids(tmp_path, spec) == ["d-1"]
    assert (stats.accepted, stats.written, stats.duplicates) == (2, 1, 1)


def test_log_copies_the_decision_so_the_caller_may_reuse_it(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    row = decision(0)
    with DecisionLogger(spec, flush_interval=60) as logger:
        for i in range(10):
            row["decision_id"] = f"d-{i}"
            logger.log(row)
    assert sorted(stored_ids(tmp_path, spec)) == sorted(f"d-{i}" for i in range(10))


# --- a full queue -------------------------------------------------------------------------


def test_a_full_queue_drops_counts_and_warns_without_waiting_when_on_full_is_drop(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = make_spec(tmp_path)
    store = GatedStore(tmp_path, spec=spec)
    logger = DecisionLogger(spec, store=store, queue_size=4, batch_size=1, flush_interval=0.01,
                            on_full="drop")
    caplog.set_level(logging.WARNING, logger="loopwatch.prediction.logger")
    try:
        assert logger.log(decision(0))
        assert store.entered.wait(5)  # the writer holds d-0 and waits at the gate
        started = time.perf_counter()
        accepted = [logger.log(decision(i)) for i in range(1, 11)]
        elapsed = time.perf_counter() - started
        assert accepted == [True] * 3 + [False] * 7  # d-0 in flight + 3 queued = queue_size
        assert elapsed < 0.5  # dropping never waits on the writer
        assert logger.stats().dropped == 7
        # the first drop is reported at once; the next six wait for the rate limit
        drops = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
        assert drops == ["decision logger of model 'fraud': dropped 1 decisions (1 since start) "
                         "because its queue of 4 was full (on_full='drop'); raise queue_size, "
                         "use on_full='block', or look at the store"]
    finally:
        store.gate.set()
        logger.close(timeout=10)
    stats = logger.stats()
    assert (stats.accepted, stats.written, stats.dropped, stats.pending) == (4, 4, 7, 0)
    assert sorted(stored_ids(tmp_path, spec)) == ["d-0", "d-1", "d-2", "d-3"]
    # closing reports the rest, so the warnings add up to every drop
    drops = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert all(r.levelno == logging.WARNING for r in drops)
    assert "dropped 6 decisions" in drops[-1].getMessage()
    assert "(7 since start)" in drops[-1].getMessage()


def test_a_full_queue_blocks_for_block_timeout_then_drops_and_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = make_spec(tmp_path)
    store = GatedStore(tmp_path, spec=spec)
    logger = DecisionLogger(spec, store=store, queue_size=1, batch_size=1, block_timeout=0.3)
    caplog.set_level(logging.WARNING, logger="loopwatch.prediction.logger")
    try:
        assert logger.log(decision(0))
        assert store.entered.wait(5)
        started = time.perf_counter()
        assert logger.log(decision(1)) is False
        assert 0.25 <= time.perf_counter() - started < 5
        assert logger.stats().dropped == 1
        [warning] = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
        assert "after waiting 0.3 s for room (on_full='block')" in warning
    finally:
        store.gate.set()
        logger.close(timeout=10)
    assert stored_ids(tmp_path, spec) == ["d-0"]


def test_the_default_logger_blocks_rather_than_drops(tmp_path: Path) -> None:
    logger = DecisionLogger(make_spec(tmp_path))
    try:
        assert "on_full='block', block_timeout=10.0" in repr(logger)
    finally:
        logger.close()


@pytest.mark.parametrize("bad", [None, 3, "d-1", [("decision_id", "d-1")]])
def test_log_of_something_that_is_not_a_mapping_is_a_clear_input_error(
    tmp_path: Path, bad: object
) -> None:
    with DecisionLogger(make_spec(tmp_path)) as logger:
        with pytest.raises(InputError) as raised:
            logger.log(bad)  # type: ignore[arg-type]
        assert logger.stats().accepted == 0
    kind = "None" if bad is None else f"a {type(bad).__name__}"
    assert str(raised.value) == ("DecisionLogger.log takes one decision as a mapping of column "
                                 f"name to value (a dict); got {kind}")


# --- batches given as columns ---------------------------------------------------------------


def test_log_columns_stores_the_same_rows_as_log(tmp_path: Path) -> None:
    rows = [decision(i) for i in range(50)]
    rows[7]["amount"] = "seven"  # quarantined on both paths
    rows[9]["country"] = None
    one, batch = tmp_path / "one", tmp_path / "batch"
    with DecisionLogger(make_spec(one)) as logger:
        for row in rows:
            logger.log(row)
    with DecisionLogger(make_spec(batch)) as logger:
        columns = {name: [row[name] for row in rows] for name in rows[0]}
        assert logger.log_columns(columns) is True
    stats = logger.stats()
    assert (stats.accepted, stats.written, stats.quarantined) == (50, 49, 1)
    by_row = ParquetStore.for_spec(make_spec(one)).read("decisions").sort_by("decision_id")
    by_column = ParquetStore.for_spec(make_spec(batch)).read("decisions").sort_by("decision_id")
    assert by_row.equals(by_column)
    [rejected] = ParquetStore.for_spec(make_spec(batch)).read("quarantine").to_pylist()
    assert rejected["reason"].startswith("amount: ") and '"d-7"' in rejected["row"]


def test_rows_and_column_batches_mix_in_one_write(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    with DecisionLogger(spec, flush_interval=60) as logger:  # one write, at close
        logger.log(decision(0))
        logger.log_columns({"decision_id": ["d-1", "d-2"], "timestamp": [T0, T0],
                            "amount": [1.0, 2.0], "score": [0.1, 0.2]})  # no country column
        logger.log(decision(3, extra_column=1))
        stats = logger.stats()
    assert stats.accepted == 4 and stats.unknown_columns == ()
    table = ParquetStore.for_spec(spec).read("decisions").sort_by("decision_id")
    assert table.column("decision_id").to_pylist() == ["d-0", "d-1", "d-2", "d-3"]
    assert table.column("country").to_pylist() == ["fr", None, None, "fr"]
    assert logger.stats().unknown_columns == ("extra_column",)


def test_log_columns_copies_its_lists_and_takes_numpy_arrays(tmp_path: Path) -> None:
    import numpy as np

    spec = make_spec(tmp_path)
    ids = ["a", "b"]
    with DecisionLogger(spec, flush_interval=60) as logger:
        logger.log_columns({"decision_id": ids, "timestamp": [T0, T0],
                            "amount": np.array([1.5, 2.5]), "score": np.array([0.3, 0.4])})
        ids[0] = "changed"
    table = ParquetStore.for_spec(spec).read("decisions").sort_by("decision_id")
    assert table.column("decision_id").to_pylist() == ["a", "b"]
    assert table.column("amount").to_pylist() == [1.5, 2.5]


def test_queued_column_batches_give_full_collections_almost_nothing_to_scan(tmp_path: Path) -> None:
    # the service queues a whole write interval of decisions; held as lists, each column
    # of each batch would stay tracked and every full collection would traverse them all
    spec = make_spec(tmp_path)
    batches, rows = 200, 30
    with DecisionLogger(spec, flush_interval=600) as logger:  # nothing written until close
        gc.collect()
        before = len(gc.get_objects())
        for b in range(batches):
            ids = [f"d-{b}-{i}" for i in range(rows)]
            logger.log_columns({"decision_id": ids, "timestamp": [T0] * rows,
                                "amount": [float(i) for i in range(rows)],
                                "country": ["fr"] * rows, "score": [0.5] * rows})
        gc.collect()
        tracked = len(gc.get_objects()) - before
        assert logger.stats().pending == batches * rows
    # a batch's queue entry may stay tracked, its columns (5 a batch here) may not
    assert tracked <= 2 * batches
    assert logger.stats().written == batches * rows


@pytest.mark.parametrize(("columns", "message"), [
    (None, "DecisionLogger.log_columns takes a mapping of column name to a sequence of values; "
           "got None"),
    ({"decision_id": ["a", "b"], "score": [0.5]},
     "DecisionLogger.log_columns: column 'score' has 1 values but column 'decision_id' has 2; "
     "every column needs one value per decision"),
    ({"decision_id": "ab"}, "DecisionLogger.log_columns: column 'decision_id' must be a sequence "
                            "of values; got a str"),
    ({"score": 0.5}, "DecisionLogger.log_columns: column 'score' must be a sequence of values; "
                     "got a float"),
])
def test_log_columns_names_what_is_wrong_with_a_batch(
    tmp_path: Path, columns: Any, message: str
) -> None:
    with DecisionLogger(make_spec(tmp_path)) as logger:
        with pytest.raises(InputError) as raised:
            logger.log_columns(columns)
        assert logger.stats().accepted == 0
    assert str(raised.value) == message


def test_a_column_batch_waits_for_room_for_all_of_its_rows(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    store = GatedStore(tmp_path, spec=spec)
    logger = DecisionLogger(spec, store=store, queue_size=4, batch_size=1, flush_interval=0.01)
    batch = {"decision_id": [f"b-{i}" for i in range(3)], "timestamp": [T0] * 3,
             "amount": [1.0] * 3, "score": [0.5] * 3}
    try:
        logger.log(decision(0))
        assert store.entered.wait(5)
        logger.log(decision(1))  # 2 of 4 taken: the batch of 3 does not fit
        waiting = threading.Thread(target=logger.log_columns, args=(batch,), daemon=True)
        waiting.start()
        waiting.join(0.3)
        assert waiting.is_alive() and logger.stats().accepted == 2
        store.gate.set()
        waiting.join(5)
        assert not waiting.is_alive()
    finally:
        store.gate.set()
        logger.close(timeout=10)
    assert logger.stats().written == 5 and logger.stats().dropped == 0


def test_a_full_queue_blocks_the_caller_when_on_full_is_block(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    store = GatedStore(tmp_path, spec=spec)
    logger = DecisionLogger(spec, store=store, queue_size=2, batch_size=1, on_full="block",
                            flush_interval=0.01)
    try:
        logger.log(decision(0))
        assert store.entered.wait(5)
        logger.log(decision(1))  # the queue is now full: d-0 in flight, d-1 queued
        third = threading.Thread(target=logger.log, args=(decision(2),), daemon=True)
        third.start()
        third.join(0.3)
        assert third.is_alive(), "log() returned although the queue was full"
        assert logger.stats().accepted == 2
        store.gate.set()
        third.join(5)
        assert not third.is_alive()
        logger.flush(timeout=10)
    finally:
        store.gate.set()
        logger.close(timeout=10)
    stats = logger.stats()
    assert (stats.accepted, stats.written, stats.dropped) == (3, 3, 0)
    assert sorted(stored_ids(tmp_path, spec)) == ["d-0", "d-1", "d-2"]


def test_a_caller_blocked_on_a_full_queue_is_released_by_close(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    store = GatedStore(tmp_path, spec=spec)
    logger = DecisionLogger(spec, store=store, queue_size=1, on_full="block")
    errors: list[BaseException] = []

    def log_one() -> None:
        try:
            logger.log(decision(1))
        except LoggerClosedError as exc:
            errors.append(exc)

    try:
        logger.log(decision(0))
        blocked = threading.Thread(target=log_one, daemon=True)
        blocked.start()
        blocked.join(0.2)
        assert blocked.is_alive()
        closer = threading.Thread(target=logger.close, daemon=True)
        closer.start()
        blocked.join(5)
        assert not blocked.is_alive() and len(errors) == 1
    finally:
        store.gate.set()
        logger.close(timeout=10)
    assert stored_ids(tmp_path, spec) == ["d-0"]


def test_flush_raises_timeout_error_and_keeps_the_decisions(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    store = GatedStore(tmp_path, spec=spec)
    logger = DecisionLogger(spec, store=store)
    try:
        logger.log(decision(0))
        with pytest.raises(TimeoutError, match=r"flush timed out after 0.1s; 1 decisions"):
            logger.flush(timeout=0.1)
        store.gate.set()
        logger.flush(timeout=10)
    finally:
        store.gate.set()
        logger.close(timeout=10)
    assert stored_ids(tmp_path, spec) == ["d-0"]


# --- write failures -----------------------------------------------------------------------


def test_a_failing_store_loses_nothing_and_flush_says_what_happened(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = make_spec(tmp_path)
    store = FlakyStore(tmp_path, spec=spec, failures=3)
    logger = DecisionLogger(spec, store=store, batch_size=10, flush_interval=0.01)
    try:
        for i in range(25):
            logger.log(decision(i))
        with pytest.raises(StoreError, match=r"No space left on device.*retried in the background"
                           ) as raised:
            logger.flush(timeout=10)
        assert "attempts to write decisions to the store failed" in str(raised.value)
        assert isinstance(logger.last_error, StoreError)
        assert isinstance(raised.value.__cause__, StoreError)
        logger.flush(timeout=20)  # waits for the next attempt, which succeeds
        assert logger.last_error is None
    finally:
        logger.close(timeout=20)
    stats = logger.stats()
    assert (stats.written, stats.pending, stats.write_errors) == (25, 0, 3)
    assert sorted(stored_ids(tmp_path, spec)) == sorted(f"d-{i}" for i in range(25))
    assert any("could not write 10 decisions" in r.getMessage() for r in caplog.records)


# --- PII ----------------------------------------------------------------------------------


def pii_spec(root: Path) -> Spec:
    return make_spec(root, features=[
        {"name": "amount", "dtype": "numeric"},
        {"name": "email", "dtype": "categorical", "pii": "hash"},
        {"name": "ssn", "dtype": "categorical", "pii": "drop"},
    ])


def all_text_in_store(root: Path) -> tuple[bytes, str]:
    """Raw bytes of every file under the store, and every decoded Parquet cell as text."""
    raw = b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())
    cells = [str(pq.read_table(p).to_pylist()) for p in root.rglob("*.parquet")]
    return raw, "\n".join(cells)


@pytest.mark.parametrize("key_from", ["argument", "environment"])
def test_hashed_pii_is_keyed_hmac_sha256_and_the_raw_value_is_stored_nowhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    key_from: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    spec = pii_spec(tmp_path)
    email, ssn = "alice.pii@example.org", "078-05-1120"
    if key_from == "environment":
        monkeypatch.setenv("LOOPWATCH_PII_KEY", KEY.decode())
        logger = DecisionLogger(spec, flush_interval=0.01)
    else:
        monkeypatch.delenv("LOOPWATCH_PII_KEY", raising=False)
        logger = DecisionLogger(spec, pii_key=KEY, flush_interval=0.01)
    with logger:
        assert KEY.decode() not in repr(logger)
        logger.log(decision(0, email=email, ssn=ssn))
        # a bad row carries the same PII into quarantine
        logger.log(decision(1, email=email, ssn=ssn, amount="not a number"))
    table = ParquetStore.for_spec(spec).read("decisions")
    assert "ssn" not in table.column_names
    assert table.column("email").to_pylist() == [
        hmac.new(KEY, email.encode(), hashlib.sha256).hexdigest()
    ]
    quarantine = ParquetStore.for_spec(spec).read("quarantine")
    assert quarantine.num_rows == 1
    raw, cells = all_text_in_store(tmp_path)
    for secret in (email, ssn, KEY.decode()):
        assert secret.encode() not in raw
        assert secret not in cells
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert KEY.decode() not in logged and email not in logged


def test_a_hashed_feature_without_a_key_is_refused_at_construction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOOPWATCH_PII_KEY", raising=False)
    with pytest.raises(ValueError, match=r"\['email'\] have pii: hash.*LOOPWATCH_PII_KEY"):
        DecisionLogger(pii_spec(tmp_path))


# --- validation ---------------------------------------------------------------------------


def test_bad_rows_go_to_quarantine_with_reasons_and_good_rows_of_the_batch_land(
    tmp_path: Path,
) -> None:
    spec = make_spec(tmp_path)
    with DecisionLogger(spec, flush_interval=60) as logger:
        logger.log(decision(0))
        logger.log(decision(1, amount="twelve"))
        logger.log({k: v for k, v in decision(2).items() if k != "score"})
        logger.log(decision(3))
        logger.flush()
        stats = logger.stats()
    assert (stats.written, stats.quarantined, stats.pending) == (2, 2, 0)
    assert sorted(stored_ids(tmp_path, spec)) == ["d-0", "d-3"]
    quarantine = ParquetStore.for_spec(spec).read("quarantine")
    assert sorted(str(r) for r in quarantine.column("reason").to_pylist()) == [
        "amount: expected a number; got 'twelve'",
        "score: required value is missing",
    ]
    assert set(quarantine.column("source").to_pylist()) == {"DecisionLogger"}


def test_unknown_columns_are_counted_and_warned_about_once_per_name(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = make_spec(tmp_path)
    with DecisionLogger(spec, batch_size=2, flush_interval=0.01) as logger:
        for i in range(6):
            logger.log(decision(i, browser="firefox", **({"os": "linux"} if i > 3 else {})))
            logger.flush()
        stats = logger.stats()
    assert stats.written == 6
    assert stats.unknown_columns == ("browser", "os")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len([w for w in warnings if "'browser'" in w]) == 1
    assert len([w for w in warnings if "'os'" in w]) == 1
    assert "browser" not in ParquetStore.for_spec(spec).read("decisions").column_names


# --- lifecycle ----------------------------------------------------------------------------


def test_log_after_close_raises_logger_closed_error(tmp_path: Path) -> None:
    logger = DecisionLogger(make_spec(tmp_path))
    logger.close()
    logger.close()  # idempotent
    assert logger.closed
    with pytest.raises(LoggerClosedError, match="'fraud' is closed; create a new DecisionLogger"):
        logger.log(decision(0))


def test_the_context_manager_closes_the_logger(tmp_path: Path) -> None:
    with DecisionLogger(make_spec(tmp_path)) as logger:
        logger.log(decision(0))
    assert logger.closed
    with pytest.raises(LoggerClosedError):
        logger.log(decision(1))


def test_a_dropped_logger_is_collected_and_its_decisions_written(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    logger = DecisionLogger(spec, flush_interval=60)
    thread = logger._writer.thread
    for i in range(10):
        logger.log(decision(i))
    ref = weakref.ref(logger)
    del logger
    gc.collect()
    assert ref() is None, "something keeps the logger alive"
    thread.join(10)
    assert not thread.is_alive()
    assert sorted(stored_ids(tmp_path, spec)) == sorted(f"d-{i}" for i in range(10))


@pytest.mark.parametrize(("option", "value", "message"), [
    ("queue_size", 0, "queue_size must be an integer >= 1; got 0"),
    ("queue_size", 1.5, "queue_size must be an integer >= 1; got 1.5"),
    ("batch_size", 0, "batch_size must be an integer >= 1; got 0"),
    ("batch_size", 200_000, "batch_size must be <= queue_size (100000); got 200000"),
    ("flush_interval", 0, "flush_interval must be a number of seconds > 0; got 0"),
    ("flush_interval", float("inf"), "flush_interval must be a number of seconds > 0; got inf"),
    ("on_full", "wait", "on_full must be one of 'drop', 'block'; got 'wait'"),
    ("block_timeout", -1, "block_timeout must be a number of seconds >= 0; got -1"),
    ("block_timeout", float("nan"), "block_timeout must be a number of seconds >= 0; got nan"),
    ("pii_key", b"", "pii_key must be non-empty bytes; got a bytes (empty)"),
    ("pii_key", "secret", "pii_key must be non-empty bytes; got a str"),
])
def test_options_are_validated_at_construction(
    tmp_path: Path, option: str, value: object, message: str
) -> None:
    with pytest.raises(ValueError) as raised:
        DecisionLogger(make_spec(tmp_path), **{option: value})  # type: ignore[arg-type]
    assert str(raised.value) == message
    assert "secret" not in str(raised.value)


# --- real processes -----------------------------------------------------------------------

CHILD_PRELUDE = """
import sys
from datetime import UTC, datetime, timedelta
from loopwatch.core.spec import spec_from_mapping
from loopwatch.prediction.logger import DecisionLogger
spec = spec_from_mapping({"model": "fraud", "store": sys.argv[1], "features": [
    {"name": "amount", "dtype": "numeric"}, {"name": "country", "dtype": "categorical"}]})
T0 = datetime(2026, 3, 1, 23, 59, 58, tzinfo=UTC)
def decision(prefix, i):
    return {"decision_id": f"{prefix}-{i}", "timestamp": T0 + timedelta(seconds=i % 5),
            "amount": float(i), "country": "fr", "score": 0.5}
"""


def run_child(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CHILD_PRELUDE + textwrap.dedent(code), *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.parametrize("how", ["kept", "dropped"])
def test_decisions_queued_at_exit_are_written_without_close(tmp_path: Path, how: str) -> None:
    code = """
    logger = DecisionLogger(spec, flush_interval=3600)
    for i in range(1000):
        logger.log(decision("x", i))
    if sys.argv[2] == "dropped":
        del logger
    """
    child = run_child(code, str(tmp_path), how)
    assert child.returncode == 0, child.stderr
    assert child.stderr == ""
    ids = stored_ids(tmp_path, make_spec(tmp_path))
    assert sorted(ids) == sorted(f"x-{i}" for i in range(1000))


CRASH_CHILD = """
prefix, n = sys.argv[2], int(sys.argv[3])
logger = DecisionLogger(spec, batch_size=200, flush_interval=0.005)
for i in range(n):
    logger.log(decision(prefix, i))
logger.flush()
print("FLUSHED", n, flush=True)
i = n
while True:  # keep the writer busy until the parent kills us
    logger.log(decision(prefix, i))
    i += 1
    if i % 200 == 0:
        import time; time.sleep(0.001)
"""


@pytest.mark.slow
def test_a_process_killed_mid_write_loses_no_flushed_decision_and_leaves_no_partial_file(
    tmp_path: Path,
) -> None:
    rng = random.Random(20261126)
    confirmed: dict[str, int] = {}
    beyond_flush = 0
    for run, delay in enumerate(rng.uniform(0.02, 0.6) for _ in range(4)):
        prefix = f"r{run}"
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD_PRELUDE + CRASH_CHILD, str(tmp_path), prefix, "3000"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None
            line = child.stdout.readline()
            assert line.startswith("FLUSHED"), (line, child.stderr and child.stderr.read())
            confirmed[prefix] = int(line.split()[1])
            time.sleep(delay)
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.kill()
            child.wait(10)
            for stream in (child.stdout, child.stderr):
                if stream is not None:
                    stream.close()
        assert child.returncode == -signal.SIGKILL

        # (b) every committed file opens; temp files are invisible to readers
        spec = make_spec(tmp_path)
        for path in tmp_path.rglob("*.parquet"):
            pq.read_table(path)
        ids = stored_ids(tmp_path, spec)  # reading the whole store succeeds
        counts = Counter(ids)
        # (c) no duplicates, of confirmed decisions or of those written after the flush
        assert [k for k, c in counts.items() if c > 1] == []
        # (a) every decision confirmed by a flush, of this run and the runs before
        for p, n in confirmed.items():
            missing = [i for i in range(n) if f"{p}-{i}" not in counts]
            assert missing == [], f"run {p}: {len(missing)} flushed decisions missing"
        beyond_flush += sum(1 for k in counts if k.startswith(f"{prefix}-")) - confirmed[prefix]
    # the kills did land while the writer was writing, not before it started
    assert beyond_flush > 0
