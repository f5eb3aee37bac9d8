"""The decision logger: a bounded, non-blocking enqueue for serving code.

The caller's thread only copies the decision and appends it to a bounded buffer
under a lock; a background daemon thread validates batches with the shared row
validator (:meth:`~loopwatch.core.schema.TableSchema.conform_rows`, which also
applies the PII rules), and writes them through the store. Batches close by size
(``batch_size``) or by time (``flush_interval``), whichever comes first.

Nothing accepted is lost silently: a failed write keeps its batch and is retried
with backoff, :attr:`DecisionLogger.last_error` says why, and :meth:`DecisionLogger.flush`
raises :class:`~loopwatch.errors.StoreError`. A decision is dropped (and counted)
only when the queue is full and ``on_full="drop"``.
"""

from __future__ import annotations

import atexit
import logging
import math
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

from loopwatch.core.schema import Conformed, TableSchema, decision_schema
from loopwatch.core.spec import Spec
from loopwatch.core.store import RowSink
from loopwatch.errors import LoggerClosedError, StoreError
from loopwatch.settings import Settings

__all__ = ["DecisionLogger", "LoggerStats"]

_log = logging.getLogger(__name__)

OnFull = Literal["drop", "block"]
#: Consecutive failed attempts after which ``flush()`` raises (the retries go on); a
#: flush always waits for at least one attempt made after it was called.
FLUSH_GIVES_UP_AFTER = 3
_FIRST_BACKOFF = 0.05
_MAX_BACKOFF = 5.0
_DEFAULT_BATCH = 10_000
_SOURCE = "DecisionLogger"


@dataclass(frozen=True, slots=True)
class LoggerStats:
    """A consistent snapshot of a :class:`DecisionLogger`'s counters.

    ``accepted`` counts decisions taken by :meth:`DecisionLogger.log`; each ends up
    ``written``, a ``duplicate`` of a stored ``decision_id``, ``quarantined`` with a
    reason, or still ``pending``. ``dropped`` decisions were refused because the
    queue was full. ``write_errors`` counts failed write attempts (each retried);
    ``unknown_columns`` names the columns seen that the spec does not declare.
    """

    accepted: int
    written: int
    duplicates: int
    quarantined: int
    dropped: int
    pending: int
    write_errors: int
    unknown_columns: tuple[str, ...]


class _Writer:
    """The state shared by the caller's threads and the writer thread, and the writer loop.

    It holds no reference to its :class:`DecisionLogger`, so a logger that is dropped
    without ``close()`` can be garbage collected; the at-exit hook drains writers.
    """

    def __init__(self, schema: TableSchema, store: RowSink, *, capacity: int,
                 batch_size: int, interval: float, block: bool, name: str) -> None:
        self.schema = schema
        self.store = store
        self.capacity = capacity
        self.batch_size = batch_size
        self.interval = interval
        self.block = block
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.wake = threading.Event()
        self.buffer: list[dict[str, Any]] = []
        self.closed = False  # log() refuses new decisions
        self.stopping = False  # the writer drains the buffer and exits
        self.dead = False
        self.accepted = self.finished = 0
        self.written = self.duplicates = self.quarantined = self.dropped = 0
        self.write_errors = self.failures = 0
        self.last_error: BaseException | None = None
        self.unknown: dict[str, None] = {}
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        with _ACTIVE_LOCK:
            _ACTIVE.add(self)
        self.thread.start()

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
            if not self.stopping and len(self.buffer) < self.batch_size:
                self.wake.wait(self.interval)
            # clear before taking the buffer, so a wake-up for rows we do not take is kept
            self.wake.clear()
            with self.lock:
                taken, self.buffer = self.buffer, []
                stopping = self.stopping
            for start in range(0, len(taken), self.batch_size):
                self._write(taken[start:start + self.batch_size])
            if stopping and not taken:
                return

    def _write(self, rows: list[dict[str, Any]]) -> None:
        conformed: Conformed | None = None
        delay = _FIRST_BACKOFF
        while True:
            try:
                if conformed is None:
                    conformed = self.schema.conform_rows(rows, source=_SOURCE)
                result = self.store.write("decisions", conformed)
                break
            except Exception as exc:
                with self.lock:
                    self.failures += 1
                    self.write_errors += 1
                    self.last_error = exc
                    self.changed.notify_all()
                _log.warning("could not write %d decisions (attempt %d); keeping them and "
                             "retrying in %.2fs: %s", len(rows), self.failures, delay, exc)
                time.sleep(delay)
                delay = min(delay * 2, _MAX_BACKOFF)
        new = [name for name in conformed.unknown_columns if name not in self.unknown]
        for name in new:
            _log.warning("decisions of model %r have a column %r that the spec does not "
                         "declare; the rows are stored without it", self.schema.model, name)
        with self.lock:
            self.unknown.update(dict.fromkeys(new))
            self.written += result.written
            self.duplicates += result.duplicates
            self.quarantined += result.quarantined
            self.finished += len(rows)
            self.failures = 0
            self.last_error = None
            self.changed.notify_all()

    # --- called from other threads ----------------------------------------------------

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
                dropped=self.dropped,
                pending=self.accepted - self.finished,
                write_errors=self.write_errors,
                unknown_columns=tuple(sorted(self.unknown)),
            )


