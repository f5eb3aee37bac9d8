"""The decision logger's queue and writer thread: bounded, batched, retried, drained at exit.

A :class:`LogWriter` holds what the callers' threads and the writer thread share: the
bounded queue of accepted decisions (single rows, or whole batches as columns), the
counters, and the thread that validates and writes them. Callers offer rows; when the
queue is full they wait for room for at most ``block_timeout`` seconds (``on_full=
"block"``, the default) or not at all (``"drop"``); a decision that is refused is
counted and reported at WARNING (:class:`~loopwatch.prediction.log_drops.DropReport`).

It holds no reference to its :class:`~loopwatch.prediction.logger.DecisionLogger`,
so a logger dropped without ``close()`` can be collected; the at-exit hook drains
every writer still running.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loopwatch.core.schema import Conformed, TableSchema
from loopwatch.core.store import RowSink
from loopwatch.errors import LoggerClosedError, StoreError
from loopwatch.prediction.log_drops import DropReport

__all__ = ["FLUSH_GIVES_UP_AFTER", "ColumnBatch", "LogWriter", "LoggerStats"]

_log = logging.getLogger("loopwatch.prediction.logger")

#: Consecutive failed attempts after which ``flush()`` raises (the retries go on); a
#: flush always waits for at least one attempt made after it was called.
FLUSH_GIVES_UP_AFTER = 3
_FIRST_BACKOFF = 0.05
_MAX_BACKOFF = 5.0
_SOURCE = "DecisionLogger"


@dataclass(frozen=True, slots=True)
class LoggerStats:
    """A consistent snapshot of a :class:`~loopwatch.prediction.logger.DecisionLogger`'s counters.

    ``accepted`` counts decisions taken by ``log()`` or ``log_columns()``; each ends up
    ``written``, a ``duplicate`` of a stored ``decision_id``, ``quarantined`` with a
    reason, or still ``pending``. ``dropped`` decisions were refused because the queue
    was full (with ``on_full="drop"``, or after waiting ``block_timeout`` seconds);
    each drop is reported at WARNING. ``write_errors`` counts failed write attempts
    (each retried); ``unknown_columns`` names the columns seen that the spec does not
    declare. ``writer_cpu_s`` is the CPU time the writer thread spent validating and
    writing (what logging costs the process beyond the callers' enqueues).
    """

    accepted: int
    written: int
    duplicates: int
    quarantined: int
    dropped: int
    pending: int
    write_errors: int
    unknown_columns: tuple[str, ...]
    writer_cpu_s: float = 0.0


@dataclass(frozen=True, slots=True)
class ColumnBatch:
    """Decisions given as columns: ``columns[name][i]`` is decision ``i``'s value of ``name``.

    Tuples: a tuple of scalars is untracked by the garbage collector once a collection has
    seen it, so batches waiting for the next write cost full collections nothing.
    """

    columns: dict[str, tuple[Any, ...]]
    rows: int


Entry = dict[str, Any] | ColumnBatch


class LogWriter:
    """The queue shared by the callers' threads and the writer thread, and the writer loop."""

    def __init__(self, schema: TableSchema, store: RowSink, *, capacity: int, batch_size: int,
                 interval: float, block: bool, block_timeout: float, name: str) -> None:
        self.schema = schema
        self.store = store
        self.capacity = capacity
        self.batch_size = batch_size
        self.interval = interval
        self.block = block
        self.block_timeout = block_timeout
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.wake = threading.Event()
        self.buffer: list[Entry] = []
        self.buffered = 0  # rows in ``buffer``
        self.closed = False  # log() refuses new decisions
        self.stopping = False  # the writer drains the buffer and exits
        self.dead = False
        self.accepted = self.finished = 0
        self.written = self.duplicates = self.quarantined = 0
        self.write_errors = self.failures = 0
        self.last_error: BaseException | None = None
        self.unknown: dict[str, None] = {}
        self.cpu_s = 0.0  # the writer thread's CPU time spent validating and writing
        self.drops = DropReport(model=schema.model, capacity=capacity, block=block,
                                block_timeout=block_timeout)
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        with _ACTIVE_LOCK:
            _ACTIVE.add(self)
        self.thread.start()

    # --- called from the callers' threads ----------------------------------------------

    def offer(self, entry: Entry, rows: int, closed_message: str) -> bool:
        """Queue ``entry`` (``rows`` decisions); ``False`` when it was dropped (and counted)."""
        with self.lock:
            if self.closed:
                raise LoggerClosedError(closed_message)
            full_now = (self.accepted - self.finished + rows > self.capacity
                        and self.accepted > self.finished)
            if full_now and not (self.block and self._wait_for_room(rows, closed_message)):
                warning = self.drops.dropped(rows, self.last_error)
                dropped = True
            else:
                self.buffer.append(entry)
                self.buffered += rows
                self.accepted += rows
                full = self.buffered >= self.batch_size
                dropped = False
        if dropped:
            if warning is not None:
                warning.emit(_log)
            return False
        if full:
            self.wake.set()
        return True

    def _wait_for_room(self, rows: int, closed_message: str) -> bool:
        """Wait (holding the lock) until ``rows`` fit, for at most ``block_timeout`` seconds."""
        deadline = time.monotonic() + self.block_timeout
        self.wake.set()  # the writer may be waiting for a batch to fill: the queue is full now
        while self.accepted - self.finished + rows > self.capacity and self.accepted > self.finished:
            if self.closed:
                raise LoggerClosedError(closed_message)
            if self.dead:
                raise StoreError("the decision logger's writer stopped "
                                 f"({self.last_error!r}); cannot take more decisions")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.changed.wait(remaining)
        return True

    # --- the writer thread ------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:
            # a dead writer must be loud: flush() and log() report it, and it is logged
            with self.lock:
                self.dead = True
                self.last_error = exc
                self.changed.notify_all()
            _log.exception("the decision logger's writer stopped; %d decisions are not written",
                           self.accepted - self.finished)
        finally:
            with _ACTIVE_LOCK:
                _ACTIVE.discard(self)

    def _loop(self) -> None:
        while True:
            if not self.stopping and self.buffered < self.batch_size:
                self.wake.wait(self.interval)
            # clear before taking the buffer, so a wake-up for rows we do not take is kept
            self.wake.clear()
            with self.lock:
                taken, self.buffer, self.buffered = self.buffer, [], 0
                stopping = self.stopping
            for group in _groups(taken, self.batch_size):
                self._write(group)
            self.report_drops(final=stopping and not taken)
            if stopping and not taken:
                return

    def report_drops(self, *, final: bool = False) -> None:
        """Log the drops not yet reported, once the rate limit allows (or now, when ``final``)."""
        with self.lock:
            warning = self.drops.due(time.monotonic(), self.last_error, final=final)
        if warning is not None:
            warning.emit(_log)

    def _write(self, entries: list[Entry]) -> None:
        rows = sum(1 if isinstance(e, dict) else e.rows for e in entries)
        conformed: Conformed | None = None
        delay = _FIRST_BACKOFF
        cpu = time.thread_time()
        while True:
            try:
                if conformed is None:
                    conformed = self._conform(entries, rows)
                result = self.store.write("decisions", conformed)
                break
            except Exception as exc:
                with self.lock:
                    self.failures += 1
                    self.write_errors += 1
                    self.last_error = exc
                    self.changed.notify_all()
                _log.warning("could not write %d decisions (attempt %d); keeping them and "
                             "retrying in %.2fs: %s", rows, self.failures, delay, exc)
                time.sleep(delay)
                delay = min(delay * 2, _MAX_BACKOFF)
        new = [name for name in conformed.unknown_columns if name not in self.unknown]
        for name in new:
            _log.warning("decisions of model %r have a column %r that the spec does not "
                         "declare; the rows are stored without it", self.schema.model, name)
        with self.lock:
            self.cpu_s += time.thread_time() - cpu
            self.unknown.update(dict.fromkeys(new))
            self.written += result.written
            self.duplicates += result.duplicates
            self.quarantined += result.quarantined
            self.finished += rows
            self.failures = 0
            self.last_error = None
            self.changed.notify_all()

    def _conform(self, entries: list[Entry], rows: int) -> Conformed:
        if all(isinstance(e, dict) for e in entries):
            return self.schema.conform_rows(entries, source=_SOURCE)  # type: ignore[arg-type]
        return self.schema.conform_columns(_merge(entries), rows, source=_SOURCE)

    # --- flush and close (any thread) -------------------------------------------------

    def flush(self, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.lock:
            target = self.accepted
            errors_before = self.write_errors
        self.wake.set()
        with self.lock:
            while self.finished < target:
                missing = target - self.finished
                if self.dead:
                    raise StoreError(
                        f"the decision logger's writer stopped ({self.last_error!r}); "
                        f"{missing} decisions are not written") from self.last_error
                # give up only on a failure seen during this call: a flush that follows a
                # failed one waits for the next attempt, which may succeed
                if self.failures >= FLUSH_GIVES_UP_AFTER and self.write_errors > errors_before:
                    raise StoreError(
                        f"flush: {self.failures} attempts to write decisions to the store "
                        f"failed, the last with {self.last_error!r}; {missing} decisions are "
                        "kept in memory and retried in the background; call flush() again"
                    ) from self.last_error
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(
                        f"flush timed out after {timeout}s; {missing} decisions are not yet "
                        "written (they are still queued and will be written)")
                self.changed.wait(remaining)

    def close(self, timeout: float | None) -> None:
        with self.lock:
            self.closed = True
            self.changed.notify_all()  # callers blocked in log() raise LoggerClosedError
        if not self.thread.is_alive() and not self.dead:
            self.report_drops(final=True)
            return  # already closed
        self.flush(timeout)
        self.request_stop()
        self.thread.join()

    def request_stop(self) -> None:
        with self.lock:
            self.closed = True
            self.stopping = True
            self.changed.notify_all()
        self.wake.set()

    def snapshot(self) -> LoggerStats:
        with self.lock:
            return LoggerStats(
                accepted=self.accepted,
                written=self.written,
                duplicates=self.duplicates,
                quarantined=self.quarantined,
                dropped=self.drops.total,
                pending=self.accepted - self.finished,
                write_errors=self.write_errors,
                unknown_columns=tuple(sorted(self.unknown)),
                writer_cpu_s=self.cpu_s,
            )


def _groups(entries: list[Entry], batch_size: int) -> Iterator[list[Entry]]:
    """Consecutive entries in groups of about ``batch_size`` rows (a column batch is never split)."""
    group: list[Entry] = []
    rows = 0
    for entry in entries:
        group.append(entry)
        rows += 1 if isinstance(entry, dict) else entry.rows
        if rows >= batch_size:
            yield group
            group, rows = [], 0
    if group:
        yield group


def _merge(entries: list[Entry]) -> dict[str, list[Any]]:
    """Rows and column batches as one set of columns (a value a row lacks is ``None``)."""
    parts: list[tuple[Mapping[str, Sequence[Any]], int]] = []
    run: list[dict[str, Any]] = []

    def close_run() -> None:
        if run:
            keys = dict.fromkeys(k for row in run for k in row)
            parts.append(({k: [row.get(k) for row in run] for k in keys}, len(run)))
            run.clear()

    for entry in entries:
        if isinstance(entry, dict):
            run.append(entry)
        else:
            close_run()
            parts.append((entry.columns, entry.rows))
    close_run()
    if len(parts) == 1:
        return {name: list(values) for name, values in parts[0][0].items()}
    names = dict.fromkeys(k for columns, _ in parts for k in columns)
    merged: dict[str, list[Any]] = {name: [] for name in names}
    for columns, rows in parts:
        for name, out in merged.items():
            values = columns.get(name)
            out.extend([None] * rows if values is None else values)
    return merged


# Writers whose thread is running; the at-exit hook drains them. Holding the writer
# (never the logger) lets a logger that is dropped without close() be collected.
_ACTIVE: set[LogWriter] = set()
_ACTIVE_LOCK = threading.Lock()
_AT_EXIT_REGISTERED = False


def _close_all_at_exit() -> None:
    with _ACTIVE_LOCK:
        writers = list(_ACTIVE)
    for writer in writers:
        try:
            writer.close(timeout=None)
        except Exception as exc:
            _log.error("at exit: %d decisions could not be written and are lost: %s",
                       writer.accepted - writer.finished, exc)


def register_at_exit() -> None:
    """Drain every running writer at interpreter exit (registered once)."""
    global _AT_EXIT_REGISTERED
    with _ACTIVE_LOCK:
        if not _AT_EXIT_REGISTERED:
            atexit.register(_close_all_at_exit)
            _AT_EXIT_REGISTERED = True