# Writers whose thread is running; the at-exit hook drains them. Holding the writer
# (never the logger) lets a logger that is dropped without close() be collected.
_ACTIVE: set[_Writer] = set()
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


def _register_at_exit() -> None:
    global _AT_EXIT_REGISTERED
    with _ACTIVE_LOCK:
        if not _AT_EXIT_REGISTERED:
            atexit.register(_close_all_at_exit)
            _AT_EXIT_REGISTERED = True


class DecisionLogger:
    """Log decisions from serving code without waiting on the store.

    :meth:`log` copies the decision and appends it to a bounded queue; a background
    thread validates batches (casting types, hashing ``pii: hash`` features with
    HMAC-SHA256, removing ``pii: drop`` features), writes them through the store,
    and sends rejected rows to quarantine with their reason. At interpreter exit,
    decisions still queued are flushed.

    Parameters
    ----------
    spec
        The model's spec: decision columns, features and their PII rules.
    store
        Where decisions go (a :class:`~loopwatch.core.store.RowSink`); by default the
        Parquet store the spec names (``LOOPWATCH_STORE`` overrides its location).
    queue_size
        Most decisions accepted but not yet written (queued or being written).
    batch_size
        Most decisions written in one batch; a full batch is written at once.
        Default: ``min(10_000, queue_size)``.
    flush_interval
        Seconds after which queued decisions are written even if no batch is full.
    on_full
        When the queue is full: ``"drop"`` the decision and count it (the default;
        the serving thread never waits), or ``"block"`` until there is room.
    pii_key
        Secret for HMAC-SHA256 of ``pii: hash`` features; default
        ``LOOPWATCH_PII_KEY``. It is never logged, printed or shown in ``repr``.

    Raises
    ------
    ValueError
        A parameter is out of range, or the spec has ``pii: hash`` features and
        no key is given.

    Notes
    -----
    A failed write keeps its batch and retries it with exponential backoff (0.05 s
    doubling to 5 s) until it succeeds; :meth:`flush` raises
    :class:`~loopwatch.errors.StoreError` after three consecutive failures (at least
    one of them during the call). The store is idempotent on ``decision_id``, so when
    a batch spanning two days failed after one day's file was committed, the retry
    counts that day's rows as ``duplicates``: ``written + duplicates`` is then exact,
    ``written`` alone an undercount.

    See Also
    --------
    loopwatch.storage.parquet_store.ParquetStore : the default store.

    Examples
    --------
    >>> import tempfile
    >>> from datetime import UTC, datetime
    >>> from loopwatch.core.spec import spec_from_mapping
    >>> tmp = tempfile.TemporaryDirectory()
    >>> spec = spec_from_mapping({"model": "card-fraud", "store": tmp.name,
    ...                           "features": [{"name": "amount", "dtype": "numeric"}]})
    >>> with DecisionLogger(spec, flush_interval=0.1) as logger:
    ...     logger.log({"decision_id": "d-1", "timestamp": datetime.now(UTC),
    ...                 "amount": 12.5, "score": 0.91})
    ...     logger.log({"decision_id": "d-2", "timestamp": datetime.now(UTC),
    ...                 "amount": "twelve", "score": 0.15})
    True
    True
    >>> stats = logger.stats()
    >>> (stats.accepted, stats.written, stats.quarantined, stats.pending)
    (2, 1, 1, 0)
    >>> tmp.cleanup()
    """

    def __init__(
        self,
        spec: Spec,
        *,
        store: RowSink | None = None,
        queue_size: int = 100_000,
        batch_size: int | None = None,
        flush_interval: float = 1.0,
        on_full: OnFull = "drop",
        pii_key: bytes | None = None,
    ) -> None:
        _positive_int("queue_size", queue_size)
        if batch_size is None:
            batch_size = min(_DEFAULT_BATCH, queue_size)
        _positive_int("batch_size", batch_size)
        if batch_size > queue_size:
            raise ValueError(f"batch_size must be <= queue_size ({queue_size}); got {batch_size}")
        if (isinstance(flush_interval, bool) or not isinstance(flush_interval, int | float)
                or not math.isfinite(flush_interval) or flush_interval <= 0):
            raise ValueError(f"flush_interval must be a number of seconds > 0; "
                             f"got {flush_interval!r}")
        if on_full not in ("drop", "block"):
            raise ValueError(f"on_full must be one of 'drop', 'block'; got {on_full!r}")
        if pii_key is not None and (not isinstance(pii_key, bytes) or not pii_key):
            # never echo the value: it is a secret
            raise ValueError(f"pii_key must be non-empty bytes; got a {type(pii_key).__name__}"
                             f"{' (empty)' if not pii_key else ''}")
        settings: Settings | None = None
        if pii_key is None and any(f.pii == "hash" for f in spec.features):
            settings = Settings()
            secret = settings.pii_key
            pii_key = None if secret is None else secret.get_secret_value().encode()
        schema = decision_schema(spec, pii_key=pii_key)
        schema.require_key()
        if store is None:
            # wired here, at the edge, so that passing a store never imports storage
            from loopwatch.storage.parquet_store import ParquetStore

            location = (settings or Settings()).store
            store = ParquetStore.for_spec(spec, location=location, pii_key=pii_key)
        self._spec = spec
        self._options = (f"queue_size={queue_size}, batch_size={batch_size}, "
                         f"flush_interval={flush_interval}, on_full={on_full!r}")
        self._writer = _Writer(schema, store, capacity=queue_size, batch_size=batch_size,
                               interval=float(flush_interval), block=on_full == "block",
                               name=f"loopwatch-decision-logger[{spec.model}]")
        _register_at_exit()
        self._writer.start()
        # on garbage collection without close(): drain in the background, do not block
        weakref.finalize(self, _Writer.request_stop, self._writer).atexit = False

    def log(self, decision: Mapping[str, Any]) -> bool:
        """Queue one decision; ``True`` if accepted, ``False`` if dropped (queue full).

        The decision is copied, so the caller may reuse the mapping. Validation
        happens later, on the writer thread: a bad row goes to quarantine.

        Raises
        ------
        LoggerClosedError
            The logger is closed.
        """
        row = dict(decision)
        w = self._writer
        with w.lock:
            if w.closed:
                raise LoggerClosedError(_closed_message(self._spec.model))
            if w.accepted - w.finished >= w.capacity:
                if not w.block:
                    w.dropped += 1
                    return False
                while w.accepted - w.finished >= w.capacity:
                    if w.closed:
                        raise LoggerClosedError(_closed_message(self._spec.model))
                    if w.dead:
                        raise StoreError("the decision logger's writer stopped "
                                         f"({w.last_error!r}); cannot take more decisions")
                    w.changed.wait()
            w.buffer.append(row)
            w.accepted += 1
            full = len(w.buffer) == w.batch_size
        if full:
            w.wake.set()
        return True

    def flush(self, timeout: float | None = None) -> None:
        """Block until every decision accepted before the call is written or quarantined.

        Raises
        ------
        TimeoutError
            ``timeout`` seconds passed first; the decisions stay queued.
        StoreError
            Writing failed repeatedly (see :attr:`last_error`); the decisions are
            kept in memory and retried in the background.
        """
        self._writer.flush(timeout)

    def close(self, timeout: float | None = None) -> None:
        """Stop taking decisions, flush, and stop the writer thread. Idempotent.

        If the flush raises, the writer keeps retrying; call ``close()`` again.
        """
        self._writer.close(timeout)

    def stats(self) -> LoggerStats:
        """A consistent snapshot of the counters."""
        return self._writer.snapshot()

    @property
    def last_error(self) -> BaseException | None:
        """The error of the last write attempt if it failed; ``None`` once a write succeeds."""
        return self._writer.last_error

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (or the logger is being collected)."""
        return self._writer.closed

    def __enter__(self) -> DecisionLogger:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._writer.closed else "open"
        return f"DecisionLogger(model={self._spec.model!r}, {self._options}, {state})"


def _positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {value!r}")


def _closed_message(model: str) -> str:
    return (f"the decision logger of model {model!r} is closed; "
            "create a new DecisionLogger to log more decisions")
